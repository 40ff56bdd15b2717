/**
 * Compiled chains of built-in strategies outlive their run (engine.ts, ChainCache): a run must place
 * exactly as it would in a fresh process, whatever ran before it. Chains with a custom strategy are
 * built per run, so a re-registered name takes effect.
 */
import { place } from '../../../src/core/placement/engine';
import { registerStrategy, unregisterStrategy } from '../../../src/core/placement/registry';
import type { ContainerDemand, HostSupply, PlacementRequest } from '../../../src/core/placement/types';
import { prng } from '../../../src/core/prng';
import { GiB, s } from './helpers';

const CHAIN = [
  s('memoryAvailable'),
  s('cpuCoresAvailable'),
  s('labelConstraint', { label: 'zone', operator: '!=', value: 'z2' }),
  s('affinity', { rules: ['NOT EMPTY'] }),
  s('binPack'),
  s('breadthFirst'),
];

/** A pool whose labels, sizes and load depend on the seed: stale masks or scores would show. */
function request(seed: number): PlacementRequest {
  const random = prng(seed);
  const hosts: HostSupply[] = Array.from({ length: 4 + Math.floor(random() * 30) }, (_, i) => ({
    id: `h-${String(i).padStart(3, '0')}`,
    cpus: [1, 2, 4, 8][Math.floor(random() * 4)],
    memoryBytes: [1, 2, 8][Math.floor(random() * 3)] * GiB,
    labels: { zone: `z${Math.floor(random() * 3)}` },
    containers: random() < 0.5 ? [{ app: 'other', service: 'x', cpus: 0.5, memoryBytes: GiB / 2 }] : [],
  }));
  const containers: ContainerDemand[] = Array.from({ length: 40 }, (_, i) => ({
    app: 'shop',
    service: `svc${i % 3}`,
    instance: `svc${i % 3}-${i + 1}`,
    cpus: [0.25, 0.5][i % 2],
    memoryBytes: [GiB / 4, GiB / 2, GiB][i % 3],
    labels: {},
    affinity: [],
    strategies: CHAIN,
  }));
  return { hosts, containers };
}

describe('compiled chains kept between runs', () => {
  it('place as a fresh process does, after runs on other pools', async () => {
    let fresh: typeof place | undefined;
    await jest.isolateModulesAsync(async () => {
      fresh = (await import('../../../src/core/placement/engine')).place;
    });
    expect(fresh).not.toBe(place);
    for (let seed = 1; seed <= 40; seed++) {
      // The shared engine has placed every earlier seed's pool (and the full scans) with the same chain.
      const warm = place(request(seed), { explain: true });
      place(request(seed + 1000), { fullScan: true });
      expect({ seed, ...warm }).toEqual({ seed, ...fresh!(request(seed), { explain: true }) });
    }
  });

  it('are not kept when a strategy is custom: its factory runs each run, and a new registration takes effect', () => {
    let built = 0;
    const prefer = (host: string) => {
      registerStrategy('preferHost', (cfg) => {
        cfg.done();
        built++;
        return {
          scorer: {
            weight: 1,
            hostLocal: true,
            scoreAll(ctx, cand, n, out) {
              for (let i = 0; i < n; i++) out[i] = ctx.state.ids[cand[i]] === host ? 1 : 0;
            },
          },
        };
      });
    };
    const hosts = ['a', 'b'].map((id) => ({ id, cpus: 4, memoryBytes: 8 * GiB, labels: {}, containers: [] }));
    const chain = [s('preferHost')];
    const containers = [1, 2].map((i) => ({
      app: 'shop',
      service: 'web',
      instance: `web-${i}`,
      cpus: 0,
      memoryBytes: 0,
      labels: {},
      affinity: [],
      strategies: chain,
    }));
    try {
      prefer('a');
      expect(place({ containers, hosts }).placements.map((p) => p.host)).toEqual(['a', 'a']);
      prefer('b');
      expect(place({ containers, hosts }).placements.map((p) => p.host)).toEqual(['b', 'b']);
      expect(built).toBe(2);
    } finally {
      unregisterStrategy('preferHost');
    }
  });
});
