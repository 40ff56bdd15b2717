import { ApplicationFailure } from '@temporalio/common';
import { isConnectionError, unreachableMessage } from '../src/adapters/docker';
import { isLocal, type DockerPool } from '../src/adapters/docker-pool';
import { dropsConnection } from '../src/adapters/ssh';
import { Failure } from '../src/core/failures';
import { describeHost, type HostConnection } from '../src/core/hosts';

/**
 * Classifies Docker failures for Temporal's retry policy: an unreachable engine or a 5xx is
 * infrastructure (retryable, bounded by the workflow's maximumAttempts); a 4xx is the user's
 * input (non-retryable, fails fast with Docker's own message).
 */
export function asActivityFailure(err: unknown, what: string, target: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (isConnectionError(err))
    return ApplicationFailure.retryable(unreachableMessage(err, target), Failure.DockerUnreachable);
  const status = (err as { statusCode?: number }).statusCode;
  const reason = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
  const message = `${what}: ${reason}`;
  if (status && status >= 400 && status < 500)
    return ApplicationFailure.nonRetryable(message, Failure.DockerRequestRejected);
  return ApplicationFailure.retryable(message, Failure.DockerError);
}

/**
 * A failure of a call to a host's engine: a broken SSH connection is dropped from the pool (it
 * reconnects on next use) and retried as `HostUnreachable`; anything else is classified as a
 * Docker failure of that host. `localTarget` names the local engine in messages.
 */
export function asHostFailure(
  pool: DockerPool,
  err: unknown,
  what: string,
  host: HostConnection | undefined,
  localTarget: string,
): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (!isLocal(host) && dropsConnection(err)) {
    pool.forget(host!.id);
    return ApplicationFailure.retryable(
      `${what} on host ${host!.id}: ${(err as Error).message}`,
      Failure.HostUnreachable,
    );
  }
  if (isLocal(host)) return asActivityFailure(err, what, localTarget);
  return asActivityFailure(err, `${what} on host ${host!.id}`, describeHost(host!));
}

export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

export function isConflict(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 409;
}

export function isNotModified(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 304;
}
