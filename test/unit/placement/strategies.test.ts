import { place } from '../../../src/core/placement/engine';
import type { HostSupply } from '../../../src/core/placement/types';
import { GiB, containers, host, running, s } from './helpers';

const hostsOf = (r: ReturnType<typeof place>): string[] => r.placements.map((p) => p.host);

describe('filters alone', () => {
  test('maxContainers (default 8) excludes full hosts', () => {
    const hosts = [host('a', { containers: running(8) }), host('b', { containers: running(7) })];
    const r = place({ hosts, containers: containers('web', 2, [s('maxContainers')]) });
    expect(r.placements.map((p) => p.host)).toEqual(['b']);
    expect(r.unplaced[0].reason).toBe('no host fits web-2: maxContainers excluded 2 hosts');
  });

  test('maxContainers config value', () => {
    const hosts = [host('a', { containers: running(2) }), host('b', { containers: running(3) })];
    const r = place({ hosts, containers: containers('web', 1, [s('maxContainers', { maxContainers: 3 })]) });
    expect(hostsOf(r)).toEqual(['a']);
  });

  test('cpuUsage excludes hosts at or above maxCpu (default 0.5), and run placements add load', () => {
    const hosts = [host('a', { cpuUsage: 0.5 }), host('b', { cpuUsage: 0.3, cpus: 4 })];
    const chain = [s('cpuUsage')];
    const r = place({ hosts, containers: containers('web', 3, chain, { cpus: 0.5 }) });
    // b: 0.3 -> 0.425 -> 0.55 (then excluded)
    expect(hostsOf(r)).toEqual(['b', 'b']);
    expect(r.unplaced[0].reason).toBe('no host fits web-3: cpu usage at or above 0.5 on 2 hosts');
    const r2 = place({ hosts, containers: containers('web', 1, [s('cpuUsage', { maxCpu: 0.2 })]) });
    expect(r2.unplaced).toHaveLength(1);
  });

  test('memoryAvailable and cpuCoresAvailable compare requests with capacity', () => {
    const hosts = [
      host('a', { memoryBytes: 2 * GiB, containers: running(1, 'o', 'x', 0, 1.5 * GiB) }),
      host('b', { memoryBytes: 4 * GiB, cpus: 1 }),
      host('c', { memoryBytes: 4 * GiB, cpus: 4 }),
    ];
    const chain = [s('memoryAvailable'), s('cpuCoresAvailable')];
    const r = place({ hosts, containers: containers('web', 3, chain, { cpus: 2, memoryBytes: GiB }) });
    expect(hostsOf(r)).toEqual(['c', 'c']);
    expect(r.unplaced[0].reason).toBe(
      'no host fits web-3: memory exhausted on 1 host, cpu cores exhausted on 2 hosts',
    );
  });

  test('labelConstraint operators', () => {
    const hosts: HostSupply[] = [
      host('a', { labels: { zone: 'eu-1', ssd: 'true' } }),
      host('b', { labels: { zone: 'us-1' } }),
      host('c', { labels: { zone: 'eu-2' } }),
    ];
    const one = (config: Record<string, unknown>): string[] =>
      place({ hosts, containers: containers('web', 3, [s('labelConstraint', config), s('breadthFirst')]) })
        .placements.map((p) => p.host)
        .sort();
    expect(one({ label: 'zone', operator: '=', value: 'us-1' })).toEqual(['b', 'b', 'b']);
    expect(one({ label: 'zone', operator: '!=', value: 'us-1' })).toEqual(['a', 'a', 'c']);
    expect(one({ label: 'zone', operator: 'in', value: ['us-1', 'eu-2'] })).toEqual(['b', 'b', 'c']);
    expect(one({ label: 'zone', operator: 'regexp', value: '^eu-' })).toEqual(['a', 'a', 'c']);
    expect(one({ label: 'ssd', operator: 'is_set' })).toEqual(['a', 'a', 'a']);
    expect(one({ labels: ['zone!=eu-1', 'zone in eu-2,us-1'] })).toEqual(['b', 'b', 'c']);
    const r = place({ hosts, containers: containers('web', 1, [s('labelConstraint', { labels: ['gpu'] })]) });
    expect(r.unplaced[0].reason).toBe("no host fits web-1: label constraint 'gpu is_set' excluded 3 hosts");
  });

  test('labelConstraint soft (hard: false) prefers but does not require', () => {
    const hosts = [host('a'), host('b', { labels: { ssd: 'yes' } })];
    const r = place({
      hosts,
      containers: containers('web', 1, [s('labelConstraint', { label: 'ssd', hard: false })]),
    });
    expect(hostsOf(r)).toEqual(['b']);
    const r2 = place({
      hosts: [host('a')],
      containers: containers('web', 1, [s('labelConstraint', { label: 'ssd', hard: false })]),
    });
    expect(hostsOf(r2)).toEqual(['a']);
  });

  test('distinctHosts and maxPerHost count the service (or app) on each host', () => {
    const hosts = [host('a'), host('b'), host('c', { containers: running(1, 'shop', 'web') })];
    const r = place({ hosts, containers: containers('web', 3, [s('distinctHosts'), s('depthFirst')]) });
    expect(hostsOf(r)).toEqual(['a', 'b']);
    expect(r.unplaced[0].reason).toBe('no host fits web-3: distinctHosts excluded 3 hosts');
    const r2 = place({
      hosts,
      containers: containers('web', 4, [s('maxPerHost', { max: 2 }), s('depthFirst')]),
    });
    expect(hostsOf(r2)).toEqual(['c', 'a', 'a', 'b']);
    const r3 = place({
      hosts,
      containers: containers('api', 3, [s('distinctHosts', { scope: 'app' })]),
    });
    expect(hostsOf(r3)).toEqual(['a', 'b']);
  });

  test('hostname (Clocker HostnamePlacementStrategy) matches host ids', () => {
    const hosts = [host('db-1'), host('web-1'), host('web-2')];
    const r = place({
      hosts,
      containers: containers('web', 2, [s('hostname', { hostname: 'web-.*' }), s('breadthFirst')]),
    });
    expect(hostsOf(r)).toEqual(['web-1', 'web-2']);
  });
});

describe('scorers alone', () => {
  const hosts = [
    host('a', { containers: running(3) }),
    host('b', { containers: running(1) }),
    host('c', { containers: running(2) }),
  ];

  test('breadthFirst: fewest containers first, spreading as it goes', () => {
    const r = place({ hosts, containers: containers('web', 4, [s('breadthFirst')]) });
    expect(hostsOf(r)).toEqual(['b', 'b', 'c', 'a']);
    expect(r.placements[0].score).toBeCloseTo(1 / 2);
  });

  test('depthFirst: fill the fullest host first, still respecting filters', () => {
    const r = place({
      hosts,
      containers: containers('web', 7, [s('maxContainers', { maxContainers: 5 }), s('depthFirst')]),
    });
    expect(hostsOf(r)).toEqual(['a', 'a', 'c', 'c', 'c', 'b', 'b']);
  });

  test('lowestCpuUsage prefers idle hosts', () => {
    const h = [host('a', { cpuUsage: 0.4 }), host('b', { cpuUsage: 0.1 })];
    expect(hostsOf(place({ hosts: h, containers: containers('web', 1, [s('lowestCpuUsage')]) }))).toEqual([
      'b',
    ]);
  });

  test("binPack and spread use Nomad's fit formula", () => {
    const h = [
      host('a', { cpus: 4, memoryBytes: 4 * GiB, containers: running(1, 'o', 'x', 2, 2 * GiB) }),
      host('b', { cpus: 4, memoryBytes: 4 * GiB }),
    ];
    const chain = [s('binPack')];
    const r = place({ hosts: h, containers: containers('web', 1, chain, { cpus: 1, memoryBytes: GiB }) });
    expect(hostsOf(r)).toEqual(['a']);
    // a after placing: free 0.25 cpu and 0.25 mem: (20 - 2·10^0.25) / 18
    expect(r.placements[0].score).toBeCloseTo((20 - 2 * Math.pow(10, 0.25)) / 18, 10);
    const r2 = place({
      hosts: h,
      containers: containers('web', 1, [s('spread')], { cpus: 1, memoryBytes: GiB }),
    });
    expect(hostsOf(r2)).toEqual(['b']);
    expect(r2.placements[0].score).toBeCloseTo((2 * Math.pow(10, 0.75) - 2) / 18, 10);
  });
});

describe('affinity', () => {
  const hosts = [
    host('a', { containers: running(1, 'shop', 'db') }),
    host('b'),
    host('c', { labels: { zone: 'z1' } }),
  ];

  test('hard affinity to a service keeps only hosts running it', () => {
    const r = place({
      hosts,
      containers: containers('web', 2, [s('breadthFirst')], {}, [
        { negate: false, target: 'service', value: 'db', hard: true, weight: 1 },
      ]),
    });
    expect(hostsOf(r)).toEqual(['a', 'a']);
  });

  test('hard anti-affinity to own service (no value) spreads instances, then fails with a reason', () => {
    const r = place({
      hosts,
      containers: containers('web', 4, [s('depthFirst')], {}, [
        { negate: true, target: 'service', hard: true, weight: 1 },
      ]),
    });
    expect(hostsOf(r)).toEqual(['a', 'b', 'c']);
    expect(r.unplaced[0].reason).toBe('no host fits web-4: affinity rules excluded 3 hosts');
  });

  test('soft anti-affinity weighs the score but never blocks', () => {
    const chain = [s('depthFirst'), s('affinity', { weight: 2 })];
    const r = place({
      hosts: [host('a'), host('b')],
      containers: containers('web', 3, chain, {}, [
        { negate: true, target: 'service', hard: false, weight: 50 },
      ]),
    });
    // web-2: a = (0.5·1 + 2·(-1)) / 3 < b = 0 → b; web-3: both have one web → depthFirst tie → a.
    expect(hostsOf(r)).toEqual(['a', 'b', 'a']);
    expect(r.unplaced).toEqual([]);
  });

  test('soft vs hard on the same condition', () => {
    const rule = { negate: false, target: 'hostLabel' as const, value: 'zone=z2', weight: 1 };
    const hard = place({ hosts, containers: containers('web', 1, [], {}, [{ ...rule, hard: true }]) });
    expect(hard.unplaced).toHaveLength(1);
    const soft = place({ hosts, containers: containers('web', 1, [], {}, [{ ...rule, hard: false }]) });
    expect(soft.placements).toHaveLength(1);
  });

  test('affinity to host labels, apps, and EMPTY hosts; Clocker rule strings', () => {
    const label = place({
      hosts,
      containers: containers('web', 1, [], {}, [
        { negate: false, target: 'hostLabel', value: 'zone=z1', hard: true, weight: 1 },
      ]),
    });
    expect(hostsOf(label)).toEqual(['c']);
    const notApp = place({
      hosts,
      containers: containers('web', 2, [s('affinity', { rules: ['NOT APPLICATION shop'] })]),
    });
    // the first web makes b hold app shop too, so the second goes to c
    expect(hostsOf(notApp)).toEqual(['b', 'c']);
    const empty = place({ hosts, containers: containers('web', 3, [s('affinity', { rules: ['EMPTY'] })]) });
    expect(hostsOf(empty)).toEqual(['b', 'c']);
  });
});

test('labelConstraint accepts a hostname pattern (as the blueprint parser maps HostnamePlacementStrategy)', () => {
  const hosts = [
    host('db-1', { labels: { ssd: 'y' } }),
    host('web-1', { labels: { ssd: 'y' } }),
    host('web-2'),
  ];
  const r = place({
    hosts,
    containers: containers('web', 1, [
      s('labelConstraint', { 'docker.constraint.hostname': 'web-.*', labels: ['ssd'] }),
    ]),
  });
  expect(r.placements.map((p) => p.host)).toEqual(['web-1']);
});

describe('volumeHost: an instance with named volumes goes to the host holding them', () => {
  it('filters every other host, whatever the chain, and explains why', () => {
    const [pinned, free] = containers('db', 2, [s('breadthFirst')]);
    pinned.volumeHost = { host: 'h2', volumes: ['data'] };
    const r = place({ containers: [pinned, free], hosts: [host('h1'), host('h2'), host('h3')] });
    expect(r.placements.find((p) => p.instance === 'db-1')!.host).toBe('h2');
    expect(r.placements.find((p) => p.instance === 'db-1')!.metrics.filters).toEqual([
      { strategy: 'volumeHost', excluded: 2, reason: "db-1's volume data is on host h2 (excluded 2 hosts)" },
    ]);
    // The other instance (no volumes yet) is placed as the chain says: spread, away from h2.
    expect(r.placements.find((p) => p.instance === 'db-2')!.host).toBe('h1');
  });

  it('when that host is gone the instance is not placed anywhere else', () => {
    const [pinned] = containers('db', 1, []);
    pinned.volumeHost = { host: 'h9', volumes: ['data', 'logs'] };
    const r = place({ containers: [pinned], hosts: [host('h1'), host('h2')] });
    expect(r.placements).toEqual([]);
    expect(r.unplaced[0].reason).toBe(
      "no host fits db-1: db-1's volumes data, logs are on host h9 (excluded 2 hosts)",
    );
  });
});
