/**
 * Kept verdicts (verdicts.ts) must place exactly as a full scan does: same hosts, scores, filter
 * counts, explanations and provisioning, on random pools and demands that exercise every built-in
 * strategy, provisioning (including an undone one), pinned volumes and repeated kinds.
 */
import { compileChain, place } from '../../../src/core/placement/engine';
import { registerStrategy, unregisterStrategy } from '../../../src/core/placement/registry';
import type {
  AffinityRule,
  ContainerDemand,
  HostSupply,
  StrategyConfig,
} from '../../../src/core/placement/types';
import { prng } from '../../../src/core/prng';
import { GiB, s } from './helpers';

function pick<T>(random: () => number, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)];
}

const CHAINS: StrategyConfig[][] = [
  [s('memoryAvailable'), s('cpuCoresAvailable'), s('maxContainers', { maxContainers: 6 }), s('breadthFirst')],
  [s('memoryAvailable'), s('cpuCoresAvailable'), s('binPack'), s('breadthFirst', { weight: 2 })],
  [s('cpuUsage', { maxCpu: 0.6 }), s('lowestCpuUsage'), s('spread'), s('depthFirst', { weight: 0.5 })],
  [
    s('labelConstraint', { label: 'zone', operator: '!=', value: 'z2' }),
    s('maxPerHost', { max: 2 }),
    s('binPack'),
  ],
  [s('distinctHosts'), s('labelConstraint', { labels: ['ssd'], hard: false, weight: 3 }), s('breadthFirst')],
  [
    s('memoryAvailable'),
    s('cpuCoresAvailable'),
    s('maxContainers', { maxContainers: 3 }),
    s('provisioning', { profile: 'small', cpus: 1, memory: '1GiB', maxNewHosts: 2 }),
    s('provisioning', { profile: 'big', cpus: 8, memory: '16GiB', maxNewHosts: 3, labels: { zone: 'z9' } }),
    s('binPack'),
  ],
  [s('hostname', { hostname: 'h-0[0-4].*' }), s('affinity', { rules: ['NOT EMPTY'] }), s('spread')],
  [],
];

const RULES: AffinityRule[][] = [
  [],
  [{ negate: true, target: 'service', hard: false, weight: 5 }],
  [{ negate: true, target: 'app', value: 'batch', hard: true, weight: 1 }],
  [
    { negate: false, target: 'hostLabel', value: 'zone in z0,z1', hard: false, weight: 2 },
    { negate: true, target: 'image', value: 'redis:7', hard: false, weight: 1 },
  ],
  [{ negate: false, target: 'service', value: 'svc0', hard: false, weight: 1 }],
];

function pool(random: () => number): HostSupply[] {
  return Array.from({ length: 5 + Math.floor(random() * 40) }, (_, i) => ({
    id: `h-${String(i).padStart(3, '0')}`,
    cpus: pick(random, [1, 2, 4, 8]),
    memoryBytes: pick(random, [1, 2, 8]) * GiB,
    labels: { zone: `z${i % 3}`, ...(random() < 0.4 ? { ssd: 'true' } : {}) },
    containers: Array.from({ length: Math.floor(random() * 3) }, () => ({
      app: pick(random, ['batch', 'shop']),
      service: pick(random, ['worker', 'svc0']),
      image: pick(random, [undefined, 'redis:7']),
      cpus: pick(random, [0, 0.5]),
      memoryBytes: pick(random, [0, GiB / 2]),
    })),
    cpuUsage: random() * 0.8,
  }));
}

function demand(random: () => number, hostIds: string[]): ContainerDemand[] {
  const services = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, k) => ({
    service: `svc${k}`,
    chain: pick(random, CHAINS),
    affinity: pick(random, RULES),
    cpus: pick(random, [0, 0.25, 0.5, 1, 2]),
    memoryBytes: pick(random, [0, GiB / 4, GiB, 3 * GiB]),
    image: pick(random, [undefined, 'redis:7', 'web:1']),
  }));
  const out: ContainerDemand[] = [];
  const count = 10 + Math.floor(random() * 80);
  for (let i = 0; i < count; i++) {
    const sv = pick(random, services);
    const pinned = random() < 0.05;
    out.push({
      app: 'shop',
      service: sv.service,
      instance: `${sv.service}-${i + 1}`,
      image: sv.image,
      cpus: sv.cpus,
      memoryBytes: sv.memoryBytes,
      labels: {},
      affinity: sv.affinity,
      strategies: sv.chain,
      ...(pinned ? { volumeHost: { host: pick(random, hostIds), volumes: ['data'] } } : {}),
    });
  }
  return out;
}

describe('kept verdicts', () => {
  it('place exactly as a full scan, on 300 random pools and demands', () => {
    let kept = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const hosts = pool(random);
      const containers = demand(
        random,
        hosts.map((h) => h.id),
      );
      const explain = seed % 3 === 0;
      const fast = place({ containers, hosts }, { explain });
      const full = place({ containers, hosts }, { explain, fullScan: true });
      expect({ seed, ...fast }).toEqual({ seed, ...full });
      kept += fast.placements.length;
    }
    expect(kept).toBeGreaterThan(5000);
  });

  it('are kept only for chains whose every strategy is host-local', () => {
    // A scorer that ranks a host against the other candidates: its verdict on one host changes
    // when another host changes, so it must not be kept.
    registerStrategy('rankAmongCandidates', (cfg) => {
      cfg.done();
      return {
        scorer: {
          weight: 1,
          scoreAll(ctx, cand, n, out) {
            let max = 0;
            for (let i = 0; i < n; i++) max = Math.max(max, ctx.state.containers[cand[i]]);
            for (let i = 0; i < n; i++) out[i] = max ? 1 - ctx.state.containers[cand[i]] / max : 1;
          },
        },
      };
    });
    try {
      expect(compileChain([s('binPack'), s('affinity')]).hostLocal).toBe(true);
      expect(compileChain([s('binPack'), s('rankAmongCandidates')]).hostLocal).toBe(false);
      const hosts = ['a', 'b', 'c'].map((id) => ({
        id,
        cpus: 4,
        memoryBytes: 8 * GiB,
        labels: {},
        containers: [],
      }));
      const chain = [s('rankAmongCandidates')];
      const containers = Array.from({ length: 9 }, (_, i) => ({
        app: 'shop',
        service: 'web',
        instance: `web-${i + 1}`,
        cpus: 0,
        memoryBytes: 0,
        labels: {},
        affinity: [],
        strategies: chain,
      }));
      // Spread evenly: each host ends with three.
      const counts = new Map<string, number>();
      for (const p of place({ containers, hosts }).placements)
        counts.set(p.host, (counts.get(p.host) ?? 0) + 1);
      expect(Object.fromEntries(counts)).toEqual({ a: 3, b: 3, c: 3 });
    } finally {
      unregisterStrategy('rankAmongCandidates');
    }
  });
});
