import { parse, problems, yaml } from './helpers';
import type { Service } from '../../../src/core/blueprint/model';
import { mountsFor, namedVolumes, volumeKind } from '../../../src/core/volumes';

const one = (...lines: string[]): Service => parse(yaml('id: app', 'services:', ...lines)).services[0];

describe('pull policy and registry credentials', () => {
  it('pull: missing|always|never (compose spelling too); absent means missing and is left out', () => {
    expect(one('  - id: a', '    image: x/y:1').pull).toBeUndefined();
    expect(one('  - id: a', '    image: x/y:1', '    pull: always').pull).toBe('always');
    expect(one('  - id: a', '    image: x/y:1', '    pull_policy: never').pull).toBe('never');
    expect(
      problems(yaml('id: app', 'services:', '  - id: a', '    image: x/y:1', '    pull: sometimes')),
    ).toEqual([
      "5:11: key 'pull' in service 'a' must be one of missing, always, never, got the string 'sometimes'",
    ]);
  });

  it('registryAuth names a declared secret, which the deploy then resolves', () => {
    const bp = parse(
      yaml(
        'id: app',
        'secrets: [reg]',
        'services:',
        '  - id: a',
        '    image: registry.example.com/team/api:2.3',
        '    registryAuth: ${secret:reg}',
      ),
    );
    expect(bp.services[0].registryAuth).toBe('reg');
    expect(bp.secrets).toEqual(['reg']);
    expect(one('  - id: a', '    image: x/y:1', '    registryAuth: $secret:reg').registryAuth).toBe('reg');
  });

  it('credentials in clear are refused without being echoed; an undeclared secret is named', () => {
    const found = problems(
      yaml('id: app', 'services:', '  - id: a', '    image: x/y:1', '    registryAuth: alice:hunter2'),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^5:19: key 'registryAuth' in service 'a' must name a secret/);
    expect(found[0]).not.toContain('hunter2');
    expect(
      problems(
        yaml(
          'id: app',
          'secrets: [x]',
          'services:',
          '  - id: a',
          '    image: x/y:1',
          '    registryAuth: ${secret:reg}',
        ),
      ),
    ).toEqual(["6:19: secret 'reg' is not declared in 'secrets'"]);
  });

  it('pull and registryAuth apply to image sources only', () => {
    expect(
      problems(yaml('id: app', 'services:', '  - id: a', '    launch.command: sleep 1', '    pull: always')),
    ).toEqual([
      "5:5: key 'pull' in service 'a' applies to an image source ('image' or 'docker:IMAGE:TAG'); images Berth builds go through the pool's registry",
    ]);
  });
});

describe('volumes: named, bind, anonymous, and Clocker mappings', () => {
  it('each form, and what one instance mounts', () => {
    const s = one(
      '  - id: db',
      '    image: x/y:1',
      '    volumes: [data:/var/lib/db, /srv/conf:/etc/db:ro, /scratch]',
      '    volumeMappings: {/srv/logs: /var/log/db}',
    );
    expect(s.volumes.map(volumeKind)).toEqual(['named', 'bind', 'anonymous', 'bind']);
    expect(namedVolumes(s.volumes)).toEqual(['data']);
    const mounts = mountsFor('shop', 'db', 'db-2', s.volumes);
    expect(mounts[0]).toEqual({
      type: 'volume',
      source: 'berth-shop-db-2-data',
      target: '/var/lib/db',
      readOnly: false,
      labels: {
        'berth.managed': 'true',
        'berth.kind': 'volume',
        'berth.app': 'shop',
        'berth.service': 'db',
        'berth.instance': 'db-2',
        'berth.volume': 'data',
      },
    });
    expect(mounts.slice(1)).toEqual([
      { type: 'bind', source: '/srv/conf', target: '/etc/db', readOnly: true },
      { type: 'volume', target: '/scratch', readOnly: false },
      { type: 'bind', source: '/srv/logs', target: '/var/log/db', readOnly: false },
    ]);
    // Another instance's named volume is its own; binds are shared.
    expect(mountsFor('shop', 'db', 'db-1', s.volumes)[0].source).toBe('berth-shop-db-1-data');
  });

  it('a source that is neither an absolute path nor a volume name, and two mounts on one path', () => {
    expect(
      problems(yaml('id: app', 'services:', '  - id: a', '    image: x/y:1', '    volumes: [./data:/x]')),
    ).toEqual([
      "5:15: volume source './data' in 'volumes' in service 'a' is neither an absolute host path (a bind mount, like '/srv/data') nor a volume name (letters, digits, '_', '.', '-', like 'data')",
    ]);
    expect(
      problems(
        yaml('id: app', 'services:', '  - id: a', '    image: x/y:1', '    volumes: [a:/x, /srv/b:/x/]'),
      ),
    ).toEqual(["5:5: two volumes mount on '/x' in service 'a'"]);
    // A malformed volume keeps its located error.
    expect(
      problems(yaml('id: app', 'services:', '  - id: a', '    image: x/y:1', '    volumes: [data]')),
    ).toEqual([
      "5:15: key 'volumes' in service 'a' must be a list of volumes, each a volume like '/data', 'name:/data' or '/host/path:/data:ro', got the string 'data'",
    ]);
  });
});
