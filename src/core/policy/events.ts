/**
 * What the sensors report to policy workflows: a container failure signalled by a host watcher
 * (`watchHostEvents`), and a service's resource usage sampled for the autoscaler
 * (`sampleServiceStats`). Plain data, safe to import from workflows.
 */

export type ContainerFailureKind = 'die' | 'oom' | 'unhealthy';

export interface ContainerFailure {
  app: string;
  service: string;
  /** `<service>-<n>` (label `berth.instance`). */
  instance: string;
  containerId: string;
  kind: ContainerFailureKind;
  /** `die`: the main process's exit code (137 after SIGKILL). */
  exitCode?: number;
  /**
   * When it failed, in ms on the engine's clock. The same failure reported twice (live event, then
   * a re-list after a gap) carries the same value for `die` (the container's `State.FinishedAt`) and,
   * while the failing streak is in the health log, for `unhealthy`: dedupe on `containerId@atMs`.
   */
  atMs: number;
  /** The host whose engine reported it (`local` for the local engine). */
  hostId: string;
  /** `event`: from the live event stream; `relist`: found stopped/unhealthy when (re)subscribing. */
  source?: 'event' | 'relist';
}

/** A service's resource usage on one host (or merged over hosts with `mergeServiceStats`). */
export interface ServiceStats {
  /** Running containers sampled. */
  instances: number;
  /** Mean CPU of the instances, in percent of one core (a busy single-threaded process ≈ 100). */
  cpuPercentAvg: number;
  memoryBytesAvg: number;
  /** Mean of each instance's memory use over its limit (the host's memory when unlimited). */
  memoryPercentAvg: number;
  perInstance: InstanceStats[];
}

export interface InstanceStats {
  instance: string;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
  /** Host the instance runs on (`local` for the local engine). */
  hostId?: string;
}

/** Merges per-host samples of one service: averages weighted by each part's instance count. */
export function mergeServiceStats(parts: ServiceStats[]): ServiceStats {
  const instances = parts.reduce((n, p) => n + p.instances, 0);
  const mean = (pick: (p: ServiceStats) => number) =>
    instances === 0 ? 0 : parts.reduce((sum, p) => sum + pick(p) * p.instances, 0) / instances;
  return {
    instances,
    cpuPercentAvg: mean((p) => p.cpuPercentAvg),
    memoryBytesAvg: mean((p) => p.memoryBytesAvg),
    memoryPercentAvg: mean((p) => p.memoryPercentAvg),
    perInstance: parts.flatMap((p) => p.perInstance),
  };
}
