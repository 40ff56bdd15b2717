/**
 * `npm run bench:placement`: placements per second for 10,000 containers onto 100, 1,000 and 10,000
 * hosts, every host considered for every placement (no sampling), with a six-strategy chain:
 * memoryAvailable, cpuCoresAvailable, maxContainers, affinity (hard anti-affinity to another app,
 * soft anti-affinity to the own service), labelConstraint, binPack + breadthFirst.
 */
import type { AffinityRule, StrategyConfig } from '../src/core/blueprint/model';
import { place } from '../src/core/placement/engine';
import type { ContainerDemand, HostSupply } from '../src/core/placement/types';

const GiB = 1024 ** 3;
const CONTAINERS = 10_000;
const SERVICES = 100;

const chain: StrategyConfig[] = [
  { name: 'memoryAvailable', config: {} },
  { name: 'cpuCoresAvailable', config: {} },
  { name: 'maxContainers', config: { maxContainers: 500 } },
  { name: 'labelConstraint', config: { label: 'pool', operator: '!=', value: 'reserved' } },
  { name: 'affinity', config: {} },
  { name: 'binPack', config: {} },
  { name: 'breadthFirst', config: {} },
];

function hostsOf(n: number): HostSupply[] {
  const out: HostSupply[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: `host-${String(i).padStart(5, '0')}`,
      cpus: 64,
      memoryBytes: 256 * GiB,
      labels: { zone: `z${i % 3}`, pool: i % 50 === 49 ? 'reserved' : 'general' },
      containers: i % 10 === 0 ? [{ app: 'batch', service: 'worker', cpus: 1, memoryBytes: GiB }] : [],
      cpuUsage: (i % 7) / 20,
    });
  }
  return out;
}

function demand(): ContainerDemand[] {
  const out: ContainerDemand[] = [];
  const rules: AffinityRule[][] = [];
  for (let s = 0; s < SERVICES; s++)
    rules.push([
      { negate: true, target: 'app', value: 'batch', hard: true, weight: 1 },
      { negate: true, target: 'service', value: `svc${s}`, hard: false, weight: 50 },
    ]);
  for (let i = 0; i < CONTAINERS; i++) {
    const s = i % SERVICES;
    out.push({
      app: 'shop',
      service: `svc${s}`,
      instance: `svc${s}-${Math.floor(i / SERVICES) + 1}`,
      cpus: 0.1,
      memoryBytes: 64 * 1024 ** 2,
      labels: {},
      affinity: rules[s],
      strategies: chain,
    });
  }
  return out;
}

function run(hostCount: number): Record<string, number> {
  const hosts = hostsOf(hostCount);
  const containers = demand();
  place({ containers: containers.slice(0, 200), hosts }); // warm-up
  const t0 = performance.now();
  const r = place({ containers, hosts });
  const ms = performance.now() - t0;
  return {
    hosts: hostCount,
    containers: CONTAINERS,
    placed: r.placements.length,
    unplaced: r.unplaced.length,
    seconds: +(ms / 1000).toFixed(3),
    placementsPerSecond: Math.round((CONTAINERS / ms) * 1000),
    microsecondsPerPlacementPerHost: +(((ms * 1000) / CONTAINERS / hostCount) * 1).toFixed(4),
  };
}

const results = [100, 1_000, 10_000].map(run);
console.log(
  JSON.stringify(
    {
      benchmark: 'placement',
      strategies: chain.map((s) => s.name),
      sampling: false,
      node: process.version,
      results,
    },
    null,
    2,
  ),
);
