import type Docker from 'dockerode';
import { isConnectionError } from './docker';
import { JsonLines } from './events';

/**
 * Resource usage of running containers from the engine's stats stream (one frame a second; a
 * one-shot `stats({stream: false})` costs 1–2 s per container). All containers are sampled at once.
 */

export interface ContainerStats {
  id: string;
  /**
   * CPU over the sampled window in percent of ONE core, as `docker stats` prints it:
   * (cpuDelta / systemDelta) × onlineCpus × 100 — a busy single-threaded process ≈ 100, two ≈ 200.
   */
  cpuPercent: number;
  /** Usage minus the inactive page cache (`total_inactive_file`/`inactive_file`), like the docker CLI. */
  memoryBytes: number;
  /** The container's memory limit (the host's memory when it has none). */
  memoryLimitBytes: number;
  /** When the last frame was read (engine clock, ms). */
  atMs: number;
}

export interface SampleOptions {
  /**
   * CPU readings to take (≥ 2): the window spans samples − 1 frame intervals (~1 s each). The first
   * frame's `precpu_stats` counts as a reading when the engine fills it. Default 2 (about 1 s).
   */
  samples?: number;
  /** Bound on the whole sampling; containers without enough frames by then are left out. Default 5000. */
  timeoutMs?: number;
  /** Containers sampled at the same time (one HTTP stream each). Default 32. */
  concurrency?: number;
}

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

interface StatsFrame {
  read?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

interface CpuReading {
  total: number;
  system: number;
  cpus: number;
}

function reading(cpu: CpuStats | undefined): CpuReading | undefined {
  const total = cpu?.cpu_usage?.total_usage;
  const system = cpu?.system_cpu_usage;
  if (typeof total !== 'number' || typeof system !== 'number' || system <= 0) return undefined;
  const cpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  return { total, system, cpus };
}

/** Memory as the docker CLI shows it: usage without the inactive file cache (cgroup v1 and v2). */
export function memoryUsage(mem: StatsFrame['memory_stats']): number {
  const usage = mem?.usage ?? 0;
  const stats = mem?.stats ?? {};
  const v1 = stats.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = stats.inactive_file;
  if (v2 !== undefined && v2 < usage) return usage - v2;
  return usage;
}

/** CPU percent (of one core) between two readings. */
export function cpuPercent(from: CpuReading, to: CpuReading): number {
  const cpuDelta = to.total - from.total;
  const systemDelta = to.system - from.system;
  if (cpuDelta < 0 || systemDelta <= 0) return 0;
  return (cpuDelta / systemDelta) * to.cpus * 100;
}

/** The frame of a stopped container: zero read time, no system CPU. */
function isEmptyFrame(f: StatsFrame): boolean {
  return !reading(f.cpu_stats) && (!f.read || f.read.startsWith('0001-'));
}

class ContainerGone extends Error {}

/** Samples one container: resolves undefined when it is gone, stopped or too slow. */
async function sampleOne(
  docker: Docker,
  id: string,
  samples: number,
  deadline: number,
): Promise<ContainerStats | undefined> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return undefined;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), remaining);
  const readings: CpuReading[] = [];
  let last: StatsFrame | undefined;
  let stream: NodeJS.ReadableStream | undefined;
  try {
    // `abortSignal` is passed to docker-modem (the typings of stats() lack it).
    const open = docker.getContainer(id).stats as (o: object) => Promise<NodeJS.ReadableStream>;
    stream = await open.call(docker.getContainer(id), { stream: true, abortSignal: abort.signal });
    const lines = new JsonLines();
    outer: for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      for (const value of lines.push(chunk)) {
        const frame = value as StatsFrame;
        if (isEmptyFrame(frame)) throw new ContainerGone();
        if (readings.length === 0) {
          const pre = reading(frame.precpu_stats);
          if (pre) readings.push(pre);
        }
        const now = reading(frame.cpu_stats);
        if (!now) continue;
        readings.push(now);
        last = frame;
        if (readings.length >= samples) break outer;
      }
    }
  } catch (err) {
    if (err instanceof ContainerGone || abort.signal.aborted) {
      // Stopped, or out of time: whatever was read may still make a (shorter) window.
    } else if (isConnectionError(err)) {
      throw err;
    } else {
      // 404 (gone), 409/500 (being removed): no entry.
      return undefined;
    }
  } finally {
    clearTimeout(timer);
    (stream as { destroy?: () => void } | undefined)?.destroy?.();
  }
  if (readings.length < 2 || !last) return undefined;
  const readMs = last.read ? Date.parse(last.read) : NaN;
  return {
    id,
    cpuPercent: cpuPercent(readings[0], readings[readings.length - 1]),
    memoryBytes: memoryUsage(last.memory_stats),
    memoryLimitBytes: last.memory_stats?.limit ?? 0,
    atMs: Number.isFinite(readMs) && readMs > 0 ? readMs : Date.now(),
  };
}

/**
 * Samples the containers in parallel through their stats streams (each destroyed as soon as it
 * gave enough frames). A container that is gone or stopped yields no entry; an unreachable engine
 * rejects.
 */
export async function sampleContainerStats(
  docker: Docker,
  containerIds: string[],
  opts: SampleOptions = {},
): Promise<ContainerStats[]> {
  const samples = Math.max(2, Math.floor(opts.samples ?? 2));
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  const concurrency = Math.max(1, opts.concurrency ?? 32);
  const out: (ContainerStats | undefined)[] = new Array(containerIds.length);
  let next = 0;
  const worker = async () => {
    while (next < containerIds.length) {
      const i = next++;
      out[i] = await sampleOne(docker, containerIds[i], samples, deadline);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, containerIds.length) }, worker));
  return out.filter((s): s is ContainerStats => s !== undefined);
}

export interface StatsAggregate {
  instances: number;
  cpuPercentAvg: number;
  memoryBytesAvg: number;
  /** Mean of memoryBytes / memoryLimitBytes × 100 (instances without a known limit count 0). */
  memoryPercentAvg: number;
}

export function aggregate(stats: ContainerStats[]): StatsAggregate {
  const n = stats.length;
  if (n === 0) return { instances: 0, cpuPercentAvg: 0, memoryBytesAvg: 0, memoryPercentAvg: 0 };
  const sum = (pick: (s: ContainerStats) => number) => stats.reduce((t, s) => t + pick(s), 0);
  return {
    instances: n,
    cpuPercentAvg: sum((s) => s.cpuPercent) / n,
    memoryBytesAvg: sum((s) => s.memoryBytes) / n,
    memoryPercentAvg:
      sum((s) => (s.memoryLimitBytes > 0 ? (s.memoryBytes / s.memoryLimitBytes) * 100 : 0)) / n,
  };
}
