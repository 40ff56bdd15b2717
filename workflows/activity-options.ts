import { proxyActivities } from '@temporalio/workflow';
import type { BerthActivities } from '../activities';
import type { ActivityTuning } from './api/operations';

/** Activity options from an operation's `ActivityTuning` (durations are inputs: tests run in seconds). */

const retry = (maxAttempts?: number) => ({
  initialInterval: 500,
  backoffCoefficient: 2,
  maximumInterval: 10_000,
  maximumAttempts: maxAttempts ?? 5,
});

/**
 * How long the server waits for a heartbeat before it retries an activity elsewhere: every activity
 * heartbeats while it runs (the worker's `livenessHeartbeats`), so this is how long a dead worker
 * holds up what it was doing.
 */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

export function dockerActivities(tuning: ActivityTuning = {}) {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: tuning.startToCloseMs ?? 60_000,
    heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
    retry: retry(tuning.maxAttempts),
  });
}

/** Readiness waits and image builds run long: bounded by their own timeout, kept alive by heartbeats. */
export function longActivities(tuning: ActivityTuning = {}, startToCloseMs = 600_000) {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
    retry: retry(tuning.maxAttempts),
  });
}

/**
 * Used by the inventory workflow itself; its input has no tuning. Adding a host that cannot be
 * reached fails at once (the activity says so, non-retryable); sensing never throws.
 */
export function hostActivities() {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: 300_000,
    heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
    retry: retry(3),
  });
}

/** Creating a netns host starts a dockerd and an sshd: seconds, bounded. */
export function provisioningActivities() {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: 180_000,
    retry: retry(2),
  });
}
