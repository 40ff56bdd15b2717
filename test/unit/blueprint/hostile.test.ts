/**
 * Hostile and careless blueprints (issue 17): each gets located problems, within the bounds of
 * `limits.ts`, instead of exhausting memory or the stack, or slipping past a check.
 */
import { MAX_BLUEPRINT_BYTES, MAX_REPLICAS, MAX_SERVICES } from '../../../src/core/blueprint/limits';
import { parse, problems, yaml } from './helpers';

const head = ['id: shop', 'services:'];

/** Eight levels, each formatString using the one before nine times: 9^8 copies once expanded. */
function aliasBomb(levels: number): string {
  const fmt = `"${'%s'.repeat(9)}"`;
  const lines = [...head, '  - id: web', '    image: berth/busybox:1', '    env:'];
  lines.push(`      L0: &l0 {$brooklyn:formatString: [${fmt}, ${Array(9).fill('x').join(', ')}]}`);
  for (let i = 1; i < levels; i++)
    lines.push(
      `      L${i}: &l${i} {$brooklyn:formatString: [${fmt}, ${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]}`,
    );
  return yaml(...lines);
}

describe('alias bombs and nesting are bounded, with a location', () => {
  it('the 8-level alias bomb inside $brooklyn:formatString (931 bytes in issue 17) is refused where it crosses the bound', () => {
    const text = aliasBomb(8);
    expect(text.length).toBeLessThan(1000);
    // Levels 0..4 add 9+81+...+6561 nodes each; the first alias of level 5 (line 11) crosses 100,000.
    expect(problems(text)).toEqual([
      "11:63: aliases expand the blueprint by more than 100000 nodes or 4 MiB (the bound against alias bombs); '*l4' here adds 88573 nodes",
    ]);
  });

  it('ordinary anchors (one env shared by many services) still work', () => {
    const services = Array.from({ length: 50 }, (_, i) => [
      `  - id: s${i}`,
      '    image: a',
      '    env: *common',
    ]);
    const shared = parse(
      yaml(
        'id: shop',
        'services:',
        '  - id: base',
        '    image: a',
        '    env: &common {A: "1", B: {$brooklyn:formatString: ["%s-%s", "b", "c"]}}',
        ...services.flat(),
      ),
    );
    expect(shared.services).toHaveLength(51);
    expect(shared.services.every((s) => s.env.A === '1' && s.env.B === 'b-c')).toBe(true);
  });

  it('aliases without an anchor, and aliases inside what they name, are located', () => {
    expect(problems(yaml(...head, '  - id: web', '    image: *nope'))).toEqual([
      "4:12: alias '*nope' has no anchor '&nope' before it",
    ]);
    expect(
      problems(
        yaml(...head, '  - id: web', '    image: a', '    env: {X: &f {$brooklyn:formatString: ["%s", *f]}}'),
      ),
    ).toEqual(["5:49: alias '*f' refers to a node that contains it"]);
  });

  it('1,000 levels of nesting are a located error, not a stack overflow', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      `    env: {X: ${'['.repeat(1000)}${']'.repeat(1000)}}`,
    );
    expect(problems(text)).toEqual(['5:74: nesting deeper than 64 levels (the bound on a blueprint)']);
    const block = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      ...Array.from({ length: 100 }, (_, i) => `${' '.repeat(4 + 2 * i)}k${i}:`),
    );
    expect(problems(block)).toEqual([expect.stringMatching(/^\d+:\d+: nesting deeper than 64 levels/)]);
  });

  it('nesting built from a chain of aliases is bounded too', () => {
    const chain = Array.from({ length: 80 }, (_, i) => `  a${i + 1}: &a${i + 1} [*a${i}]`);
    const text = yaml('id: shop', 'x:', '  a0: &a0 [x]', ...chain, 'services: [{id: web, image: a}]');
    expect(problems(text)).toEqual([
      expect.stringMatching(/^\d+:\d+: nesting deeper than 64 levels once aliases are expanded/),
    ]);
  });

  it('a blueprint over the size bound is refused at 1:1 before it is parsed', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      `    description: "${'x'.repeat(MAX_BLUEPRINT_BYTES)}"`,
    );
    expect(problems(text)).toEqual(['1:1: the blueprint is larger than 1024 KiB (the bound on a blueprint)']);
  });
});

describe('replicas and services are bounded', () => {
  it('replicas / initialSize beyond the bound', () => {
    expect(
      problems(
        yaml(...head, '  - id: web', '    type: cluster', '    initialSize: 100000000', '    image: a'),
      ),
    ).toEqual([
      `5:18: key 'initialSize' in service 'web' must be a whole number between 0 and ${MAX_REPLICAS}, got the number 100000000`,
    ]);
    expect(
      parse(yaml(...head, '  - id: web', `    replicas: ${MAX_REPLICAS}`, '    image: a')).services[0]
        .replicas,
    ).toBe(MAX_REPLICAS);
  });

  it("an autoscaler's pool size beyond the bound", () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    type: cluster',
      '    initialSize: 1',
      '    image: a',
      '    policies:',
      '      - type: autoscaler',
      '        metric: requests',
      '        metricUpperBound: 10',
      '        maxPoolSize: 5000',
    );
    expect(problems(text)).toEqual([
      `8:9: policy 'autoscaler' in service 'web': 'maxPoolSize' (5000) must not exceed ${MAX_REPLICAS} (the bound on instances of a service)`,
    ]);
  });

  it('more services than the bound: located at the first one too many', () => {
    const services = Array.from({ length: MAX_SERVICES + 1 }, (_, i) => `  - {id: s${i}, image: a}`);
    expect(problems(yaml(...head, ...services))).toEqual([
      `${MAX_SERVICES + 3}:5: more than ${MAX_SERVICES} services (the bound on a blueprint)`,
    ]);
  });
});

describe('keys are looked up without the prototype', () => {
  it('built-in names are unknown keys on a service, in resources and in brooklyn.config', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    constructor: 1',
      '    toString: 2',
      '    resources: {valueOf: 1, hasOwnProperty: 2}',
      '    brooklyn.config: {__proto__: 3, constructor: 4}',
    );
    expect(problems(text)).toEqual([
      "5:5: unknown key 'constructor' in service 'web'",
      "6:5: unknown key 'toString' in service 'web'",
      "7:17: unknown key 'valueOf' in 'resources' in service 'web'",
      "7:29: unknown key 'hasOwnProperty' in 'resources' in service 'web'",
      "8:23: unknown key '__proto__' in service 'web'",
      "8:37: unknown key 'constructor' in service 'web'",
    ]);
  });

  it("'type: constructor' is refused like 'type: frobnicate'", () => {
    const message = (type: string) =>
      problems(yaml(...head, '  - id: web', `    type: ${type}`, '    image: a'));
    expect(message('constructor')).toEqual([
      expect.stringMatching(/^4:11: unknown type 'constructor' in service 'web'/),
    ]);
    expect(message('frobnicate')).toEqual([
      expect.stringMatching(/^4:11: unknown type 'frobnicate' in service 'web'/),
    ]);
    const policy = yaml(...head, '  - id: web', '    image: a', '    policies: [{type: toString}]');
    expect(problems(policy)).toEqual([expect.stringMatching(/^5:23: unsupported policy type 'toString'/)]);
  });

  it("'env: {__proto__: x}' is one variable, not 'set twice'", () => {
    const bp = parse(yaml(...head, '  - id: web', '    image: a', '    env: {__proto__: x, constructor: y}'));
    const env = bp.services[0].env;
    expect(Object.keys(env)).toEqual(['__proto__', 'constructor']);
    expect(Object.hasOwn(env, '__proto__') && env['__proto__']).toBe('x');
    expect(JSON.parse(JSON.stringify(env))).toEqual(JSON.parse('{"__proto__": "x", "constructor": "y"}'));
    expect(
      problems(yaml(...head, '  - id: web', '    image: a', '    env: {A: 1}', '    shell.env: {A: 2}')),
    ).toEqual(["6:20: env 'A' in service 'web' is set twice"]);
  });

  it('a Brooklyn attribute named after a built-in is passed through as written', () => {
    const bp = parse(
      yaml(
        ...head,
        '  - id: web',
        '    image: a',
        '    env: {X: $brooklyn:attributeWhenReady("constructor")}',
      ),
    );
    expect(bp.services[0].env.X).toBe('${web.constructor}');
  });
});

describe('image and dockerfile', () => {
  it.each([
    [
      'image: 0',
      "4:12: key 'image' in service 'web' must be an image reference like 'berth/busybox:1', got the number 0",
    ],
    [
      'image: true',
      "4:12: key 'image' in service 'web' must be an image reference like 'berth/busybox:1', got the boolean true",
    ],
    [
      'docker.image.name: 1.5',
      "4:24: key 'docker.image.name' in service 'web' must be an image reference like 'berth/busybox:1', got the number 1.5",
    ],
    [
      'dockerfile: ~',
      "4:5: key 'dockerfile' in service 'web' must be a Dockerfile URL, a path, or inline Dockerfile text, got nothing",
    ],
    [
      'dockerfile: 12',
      "4:17: key 'dockerfile' in service 'web' must be a Dockerfile URL, a path, or inline Dockerfile text, got the number 12",
    ],
    ['dockerfile: {path: ~}', "4:18: key 'path' in service 'web' must be a string, got nothing"],
  ])('%s is refused', (line, expected) => {
    expect(problems(yaml(...head, '  - id: web', `    ${line}`))).toEqual([expected]);
  });

  it("a relative Dockerfile path may not leave the blueprint's folder; an absolute one is taken as written", () => {
    const dockerfile = (value: string) => problems(yaml(...head, '  - id: web', `    dockerfile: ${value}`));
    expect(dockerfile('../../../../etc/passwd')).toEqual([
      "4:17: key 'dockerfile' in service 'web': path '../../../../etc/passwd' leaves the blueprint's folder; a relative Dockerfile path must stay inside it (give an absolute path to use a Dockerfile elsewhere)",
    ]);
    expect(dockerfile('docker/../../Dockerfile')).toHaveLength(1);
    expect(dockerfile('{path: ../Dockerfile}')).toHaveLength(1);
    for (const ok of ['Dockerfile', './docker/../Dockerfile', 'a/b/../../Dockerfile', '/srv/app/Dockerfile'])
      expect(dockerfile(ok)).toEqual([]);
  });
});

describe('messages stay printable', () => {
  it('a badly broken file reports its first 20 YAML errors and how many more', () => {
    const found = problems(yaml('id: shop', 'services:', ...Array.from({ length: 40 }, () => '  - a: b: c')));
    expect(found).toHaveLength(21);
    expect(found.slice(0, 20).every((p) => /^\d+:\d+: invalid YAML: /.test(p))).toBe(true);
    expect(found[20]).toMatch(/^\d+:\d+: invalid YAML: \d+ more errors from here on, not shown$/);
  });

  it('control characters in a key are escaped, and a huge key is cut', () => {
    expect(problems(yaml(...head, '  - id: web', '    image: a', '    "a\\u001b[31mb\\rc": 1'))).toEqual([
      "5:5: unknown key 'a\\x1b[31mb\\x0dc' in service 'web'",
    ]);
    const [long] = problems(yaml(...head, '  - id: web', '    image: a', `    ${'k'.repeat(5000)}: 1`));
    expect(long.length).toBeLessThan(420);
  });
});
