import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { dockerTarget } from '../src/adapters/docker';
import type { DockerPool } from '../src/adapters/docker-pool';
import {
  relistFailed,
  settleFailure,
  watchContainerEvents,
  type ContainerEvent,
} from '../src/adapters/events';
import { aggregate, sampleContainerStats } from '../src/adapters/stats';
import type { HostConnection } from '../src/core/hosts';
import { LABEL, policyWorkflowId } from '../src/core/names';
import { mergeServiceStats, type ContainerFailure, type ServiceStats } from '../src/core/policy/events';
import { containerFailedSignal } from '../workflows/api/resilience';
import { asHostFailure } from './docker-errors';

export { mergeServiceStats, type ServiceStats };

/**
 * The policies' sensors: a service's CPU and memory (for the autoscaler) and a host's container
 * failures (for the resilience policy), read from the engines of the host pool.
 */

export interface MonitoringDeps {
  pool: DockerPool;
  /** Defaults to the worker's own client (`Context.current().client`). */
  client?: Client;
}

export interface ServiceStatsRequest {
  app: string;
  service: string;
  /** The host to sample (default: the local engine). */
  host?: HostConnection;
  /** Several hosts, merged (`mergeServiceStats`); a host that cannot be reached is left out. */
  hosts?: HostConnection[];
  /** CPU readings per container (≥ 2, about one a second). Default 2. */
  samples?: number;
  timeoutMs?: number;
}

export interface WatchHostEventsRequest {
  host?: HostConnection;
  hostId: string;
  /** The activity returns normally after this long (the caller loops or continues-as-new). */
  runForMs: number;
  /** Unix seconds (engine clock) to replay from: the previous round's `lastEventS`. */
  since?: number;
  /** Reconnect pause (ms). Default 1000. */
  reconnectDelayMs?: number;
}

export interface WatchHostEventsResult {
  /** Second of the last event handled (engine clock): the next round's `since`. */
  lastEventS: number;
  /** `containerFailed` signals a resilience policy accepted. */
  delivered: number;
}

export interface WatchHeartbeat {
  lastEventS?: number;
}

const HEARTBEAT_MS = 2_000;
const FAILURE_KINDS = new Set<ContainerEvent['kind']>(['die', 'oom', 'unhealthy']);

/** The sensors' activities, over one pool and client (a factory: long as a whole, short each). */
export function createMonitoringActivities({ pool, client: injected }: MonitoringDeps) {
  const client = (): Client => injected ?? Context.current().client;

  async function guarded<T>(
    what: string,
    host: HostConnection | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asHostFailure(pool, err, what, host, dockerTarget());
    }
  }

  async function statsOn(req: ServiceStatsRequest, host: HostConnection | undefined): Promise<ServiceStats> {
    return guarded(`sample ${req.app}/${req.service}`, host, async () => {
      const docker = await pool.docker(host);
      const running = await docker.listContainers({
        filters: {
          label: [
            `${LABEL.managed}=true`,
            `${LABEL.kind}=container`,
            `${LABEL.app}=${req.app}`,
            `${LABEL.service}=${req.service}`,
          ],
          status: ['running'],
        },
      });
      const instanceOf = new Map(running.map((c) => [c.Id, c.Labels[LABEL.instance] ?? c.Id.slice(0, 12)]));
      const stats = await sampleContainerStats(
        docker,
        running.map((c) => c.Id),
        {
          ...(req.samples ? { samples: req.samples } : {}),
          ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
        },
      );
      const hostId = host?.id ?? 'local';
      return {
        ...aggregate(stats),
        perInstance: stats
          .map((s) => ({
            instance: instanceOf.get(s.id) ?? s.id.slice(0, 12),
            cpuPercent: s.cpuPercent,
            memoryBytes: s.memoryBytes,
            memoryLimitBytes: s.memoryLimitBytes,
            hostId,
          }))
          .sort((a, b) => a.instance.localeCompare(b.instance, undefined, { numeric: true })),
      };
    });
  }

  return {
    /**
     * CPU (percent of one core) and memory of a service's running containers on `host` (or merged
     * over `hosts`), from the engines' stats streams: two frames of the engine's 1 s stats tick, so
     * 1–2 s per call whatever the number of containers (2 s on an engine with no other stats reader).
     */
    async sampleServiceStats(req: ServiceStatsRequest): Promise<ServiceStats> {
      if (!req.hosts?.length) return statsOn(req, req.host);
      const settled = await Promise.allSettled(req.hosts.map((h) => statsOn(req, h)));
      const ok = settled.filter((r): r is PromiseFulfilledResult<ServiceStats> => r.status === 'fulfilled');
      if (ok.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
      return mergeServiceStats(ok.map((r) => r.value));
    },

    /**
     * Follows one host's container events for `runForMs` and signals `containerFailed` to the
     * resilience policy of each Berth container that dies, is OOM-killed or turns unhealthy (a
     * service without that policy is skipped). On start and after every reconnect it re-lists the
     * stopped and unhealthy containers and signals them too (the policy dedupes on containerId@atMs).
     * Heartbeats `{lastEventS}` every 2 s; a retry resumes from there. Cancellation ends it.
     */
    async watchHostEvents(req: WatchHostEventsRequest): Promise<WatchHostEventsResult> {
      const ctx = Context.current();
      const resumed = (ctx.info.heartbeatDetails as WatchHeartbeat | undefined)?.lastEventS;
      let lastEventS = typeof resumed === 'number' ? resumed : req.since;
      let delivered = 0;
      const host = req.host;
      const docker = (): Promise<Docker> => pool.docker(host);

      /** `missing`: workflow IDs already found not running (one re-list asks once per service). */
      const signalFailure = async (f: ContainerFailure, missing?: Set<string>): Promise<void> => {
        if (!f.service || !f.instance) return;
        const workflowId = policyWorkflowId(f.app, f.service, 'resilience');
        if (missing?.has(workflowId)) return;
        // Each RPC adds an abort listener to the signal in scope and never removes it (SDK 1.24):
        // on the activity's cancellationSignal they would pile up for the whole round.
        const call = new AbortController();
        const abortCall = () => call.abort();
        ctx.cancellationSignal.addEventListener('abort', abortCall, { once: true });
        try {
          const c = client();
          await c.withAbortSignal(call.signal, () =>
            c.workflow.getHandle(workflowId).signal(containerFailedSignal, f),
          );
          delivered++;
        } catch (err) {
          // No resilience policy for that service (never started, or completed).
          if (err instanceof WorkflowNotFoundError) return void missing?.add(workflowId);
          throw err;
        } finally {
          ctx.cancellationSignal.removeEventListener('abort', abortCall);
        }
      };
      const failureOf = (
        e: ContainerEvent,
        at: { atMs: number; exitCode?: number },
        source: 'event' | 'relist',
      ): ContainerFailure => ({
        app: e.app,
        service: e.service,
        instance: e.instance,
        containerId: e.id,
        kind: e.kind as ContainerFailure['kind'],
        ...(at.exitCode !== undefined ? { exitCode: at.exitCode } : {}),
        atMs: at.atMs,
        hostId: req.hostId,
        source,
      });
      const relist = async (): Promise<void> => {
        const missing = new Set<string>();
        for (const e of await relistFailed(await docker())) {
          const at = {
            atMs: Math.round(e.timeNano / 1e6),
            ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
          };
          await signalFailure(failureOf(e, at, 'relist'), missing);
        }
      };

      const stop = new AbortController();
      const onCancel = () => stop.abort();
      ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
      const deadline = setTimeout(() => stop.abort(), req.runForMs);
      const beat = () => ctx.heartbeat({ lastEventS } satisfies WatchHeartbeat);
      const beats = setInterval(beat, HEARTBEAT_MS);
      beat();
      try {
        const result = await watchContainerEvents(docker, {
          ...(lastEventS !== undefined ? { since: lastEventS } : {}),
          signal: stop.signal,
          ...(req.reconnectDelayMs !== undefined ? { reconnectDelayMs: req.reconnectDelayMs } : {}),
          // The first subscription is treated as following a gap too: what failed before it (or
          // while no watcher ran) is found by the re-list, with the stream already open.
          gapOnFirstConnect: true,
          onGap: relist,
          onEvent: async (e) => {
            if (FAILURE_KINDS.has(e.kind)) {
              const at = await settleFailure(await docker(), e);
              await signalFailure(failureOf(e, at, 'event'));
            }
            lastEventS = Math.floor(e.timeNano / 1e9);
          },
        });
        if (result.lastEventS !== undefined) lastEventS = Math.max(lastEventS ?? 0, result.lastEventS);
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        throw asHostFailure(pool, err, `watch events of host ${req.hostId}`, host, dockerTarget());
      } finally {
        clearTimeout(deadline);
        clearInterval(beats);
        ctx.cancellationSignal.removeEventListener('abort', onCancel);
      }
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      return { lastEventS: lastEventS ?? Math.floor(Date.now() / 1000), delivered };
    },
  };
}

export type MonitoringActivities = ReturnType<typeof createMonitoringActivities>;
