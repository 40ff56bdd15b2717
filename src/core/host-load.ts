/**
 * A host's load figures from what its engine (or its kernel) reports, as pure arithmetic: the
 * inventory workflow turns each sensing round's raw usage into shares of the host's capacity and a
 * load figure smoothed like the kernel's 1-minute load average.
 */

/** The time constant of the load figure: the kernel's 1-minute load average uses 60 s. */
export const LOAD_WINDOW_MS = 60_000;

/** What a sensing round measured on a host (any of it may be missing: a host that answered slowly). */
export interface HostUsage {
  /** CPU time its running containers used per second of wall time since the last reading, in cores. */
  cpuCores?: number;
  /** Memory its running containers use, without the inactive page cache, in bytes. */
  memoryBytes?: number;
  /** The kernel's 1-minute load average (ssh hosts only: netns hosts share the machine's /proc). */
  loadAverage?: number;
}

export interface HostLoadFigures {
  /** Share of the host's cores in use, 0..1. */
  cpu?: number;
  /** Share of the host's memory in use, 0..1. */
  memory?: number;
  /** Load over cores (1 = every core busy; may exceed 1 when work waits). */
  load?: number;
}

/**
 * An exponentially weighted moving average, the kernel's way of computing its load average:
 * `previous` decays by e^(-elapsed/window) and the new value fills the rest. No previous value (or
 * no time elapsed): the value itself.
 */
export function movingAverage(
  previous: number | undefined,
  value: number,
  elapsedMs: number,
  windowMs = LOAD_WINDOW_MS,
): number {
  if (previous === undefined || !Number.isFinite(previous) || !(elapsedMs > 0)) return value;
  const keep = Math.exp(-elapsedMs / windowMs);
  return previous * keep + value * (1 - keep);
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const rounded = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The figures of one reading on a host with `cpus` cores and `memoryBytes` of memory. The load is
 * the kernel's load average over cores where the host has a /proc of its own (`loadAverage`), else
 * the moving average of its CPU share since the previous reading (`previous`, `elapsedMs` ago).
 */
export function loadFigures(
  usage: HostUsage,
  capacity: { cpus: number; memoryBytes: number },
  previous: { load?: number; elapsedMs: number },
): HostLoadFigures {
  const out: HostLoadFigures = {};
  if (usage.cpuCores !== undefined && capacity.cpus > 0)
    out.cpu = rounded(clamp01(usage.cpuCores / capacity.cpus));
  if (usage.memoryBytes !== undefined && capacity.memoryBytes > 0)
    out.memory = rounded(clamp01(usage.memoryBytes / capacity.memoryBytes));
  if (usage.loadAverage !== undefined && capacity.cpus > 0)
    out.load = rounded(Math.max(0, usage.loadAverage / capacity.cpus));
  else if (out.cpu !== undefined)
    out.load = rounded(movingAverage(previous.load, out.cpu, previous.elapsedMs));
  else if (previous.load !== undefined) out.load = previous.load;
  return out;
}

/**
 * How long one sensing round waits for a host: twice the interval, from 2 s to 5 s. A host that does
 * not answer in that time has missed the round; the round does not wait for it longer, so a host
 * that hangs (a partition) is failed after about `failureThreshold` × (interval + this).
 */
export function readingTimeoutMs(sensorIntervalMs: number): number {
  return Math.min(5_000, Math.max(2_000, 2 * sensorIntervalMs));
}
