import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { dockerTarget } from '../src/adapters/docker';
import { createDockerPool, isLocal, type DockerPool } from '../src/adapters/docker-pool';
import type { HostConnection } from '../src/core/hosts';
import { asHostFailure, isConflict, isNotFound } from './docker-errors';

/** What the container, network and readiness activities are made from. */
export interface ActivityDeps {
  /** The local engine. */
  docker: Docker;
  /** Clients for every host of the pool (the local engine among them). */
  pool?: DockerPool;
  /** How the engine is addressed, for error messages. */
  dockerTarget?: string;
  /** Host address that forwarded ports bind to (Clocker opened them to 0.0.0.0; Berth defaults to loopback). */
  publishAddress?: string;
}

/** The pool, and calls on one of its hosts with their failures classified (`asHostFailure`). */
export interface HostCalls {
  localDocker: Docker;
  pool: DockerPool;
  guarded<T>(what: string, fn: () => Promise<T>, host?: HostConnection): Promise<T>;
  /** Where a host's forwarded ports open: loopback here, the host's own address elsewhere. */
  publishOn(host?: HostConnection): string;
}

export function hostCalls({
  docker: localDocker,
  pool = createDockerPool(localDocker),
  dockerTarget: localTarget = dockerTarget(),
  publishAddress = '127.0.0.1',
}: ActivityDeps): HostCalls {
  return {
    localDocker,
    pool,
    async guarded<T>(what: string, fn: () => Promise<T>, host?: HostConnection): Promise<T> {
      try {
        return await fn();
      } catch (err) {
        throw asHostFailure(pool, err, what, host, localTarget);
      }
    },
    // Forwarded ports of a remote host open on its own address: loopback there is out of reach.
    publishOn: (host) => (isLocal(host) ? publishAddress : (host!.address ?? host!.ssh?.host ?? '0.0.0.0')),
  };
}

export function labelFilter(labels: Record<string, string>): { label: string[] } {
  return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
}

/** Heartbeats the current activity; a no-op outside one (direct calls in tests). */
export function heartbeat(details: string): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity
  }
}

/**
 * Force-removes (with their anonymous volumes) the containers carrying every one of `labels`
 * (`key=value`), a few at a time: faster than one by one, gentler than all at once. One already
 * gone, or being removed, is not an error. Returns how many this call removed.
 */
export async function removeLabelledContainers(docker: Docker, labels: string[]): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: labels } });
  let removed = 0;
  for (let i = 0; i < containers.length; i += 8) {
    await Promise.all(
      containers.slice(i, i + 8).map(async (c) => {
        try {
          await docker.getContainer(c.Id).remove({ force: true, v: true });
          removed++;
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
      }),
    );
    heartbeat(`removed ${removed} of ${containers.length}`);
  }
  return removed;
}

/** How long a removal Docker says is already in progress may take before the call fails (and is retried). */
const REMOVAL_WAIT_MS = 30_000;

/**
 * Waits until no container carries `labels`. Docker answers a removal already in progress with 409,
 * which the removers above take as done; seen under load: a destroy reported done while 9 containers
 * were still there. When some remain after REMOVAL_WAIT_MS the call fails, and its retry removes them.
 */
export async function untilGone(docker: Docker, labels: string[], waitMs = REMOVAL_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = await docker.listContainers({ all: true, filters: { label: labels } });
    if (left.length === 0) return;
    if (Date.now() >= deadline)
      throw new Error(
        `${left.length} container(s) labelled ${labels.join(', ')} still there after ${waitMs / 1000} s: ${left
          .map((c) => c.Names?.[0] ?? c.Id.slice(0, 12))
          .join(', ')}`,
      );
    heartbeat(`waiting for ${left.length} container(s) being removed`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Stops (each with its own stop signal and `StopTimeout`, as `docker stop` does, then SIGKILL) and
 * removes, with their anonymous volumes, the containers carrying every one of `labels`; all of them
 * at once up to `STOP_PARALLELISM`, so an app's removal takes about one grace period, not one per
 * container. Heartbeats while it waits. Returns how many this call removed.
 */
export async function stopLabelledContainers(docker: Docker, labels: string[]): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: labels } });
  let removed = 0;
  const beat = setInterval(() => heartbeat(`stopped ${removed} of ${containers.length}`), 2_000);
  try {
    for (let i = 0; i < containers.length; i += STOP_PARALLELISM) {
      await Promise.all(
        containers.slice(i, i + STOP_PARALLELISM).map(async (c) => {
          const container = docker.getContainer(c.Id);
          try {
            await container.stop();
          } catch (err) {
            if (isNotFound(err)) return;
            if ((err as { statusCode?: number }).statusCode !== 304) throw err; // 304: stopped already
          }
          try {
            await container.remove({ v: true });
            removed++;
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          }
        }),
      );
    }
  } finally {
    clearInterval(beat);
  }
  return removed;
}

const STOP_PARALLELISM = 16;
