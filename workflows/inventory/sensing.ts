/**
 * The inventory's main loop: sense every remote host on an interval; one that misses
 * `failureThreshold` rounds in a row has failed. Failed hosts are probed beside the rounds and
 * rejoin when they answer again as many times.
 */
import { condition, patched, workflowInfo } from '@temporalio/workflow';
import type { HostReading } from '../../activities/hosts';
import { messageOf } from '../../src/core/failures';
import { loadFigures, readingTimeoutMs } from '../../src/core/host-load';
import type { HostRecord, HostSensors } from '../api/inventory';
import { hostActivities } from '../activity-options';
import { nowMs } from '../policies/common';
import { remote, type Pool } from './pool';

/** Marks histories in which failed hosts are sensed and rejoin when they answer again. */
const REJOIN_PATCH = 'rejoin-failed-hosts';

/** Rounds in one run; the server's continue-as-new suggestion normally ends a run long before. */
const MAX_ROUNDS = 100_000;

export class HostSensing {
  /** The probe of failed hosts under way, if any (the run ends only once it is over). */
  probing: Promise<void> | undefined;

  constructor(private readonly pool: Pool) {}

  /** Senses until the server suggests a new run. */
  async run(): Promise<void> {
    const { pool } = this;
    let roundStartedAt: number | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { sensorIntervalMs, failureThreshold } = pool.settings();
      // Failed hosts are sensed too, so one that comes back rejoins (histories from before: not).
      const rejoining = patched(REJOIN_PATCH);
      // A pool of only the local engine has nothing to sense: no timer until a remote host joins.
      const sensing = () => pool.state.hosts.some((h) => remote(h) && (rejoining || h.status !== 'failed'));
      if (!sensing()) {
        await condition(() => workflowInfo().continueAsNewSuggested || sensing());
        roundStartedAt = undefined;
      }
      // Rounds start an interval apart, so a host is failed after threshold × interval, not after
      // threshold × (interval + the round's own readings and round trips). Only the timer's duration
      // changes, which replay does not check (never 0: the SDK makes it at least 1 ms).
      const waitMs =
        roundStartedAt === undefined ? sensorIntervalMs : roundStartedAt + sensorIntervalMs - nowMs();
      await condition(() => workflowInfo().continueAsNewSuggested, Math.max(1, waitMs));
      if (workflowInfo().continueAsNewSuggested) break;
      roundStartedAt = nowMs();
      if (pool.changing) continue;
      if (rejoining) this.probeFailed(failureThreshold);
      await this.senseRound(failureThreshold);
    }
  }

  private async senseRound(failureThreshold: number): Promise<void> {
    const watched = this.pool.state.hosts.filter((h) => h.status !== 'failed' && remote(h));
    if (watched.length === 0) return;
    const timeoutMs = readingTimeoutMs(this.pool.settings().sensorIntervalMs);
    const readings = await hostActivities().senseHosts(
      watched.map((h) => h.connection),
      { timeoutMs },
    );
    // No host answering at all says more about the worker's side (its network, its load) than about
    // the hosts: like Kubernetes' full-disruption mode, nothing is failed then.
    if (watched.length > 1 && watched.every((h) => !readings[h.id]?.ok)) return;
    for (const h of watched) {
      const reading = readings[h.id];
      if (reading?.ok) {
        h.misses = 0;
        h.sensors = sensorsOf(h, reading);
        // What the CPU strategies (`cpuUsage`, `lowestCpuUsage`) see: the containers' latest CPU share.
        if (h.sensors.cpu !== undefined) h.cpuUsage = h.sensors.cpu;
        continue;
      }
      h.misses = (h.misses ?? 0) + 1;
      if (h.misses >= failureThreshold && h.status !== 'failed')
        await this.pool.markFailed(
          h,
          `did not answer ${h.misses} times in a row: ${reading?.error ?? 'no reading'}`,
        );
    }
  }

  /**
   * Failed hosts are probed beside the rounds, not in them: one whose engine hangs while it starts
   * would otherwise hold every round for the probe's timeout.
   */
  private probeFailed(threshold: number): void {
    const failed = this.pool.state.hosts.filter((h) => h.status === 'failed' && remote(h));
    if (this.probing || failed.length === 0) return;
    const probe = () =>
      hostActivities().senseHosts(
        failed.map((h) => h.connection),
        { timeoutMs: readingTimeoutMs(this.pool.settings().sensorIntervalMs) },
      );
    // The probe is scheduled at once (before this round's sensing, as recorded histories have it);
    // hosts still on the swarm's books are evicted first.
    const unevicted = failed.filter((h) => h.evicted === false);
    this.probing = (unevicted.length > 0 ? this.evictPending(unevicted).then(probe) : probe())
      .then((readings) => this.rejoinAnswering(failed, readings, threshold))
      .catch(() => undefined) // a probe that failed is tried again next round
      .finally(() => (this.probing = undefined));
  }

  /** Failed hosts still on the swarm's books (no leader could remove them when they failed): again. */
  private async evictPending(failed: HostRecord[]): Promise<void> {
    const { pool } = this;
    for (const h of failed)
      await pool.exclusively(async () => {
        if (pool.state.hosts.includes(h) && h.status === 'failed' && h.evicted === false) await pool.evict(h);
      });
  }

  private async rejoinAnswering(
    failed: HostRecord[],
    readings: Record<string, HostReading>,
    threshold: number,
  ): Promise<void> {
    const { pool } = this;
    for (const h of failed) {
      if (!readings[h.id]?.ok) {
        h.answers = 0;
        continue;
      }
      h.answers = (h.answers ?? 0) + 1;
      if (h.answers < threshold) continue;
      try {
        await pool.exclusively(async () => {
          // removed, or added again by hand, while this round was sensing
          if (pool.state.hosts.includes(h) && h.status === 'failed') await pool.rejoin(h);
        });
      } catch (err) {
        h.answers = 0;
        h.rejoinError = messageOf(err);
      }
    }
  }
}

/** A reading's sensors with the host's load figures (the load smoothed over the readings before). */
function sensorsOf(h: HostRecord, reading: HostReading): HostSensors {
  const previous = h.sensors;
  const figures = loadFigures(reading.usage ?? {}, h, {
    load: previous?.load,
    elapsedMs: previous ? reading.sensors.atMs - previous.atMs : 0,
  });
  return {
    ...reading.sensors,
    ...figures,
    ...(reading.usage?.memoryBytes !== undefined ? { memoryBytes: reading.usage.memoryBytes } : {}),
  };
}
