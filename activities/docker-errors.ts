import { ApplicationFailure } from '@temporalio/common';
import { isConnectionError, unreachableMessage } from '../src/adapters/docker';

/**
 * Classifies Docker failures for Temporal's retry policy: an unreachable engine or a 5xx is
 * infrastructure (retryable, bounded by the workflow's maximumAttempts); a 4xx is the user's
 * input (non-retryable, fails fast with Docker's own message).
 */
export function asActivityFailure(err: unknown, what: string, target: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (isConnectionError(err))
    return ApplicationFailure.retryable(unreachableMessage(err, target), 'DockerUnreachable');
  const status = (err as { statusCode?: number }).statusCode;
  const reason = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
  const message = `${what}: ${reason}`;
  if (status && status >= 400 && status < 500)
    return ApplicationFailure.nonRetryable(message, 'DockerRequestRejected');
  return ApplicationFailure.retryable(message, 'DockerError');
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
