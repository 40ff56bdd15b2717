/**
 * `npm run bench:placement`: placements per second for 10,000 containers onto 100, 1,000 and 10,000
 * hosts, every host considered for every placement (no sampling: the engine keeps each kind of
 * container's verdicts and re-judges only the hosts that changed, see verdicts.ts; one full-scan run
 * per host count, judging every host anew each time, is reported beside it), with a seven-strategy chain:
 * memoryAvailable, cpuCoresAvailable, maxContainers, labelConstraint, affinity (hard anti-affinity
 * to another app, soft anti-affinity to the own service), binPack, breadthFirst. Demands are mixed:
 * 100 services of eight sizes (0.1–2 cores, 64 MiB–2 GiB), interleaved so consecutive placements
 * differ in size (no score cache survives from one to the next); a quarter of the services also
 * constrain the zone and a tenth pin to a rack label. SAMPLES timed runs per host count, after one
 * untimed run of the same request (so V8 has compiled what the timed runs execute: a placing worker
 * is long-lived): the median and the spread, per second of wall time and per second of the process's CPU
 * time (on a shared machine the wall time includes waiting for a core).
 */
import type { AffinityRule, StrategyConfig } from '../src/core/blueprint/model';
import { place } from '../src/core/placement/engine';
import type { ContainerDemand, HostSupply } from '../src/core/placement/types';
import { median } from './support';

const GiB = 1024 ** 3;
const CONTAINERS = 10_000;
const SERVICES = 100;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 7);
const MiB = 1024 ** 2;
/** Service sizes: [cores, memory]. */
const SIZES: [number, number][] = [
  [0.1, 64 * MiB],
  [0.25, 128 * MiB],
  [0.5, 256 * MiB],
  [1, 512 * MiB],
  [0.1, 1024 * MiB],
  [2, 256 * MiB],
  [0.5, 2048 * MiB],
  [0.25, 768 * MiB],
];

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
      labels: { zone: `z${i % 3}`, rack: `r${i % 8}`, pool: i % 50 === 49 ? 'reserved' : 'general' },
      containers: i % 10 === 0 ? [{ app: 'batch', service: 'worker', cpus: 1, memoryBytes: GiB }] : [],
      cpuUsage: (i % 7) / 20,
    });
  }
  return out;
}

function demand(): ContainerDemand[] {
  const out: ContainerDemand[] = [];
  const rules: AffinityRule[][] = [];
  const chains: StrategyConfig[][] = [];
  for (let s = 0; s < SERVICES; s++) {
    rules.push([
      { negate: true, target: 'app', value: 'batch', hard: true, weight: 1 },
      { negate: true, target: 'service', value: `svc${s}`, hard: false, weight: 50 },
    ]);
    // A quarter constrain the zone, a tenth the rack: their own chains (one array per service).
    const extra: StrategyConfig[] = [];
    if (s % 4 === 1)
      extra.push({ name: 'labelConstraint', config: { label: 'zone', operator: '==', value: `z${s % 3}` } });
    if (s % 10 === 3)
      extra.push({ name: 'labelConstraint', config: { label: 'rack', operator: '!=', value: `r${s % 8}` } });
    chains.push(extra.length ? [...chain.slice(0, 4), ...extra, ...chain.slice(4)] : chain);
  }
  for (let i = 0; i < CONTAINERS; i++) {
    const s = i % SERVICES;
    const [cpus, memoryBytes] = SIZES[s % SIZES.length];
    out.push({
      app: 'shop',
      service: `svc${s}`,
      instance: `svc${s}-${Math.floor(i / SERVICES) + 1}`,
      cpus,
      memoryBytes,
      labels: {},
      affinity: rules[s],
      strategies: chains[s],
    });
  }
  return out;
}

function run(hostCount: number) {
  const hosts = hostsOf(hostCount);
  const containers = demand();
  place({ containers, hosts }); // warm-up
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let r = place({ containers: [], hosts });
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    r = place({ containers, hosts });
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  // The reference path, once: every host judged anew for every container.
  const f0 = process.cpuUsage();
  place({ containers, hosts }, { fullScan: true });
  const f = process.cpuUsage(f0);
  const ms = median(times);
  const cpuMs = median(cpuTimes);
  const rate = (t: number) => Math.round((CONTAINERS / t) * 1000);
  return {
    hosts: hostCount,
    containers: CONTAINERS,
    placed: r.placements.length,
    unplaced: r.unplaced.length,
    samples: SAMPLES,
    medianSeconds: +(ms / 1000).toFixed(3),
    placementsPerSecond: rate(ms),
    placementsPerSecondSpread: { min: rate(Math.max(...times)), max: rate(Math.min(...times)) },
    /** Per second of this process's CPU time: what a core of its own would do on a shared machine. */
    placementsPerCpuSecond: rate(cpuMs),
    fullScanPlacementsPerCpuSecond: rate((f.user + f.system) / 1000),
    microsecondsPerPlacementPerHost: +((ms * 1000) / CONTAINERS / hostCount).toFixed(4),
  };
}

const results = [100, 1_000, 10_000].map(run);
const perSecondAt = (hosts: number) => {
  const { placementsPerSecond, placementsPerCpuSecond } = results.find((x) => x.hosts === hosts)!;
  return { placementsPerSecond, placementsPerCpuSecond };
};
console.log(
  JSON.stringify(
    {
      benchmark: 'placement',
      strategies: chain.map((s) => s.name),
      demands: `mixed: ${SIZES.length} sizes interleaved; 25% zone-constrained, 10% rack-constrained`,
      sampling: false,
      targets: {
        at1000Hosts: { ...perSecondAt(1_000), target: 60_000 },
        at10000Hosts: { ...perSecondAt(10_000), target: 8_000 },
      },
      node: process.version,
      results,
    },
    null,
    2,
  ),
);
