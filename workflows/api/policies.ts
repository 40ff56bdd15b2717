/**
 * What the contracts of every policy workflow share (autoscaler, resilience): the kinds, the
 * pause/resume signals and the `policyState` query, and how the app workflow records its policies.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

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

/** The app workflow's record of one of its policy workflows. */
export interface PolicyRecord {
  kind: PolicyKind;
  service: string;
  /** The configuration last sent to the policy (canonical JSON). */
  fingerprint?: string;
  error?: string;
}
