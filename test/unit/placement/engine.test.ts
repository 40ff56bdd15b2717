import type { Blueprint, Service } from '../../../src/core/blueprint/model';
import { UserError } from '../../../src/core/errors';
import { ConfigReader } from '../../../src/core/placement/config';
import { buildDemand } from '../../../src/core/placement/demand';
import { DEFAULT_CHAIN, explainPlacement, place } from '../../../src/core/placement/engine';
import {
  CLOCKER_STRATEGY_CLASSES,
  createStrategy,
  nativeStrategyName,
  registerStrategy,
  unregisterStrategy,
} from '../../../src/core/placement/registry';
import type { HostSupply } from '../../../src/core/placement/types';
import { GiB, containers, host, running, s } from './helpers';

const hostsOf = (r: ReturnType<typeof place>): string[] => r.placements.map((p) => p.host);

/** A deterministic shuffle (no Math.random in the core's tests either). */
function shuffled<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let x = seed;
  for (let i = a.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('chains', () => {
  test('ties are broken by host id, whatever the input order', () => {
    const r = place({
      hosts: [host('c'), host('a'), host('b')],
      containers: containers('web', 1, [s('breadthFirst')]),
    });
    expect(hostsOf(r)).toEqual(['a']);
    const none = place({
      hosts: [host('z'), host('y')],
      containers: containers('web', 2, [s('maxContainers')]),
    });
    expect(hostsOf(none)).toEqual(['y', 'y']);
  });

  test('determinism: shuffled hosts give the same answer', () => {
    const hosts: HostSupply[] = Array.from({ length: 40 }, (_, i) =>
      host(`h${String(i).padStart(2, '0')}`, {
        cpus: 2 + (i % 4),
        memoryBytes: (2 + (i % 5)) * GiB,
        labels: { zone: `z${i % 3}` },
        containers: running(i % 6, 'other', `s${i % 2}`, 0.25, 256 * 1024 ** 2),
        cpuUsage: (i % 10) / 20,
      }),
    );
    const chain = [
      s('memoryAvailable'),
      s('cpuCoresAvailable'),
      s('maxContainers'),
      s('cpuUsage', { maxCpu: 0.4 }),
      s('labelConstraint', { label: 'zone', operator: '!=', value: 'z2' }),
      s('binPack'),
      s('breadthFirst', { weight: 2 }),
    ];
    const demand = [
      ...containers('web', 30, chain, { cpus: 0.5, memoryBytes: 512 * 1024 ** 2 }, [
        { negate: true, target: 'service', hard: false, weight: 10 },
      ]),
      ...containers('db', 10, chain, { cpus: 1, memoryBytes: GiB }, [
        { negate: true, target: 'service', hard: true, weight: 1 },
      ]),
    ];
    const base = place({ hosts, containers: demand });
    expect(base.placements.length).toBeGreaterThan(30);
    for (const seed of [1, 2, 3]) {
      expect(place({ hosts: shuffled(hosts, seed), containers: demand })).toEqual(base);
    }
  });

  test('every scorer counts (weighted mean): the last comparator does not silently win', () => {
    const hosts = [
      host('a', { containers: running(4), cpuUsage: 0 }),
      host('b', { containers: running(0), cpuUsage: 0.45 }),
    ];
    // breadthFirst: a 0.2, b 1; lowestCpuUsage: a 1, b 0.55.
    const even = place({ hosts, containers: containers('web', 1, [s('breadthFirst'), s('lowestCpuUsage')]) });
    expect(hostsOf(even)).toEqual(['b']); // (1 + 0.55)/2 > (0.2 + 1)/2, though lowestCpuUsage is last
    expect(even.placements[0].score).toBeCloseTo(0.775);
    const weighted = place({
      hosts,
      containers: containers('web', 1, [s('breadthFirst'), s('lowestCpuUsage', { weight: 4 })]),
    });
    expect(hostsOf(weighted)).toEqual(['a']); // (0.2 + 4) / 5 = 0.84 > (1 + 2.2) / 5 = 0.64
  });

  test('filters run in chain order and each counts only what it removed', () => {
    const hosts = [
      host('a', { containers: running(8) }),
      host('b', { containers: running(8) }),
      host('c', { memoryBytes: GiB }),
      host('d', { memoryBytes: GiB, containers: running(8) }),
    ];
    const r = place({
      hosts,
      containers: containers('web', 1, [s('maxContainers'), s('memoryAvailable')], { memoryBytes: 2 * GiB }),
    });
    expect(r.unplaced[0].reason).toBe(
      'no host fits web-1: maxContainers excluded 3 hosts, memory exhausted on 1 host',
    );
    expect(r.unplaced[0].metrics.filters.map((f) => [f.strategy, f.excluded])).toEqual([
      ['maxContainers', 3],
      ['memoryAvailable', 1],
    ]);
  });

  test('the default chain: memory, cpu cores, maxContainers (110, like kubelet maxPods), breadthFirst', () => {
    expect(DEFAULT_CHAIN.map((x) => x.name)).toEqual([
      'memoryAvailable',
      'cpuCoresAvailable',
      'maxContainers',
      'breadthFirst',
    ]);
    const hosts = [
      host('a', { memoryBytes: GiB }),
      host('b', { containers: running(110) }),
      host('c', { containers: running(1) }),
    ];
    expect(DEFAULT_CHAIN.find((x) => x.name === 'maxContainers')?.config).toEqual({ maxContainers: 110 });
    const r = place({ hosts, containers: containers('web', 2, [], { memoryBytes: 2 * GiB }) });
    expect(hostsOf(r)).toEqual(['c', 'c']);
  });

  test('empty inventory', () => {
    const r = place({ hosts: [], containers: containers('web', 1, []) });
    expect(r.unplaced[0].reason).toBe('no host fits web-1: no hosts in the inventory');
  });
});

describe('explanations', () => {
  test('metrics of a placement: evaluated, filtered, top scores with components', () => {
    const hosts = [
      host('a', { containers: running(8) }),
      host('b', { containers: running(2) }),
      host('c'),
      host('d', { containers: running(1) }),
    ];
    const r = place(
      { hosts, containers: containers('web', 1, [s('maxContainers'), s('breadthFirst')]) },
      { explain: true },
    );
    const p = r.placements[0];
    expect(p.host).toBe('c');
    expect(p.metrics.evaluated).toBe(4);
    expect(p.metrics.filters).toEqual([
      { strategy: 'maxContainers', excluded: 1, reason: 'maxContainers excluded 1 host' },
    ]);
    expect(p.metrics.topScores).toEqual([
      { host: 'c', score: 1, components: { breadthFirst: 1 } },
      { host: 'd', score: 0.5, components: { breadthFirst: 0.5 } },
      { host: 'b', score: 1 / 3, components: { breadthFirst: 1 / 3 } },
    ]);
    expect(explainPlacement(p)).toBe(
      '4 hosts evaluated; maxContainers excluded 1 host; top: c 1 (breadthFirst 1), d 0.5 (breadthFirst 0.5), b 0.333 (breadthFirst 0.333)',
    );
  });
});

describe('provisioning', () => {
  const prov = (config: Record<string, unknown> = {}) =>
    s('provisioning', { profile: 'small', cpus: 2, memory: '4GiB', labels: { pool: 'auto' }, ...config });

  test('adds hosts of the profile when nothing fits, up to maxNewHosts, then places onto them', () => {
    const hosts = [host('a', { containers: running(2) })];
    const chain = [s('maxContainers', { maxContainers: 2 }), s('breadthFirst'), prov({ maxNewHosts: 2 })];
    const r = place({ hosts, containers: containers('web', 5, chain) });
    expect(hostsOf(r)).toEqual(['new-small-1', 'new-small-1', 'new-small-2', 'new-small-2']);
    expect(r.placements[0].metrics.provisioned).toBe('new-small-1');
    expect(r.placements[1].metrics.provisioned).toBeUndefined();
    expect(r.provision).toEqual([
      {
        profile: 'small',
        count: 2,
        cpus: 2,
        memoryBytes: 4 * GiB,
        labels: { pool: 'auto' },
        hosts: ['new-small-1', 'new-small-2'],
      },
    ]);
    expect(r.unplaced[0].reason).toBe(
      "no host fits web-5: maxContainers excluded 3 hosts; provisioning: limit of 2 new 'small' (2 cpus, 4GiB) hosts reached",
    );
  });

  test('does not add a host that would not fit either', () => {
    const r = place({
      hosts: [host('a', { memoryBytes: GiB })],
      containers: containers('web', 1, [s('memoryAvailable'), prov()], { memoryBytes: 8 * GiB }),
    });
    expect(r.provision).toEqual([]);
    expect(r.unplaced[0].reason).toBe(
      "no host fits web-1: memory exhausted on 1 host; provisioning: a new 'small' (2 cpus, 4GiB) host would not fit either (memory exhausted on 1 host)",
    );
  });

  test('maxHosts caps the pool; new ids skip ids in use', () => {
    const hosts = [host('new-small-1', { containers: running(8) })];
    const r = place({
      hosts,
      containers: containers('web', 10, [s('maxContainers'), prov({ maxHosts: 2 })]),
    });
    expect(r.provision[0].hosts).toEqual(['new-small-2']);
    expect(r.placements).toHaveLength(8);
    expect(r.unplaced[0].reason).toMatch(/provisioning: pool is at maxHosts \(2\)$/);
  });
});

describe('custom strategies and the registry', () => {
  afterEach(() => unregisterStrategy('evenIds'));

  test('a registered strategy filters and scores like a built-in', () => {
    registerStrategy('evenIds', (config: ConfigReader) => {
      const prefer = config.string('prefer', 'high');
      config.done();
      return {
        filter: {
          accepts: (h, ctx) => Number(ctx.state.ids[h].slice(1)) % 2 === 0,
          explain: (n) => `odd ids on ${n} hosts`,
        },
        scorer: { weight: 1, score: (h) => (prefer === 'high' ? h : -h) },
      };
    });
    const hosts = [host('h1'), host('h2'), host('h3'), host('h4')];
    const r = place({ hosts, containers: containers('web', 1, [s('evenIds')]) });
    expect(hostsOf(r)).toEqual(['h4']);
    const low = place({ hosts, containers: containers('web', 1, [s('evenIds', { prefer: 'low' })]) });
    expect(hostsOf(low)).toEqual(['h2']);
    const none = place({ hosts: [host('h1')], containers: containers('web', 1, [s('evenIds')]) });
    expect(none.unplaced[0].reason).toBe('no host fits web-1: odd ids on 1 hosts');
    expect(() => registerStrategy('maxContainers', () => ({}))).toThrow(/built-in/);
    expect(() => registerStrategy('Bad-Name', () => ({}))).toThrow(/lowerCamel/);
  });

  test("Clocker's class names map to native names", () => {
    expect(CLOCKER_STRATEGY_CLASSES['brooklyn.location.docker.strategy.MaxContainersPlacementStrategy']).toBe(
      'maxContainers',
    );
    expect(CLOCKER_STRATEGY_CLASSES['brooklyn.location.docker.strategy.affinity.AffinityStrategy']).toBe(
      'affinity',
    );
    expect(nativeStrategyName('clocker.docker.location.strategy.basic.BreadthFirstPlacementStrategy')).toBe(
      'breadthFirst',
    );
    expect(nativeStrategyName('clocker.docker.location.strategy.DepthFirstPlacementStrategy')).toBe(
      'depthFirst',
    );
    expect(nativeStrategyName('brooklyn.location.docker.strategy.CpuUsagePlacementStrategy')).toBe(
      'cpuUsage',
    );
    expect(nativeStrategyName('brooklyn.location.docker.strategy.ProvisioningStrategy')).toBe('provisioning');
    expect(nativeStrategyName('binPack')).toBe('binPack');
    expect(nativeStrategyName('com.example.Nope')).toBeUndefined();
    // a chain may use a class name directly, with Clocker's config keys
    const r = place({
      hosts: [host('a', { containers: running(2) }), host('b', { containers: running(3) })],
      containers: containers('web', 1, [
        s('brooklyn.location.docker.strategy.MaxContainersPlacementStrategy', {
          'docker.container.cluster.maxSize': 3,
        }),
      ]),
    });
    expect(hostsOf(r)).toEqual(['a']);
  });
});

describe('configuration errors are one located line', () => {
  const err = (
    name: string,
    config: Record<string, unknown>,
    where = "bp.yaml:4:5: service 'web'",
  ): string => {
    try {
      createStrategy(name, config, where);
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  test('wrong types, ranges, unknown keys and names', () => {
    expect(err('maxContainers', { maxContainers: 'lots' })).toBe(
      `bp.yaml:4:5: service 'web': placement strategy 'maxContainers': key 'maxContainers' must be an integer >= 1, got "lots"`,
    );
    expect(err('cpuUsage', { maxCpu: 2 })).toBe(
      "bp.yaml:4:5: service 'web': placement strategy 'cpuUsage': key 'maxCpu' must be a number between 0 and 1, got 2",
    );
    expect(err('breadthFirst', { wieght: 2 })).toBe(
      "bp.yaml:4:5: service 'web': placement strategy 'breadthFirst': unknown key 'wieght' (known: weight)",
    );
    expect(err('labelConstraint', { label: 'zone', operator: 'like', value: 'x' })).toMatch(
      /key 'label.operator' must be one of =, ==, !=, in, not_in, regexp, is_set, is_not_set, got "like"$/,
    );
    expect(err('labelConstraint', { label: 'zone', operator: 'regexp', value: '(' })).toMatch(
      /valid regular expression/,
    );
    expect(err('provisioning', { memory: 'lots' })).toMatch(/key 'memory' must be a size like 8GiB/);
    expect(err('affinity', { rules: ['MAYBE db'] })).toMatch(/key 'rules\[0\]' must be a rule like/);
    expect(err('teleport', {})).toMatch(
      /^bp\.yaml:4:5: service 'web': unknown placement strategy 'teleport' \(known: maxContainers, /,
    );
  });

  test('errors from a blueprint name the service, its position and the strategy', () => {
    const svc = (over: Partial<Service>): Service => ({
      id: 'web',
      name: 'web',
      type: 'cluster',
      replicas: 2,
      source: { kind: 'image', image: 'busybox' },
      env: {},
      ports: [],
      volumes: [],
      resources: {},
      restart: 'no',
      dnsNames: [],
      placement: [],
      affinity: [],
      dependsOn: [],
      policies: [],
      position: { file: 'shop.yaml', line: 7, col: 5 },
      ...over,
    });
    const bp = (services: Service[], placement = [] as Blueprint['placement']): Blueprint => ({
      app: 'shop',
      name: 'shop',
      locations: [],
      placement,
      secrets: [],
      services,
    });
    expect(() =>
      buildDemand(bp([svc({ placement: [s('maxContainers', { maxContainers: 'lots' })] })])),
    ).toThrow(
      `shop.yaml:7:5: service 'web': placement strategy 'maxContainers': key 'maxContainers' must be an integer >= 1, got "lots"`,
    );
    expect(() => buildDemand(bp([svc({})], [s('nope')]))).toThrow(
      /^blueprint placement \(service 'web'\): unknown placement strategy 'nope'/,
    );
  });
});
