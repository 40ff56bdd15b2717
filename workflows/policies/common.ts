import { defineQuery, defineSignal, proxyActivities } from '@temporalio/workflow';
import type { BerthActivities } from '../../activities';
import type { ActivityTuning } from '../activity-options';

/**
 * What every policy workflow shares: the pause/resume signals, the `policyState` query name, the
 * reconfigure signal the app workflow sends (workflows cannot send updates), bounded lists and the
 * workflow clock.
 */

export type PolicyKind = 'autoscaler' | 'resilience';
export const POLICY_KINDS: PolicyKind[] = ['autoscaler', 'resilience'];
export type PolicyStatus = 'active' | 'paused' | 'stopped';

export const pauseSignal = defineSignal<[]>('pause');
export const resumeSignal = defineSignal<[]>('resume');

/** Either policy's state; `kind` tells which. */
export const policyStateQuery = defineQuery<{
  kind: PolicyKind;
  app: string;
  service: string;
  status: PolicyStatus;
}>('policyState');

/** A failure worth showing in `policyState` (an activity that failed, a bad reconfigure signal). */
export interface PolicyFailure {
  atMs: number;
  step: string;
  message: string;
}

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

/** The innermost message of a (wrapped) Temporal failure. */
export function messageOf(err: unknown): string {
  let e = err as { message?: string; cause?: unknown };
  for (let i = 0; i < 6 && e?.cause; i++) e = e.cause as typeof e;
  return e?.message ?? String(err);
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
