import { proxyActivities } from '@temporalio/workflow';
import type { BerthActivities } from '../../activities';
import { messageOf } from '../../src/core/failures';
import type { ActivityTuning } from '../api/operations';
import type { PolicyFailure } from '../api/policies';

/**
 * What the policy workflows' implementations share (their contracts share `api/policies.ts`):
 * bounded lists, the workflow clock, failure records, activity options.
 */

export const KEEP_DECISIONS = 50;
export const KEEP_FAILURES = 20;

/** Appends and keeps the last `keep` items. */
export function pushBounded<T>(list: T[], item: T, keep: number): void {
  list.push(item);
  list.splice(0, Math.max(0, list.length - keep));
}

/** Workflow time (deterministic: the sandbox's clock is the workflow task's time). */
export function nowMs(): number {
  return new Date().getTime();
}

/** Records a failure in `policyState`, keeping the last KEEP_FAILURES. */
export function recordFailure(failures: PolicyFailure[], step: string, err: unknown): void {
  pushBounded(failures, { atMs: nowMs(), step, message: messageOf(err) }, KEEP_FAILURES);
}

/** Short calls (read the app's state, docker start): bounded, a few retries. */
export function quickPolicyActivities(tuning: ActivityTuning = {}) {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: tuning.startToCloseMs ?? 30_000,
    retry: {
      initialInterval: 500,
      backoffCoefficient: 2,
      maximumInterval: 5_000,
      maximumAttempts: tuning.maxAttempts ?? 3,
    },
  });
}

/**
 * Calls that wait for an app operation (scale, heal): kept alive by heartbeats, cancelled with the
 * policy. A retry asks for the same operation again, which converges (nothing is made twice).
 */
export function operationPolicyActivities(tuning: ActivityTuning = {}, startToCloseMs = 15 * 60_000) {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: 10_000,
    // A cancelled policy (destroy) ends at once; the activity learns it at its next heartbeat.
    cancellationType: 'TRY_CANCEL',
    retry: {
      initialInterval: 1_000,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      maximumAttempts: tuning.maxAttempts ?? 2,
    },
  });
}
