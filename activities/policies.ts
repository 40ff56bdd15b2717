import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DockerPool } from '../src/adapters/docker-pool';
import { AppClient, OperationRefusedError, UnknownAppError } from '../src/clients/app';
import { InventoryClient } from '../src/clients/inventory';
import { Failure, messageOf } from '../src/core/failures';
import { LOCAL_HOST, type HostConnection } from '../src/core/hosts';
import type { InstanceObservation } from '../src/core/policy';
import { LABEL } from '../src/core/names';
import type { OperationOptions, OperationRequest, OperationResult } from '../workflows/api/operations';
import { asActivityFailure, isConflict, isNotFound, isNotModified } from './docker-errors';

/**
 * What policy workflows do to the world: read an app's desired size, ask the app workflow for a
 * scale or heal (an update, which workflows cannot send) and wait for it, and restart a container
 * in place, or look at it. Each is idempotent: a retry asks for the same size again or starts a
 * running container.
 */

export interface PolicyActivityDeps {
  pool: DockerPool;
  /** Defaults to the worker's own client (`Context.current().client`). */
  client?: Client;
}

export interface OperationOutcome {
  /** Empty when the app workflow refused the request. */
  operationId: string;
  ok: boolean;
  error?: string;
}

export interface RestartRequest {
  app: string;
  instance: string;
  containerId: string;
  hostId?: string;
  host?: HostConnection;
  /** `unhealthy`: the container still runs (its health check fails), so it is restarted. */
  kind?: 'die' | 'oom' | 'unhealthy';
}

export interface RestartOutcome {
  /** `gone`: no such container any more (removed, or being removed) — replace it instead. */
  outcome: 'restarted' | 'running' | 'gone';
  containerId: string;
}

export interface ReplaceRequest {
  app: string;
  service: string;
  instance: string;
  /** The container that failed: only it (or a stopped one) is removed, never a healthy replacement. */
  containerId?: string;
  hostId?: string;
  host?: HostConnection;
  options?: OperationOptions;
}

export interface ReplaceOutcome extends OperationOutcome {
  /** `replaced`: a heal ran; `already-replaced`: another container runs the instance already. */
  outcome: 'replaced' | 'already-replaced' | 'failed';
  /** The instance's container after the heal. */
  containerId?: string;
}

const HEARTBEAT_MS = 2_000;

/** The policies' activities, over one pool and client (a factory: long as a whole, short each). */
export function createPolicyActivities({ pool, client: injected }: PolicyActivityDeps) {
  const client = (): Client => injected ?? Context.current().client;
  const apps = () => new AppClient(client(), Context.current().info.taskQueue);

  /** How to reach the pool's hosts, by id (from the inventory workflow of this task queue). */
  async function poolConnections(): Promise<Map<string, HostConnection>> {
    const state = await new InventoryClient(client(), Context.current().info.taskQueue).state();
    const hosts = (state?.hosts ?? []) as { id: string; connection?: HostConnection }[];
    return new Map(hosts.filter((h) => h.connection).map((h) => [h.id, h.connection!]));
  }

  /** The engine a container lives on: the given host, a pool host looked up by id, else local. */
  async function dockerFor(host?: HostConnection, hostId?: string): Promise<Docker> {
    if (host) return pool.docker(host);
    if (hostId && hostId !== 'local') {
      const found = (await poolConnections()).get(hostId);
      if (found) return pool.docker(found);
    }
    return pool.docker();
  }

  async function appState(app: string) {
    try {
      return await apps().requireState(app);
    } catch (err) {
      if (err instanceof UnknownAppError)
        throw ApplicationFailure.nonRetryable(err.message, Failure.UnknownApp);
      throw err;
    }
  }

  /** Sends `operate` to the app workflow; a refused request is an outcome, not a failure. */
  async function requestOperation(app: string, request: OperationRequest): Promise<OperationOutcome> {
    try {
      return { operationId: await apps().operate(app, request), ok: true };
    } catch (err) {
      if (err instanceof UnknownAppError || err instanceof OperationRefusedError)
        return { operationId: '', ok: false, error: err.message };
      throw err;
    }
  }

  /**
   * Waits, heartbeating, for an operation's result, then (bounded) until the app workflow has
   * recorded it, so the policy's next read of the app sees the new size.
   */
  async function awaitOperation(
    app: string,
    operationId: string,
  ): Promise<{ ok: boolean; error?: string; result?: OperationResult }> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(operationId), HEARTBEAT_MS);
    try {
      ctx.heartbeat(operationId);
      const result = await Promise.race([apps().result(operationId), ctx.cancelled]);
      await apps().settled(app, operationId);
      return { ok: true, result };
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw err;
      await apps().settled(app, operationId);
      return { ok: false, error: messageOf(err) };
    } finally {
      clearInterval(beat);
    }
  }

  return {
    /** The service's desired size as the app workflow holds it (the blueprint's before any scale). */
    async serviceReplicas({ app, service }: { app: string; service: string }): Promise<number> {
      const state = await appState(app);
      if (state.phase === 'destroyed')
        throw ApplicationFailure.nonRetryable(`app '${app}' has been destroyed`, Failure.UnknownApp);
      const declared = state.blueprint?.services.find((s) => s.id === service);
      if (!declared)
        throw ApplicationFailure.nonRetryable(
          `app '${app}' has no service '${service}'`,
          Failure.UnknownService,
        );
      // A scale of this service queued or under way already decides its size (a scale-down's
      // removed containers are not failures to recover).
      const pending = state.operations
        .filter((o) => o.status === 'queued' || o.status === 'running')
        .map((o) => o.request)
        .filter((r) => r?.type === 'scale' && r.service === service)
        .at(-1);
      if (pending?.type === 'scale') return pending.replicas;
      return state.replicas[service] ?? declared.replicas;
    },

    /**
     * The hosts a service's instances run on, for `sampleServiceStats` (empty: only the local
     * engine, sample it as the default).
     */
    async serviceHosts({ app, service }: { app: string; service: string }): Promise<HostConnection[]> {
      const state = await appState(app);
      const ids = [...new Set(state.instances.filter((i) => i.service === service).map((i) => i.host))];
      if (ids.every((id) => id === 'local')) return [];
      const connections = await poolConnections();
      return ids.flatMap((id) => {
        const found = connections.get(id) ?? (id === 'local' ? LOCAL_HOST : undefined);
        return found ? [found] : [];
      });
    },

    /** Asks the app for `berth scale APP SERVICE N` and waits for the operation. */
    async scaleService(req: {
      app: string;
      service: string;
      replicas: number;
      options?: OperationOptions;
    }): Promise<OperationOutcome> {
      const requested = await requestOperation(req.app, {
        type: 'scale',
        service: req.service,
        replicas: req.replicas,
        ...(req.options ? { options: req.options } : {}),
      });
      if (!requested.ok) return requested;
      const { ok, error } = await awaitOperation(req.app, requested.operationId);
      return { operationId: requested.operationId, ok, ...(error ? { error } : {}) };
    },

    /** What the engine says of a failed container now, for the failure detector (read only). */
    async observeInstance(req: RestartRequest): Promise<InstanceObservation> {
      const docker = await dockerFor(req.host, req.hostId);
      try {
        const info = await docker.getContainer(req.containerId).inspect();
        if (info.Config.Labels?.[LABEL.app] !== req.app) return { state: 'gone' };
        const started = Date.parse(info.State.StartedAt);
        const health = (info.State as { Health?: { Status?: string } }).Health?.Status;
        return {
          state: info.State.Restarting ? 'restarting' : info.State.Running ? 'running' : 'exited',
          ...(health === 'unhealthy' ? { healthy: false } : health === 'healthy' ? { healthy: true } : {}),
          ...(Number.isFinite(started) ? { startedAtMs: started } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return { state: 'gone' };
        throw asActivityFailure(err, `inspect ${req.instance}`, req.hostId ?? 'local');
      }
    },

    /** `docker start` of the failed container itself (same id, same address, same host). */
    async restartInstance(req: RestartRequest): Promise<RestartOutcome> {
      const what = `restart ${req.instance} (${req.containerId.slice(0, 12)})`;
      const docker = await dockerFor(req.host, req.hostId);
      const container = docker.getContainer(req.containerId);
      try {
        const info = await container.inspect();
        if (info.Config.Labels?.[LABEL.app] !== req.app)
          return { outcome: 'gone', containerId: req.containerId };
        if (info.State.Running && !info.State.Restarting) {
          if (req.kind !== 'unhealthy') return { outcome: 'running', containerId: req.containerId };
          await container.restart({ t: 5 });
          return { outcome: 'restarted', containerId: req.containerId };
        }
        await container.start();
        return { outcome: 'restarted', containerId: req.containerId };
      } catch (err) {
        // 404: removed; 409: being removed; 304: started meanwhile.
        if (isNotFound(err) || isConflict(err)) return { outcome: 'gone', containerId: req.containerId };
        if (isNotModified(err)) return { outcome: 'running', containerId: req.containerId };
        throw asActivityFailure(err, what, req.hostId ?? 'local');
      }
    },

    /**
     * Removes the failed container (by label; only the one that failed, or one that is not running)
     * and asks the app for a heal, which creates the instance again through placement.
     */
    async replaceInstance(req: ReplaceRequest): Promise<ReplaceOutcome> {
      const docker = await dockerFor(req.host, req.hostId);
      try {
        const found = await docker.listContainers({
          all: true,
          filters: { label: [`${LABEL.app}=${req.app}`, `${LABEL.instance}=${req.instance}`] },
        });
        for (const c of found) {
          if (req.containerId && c.Id !== req.containerId && c.State === 'running') {
            return { outcome: 'already-replaced', operationId: '', ok: true, containerId: c.Id };
          }
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch((err: unknown) => {
              if (!isNotFound(err) && !isConflict(err)) throw err;
            });
        }
      } catch (err) {
        throw asActivityFailure(err, `remove ${req.instance}`, req.hostId ?? 'local');
      }
      const requested = await requestOperation(req.app, {
        type: 'heal',
        ...(req.options ? { options: req.options } : {}),
      });
      if (!requested.ok) return { ...requested, outcome: 'failed' };
      const { ok, error, result } = await awaitOperation(req.app, requested.operationId);
      const containerId = result?.instances.find((i) => i.instance === req.instance)?.id;
      return {
        outcome: ok ? 'replaced' : 'failed',
        operationId: requested.operationId,
        ok,
        ...(error ? { error } : {}),
        ...(containerId ? { containerId } : {}),
      };
    },
  };
}
