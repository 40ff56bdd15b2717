/**
 * The contract of the resilience policy workflow (`berth-policy-<app>-<service>-resilience`, see
 * `policyWorkflowId`): Brooklyn's ServiceRestarter and ServiceReplacer for one service. Input,
 * carried and queried state, the `containerFailed` signal host watchers send, `reset` and
 * reconfiguration. Implementation: `workflows/policies/resilience.ts`.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FailureDetectorConfig, FailureHistory, RecoveryConfig } from '../../src/core/policy';
import type { ContainerFailure } from '../../src/core/policy/events';
import type { ActivityTuning, OperationOptions } from './operations';
import type { PolicyFailure, PolicyStatus } from './policies';

export const DEFAULT_EVENTS_BEFORE_CONTINUE_AS_NEW = 500;

export type InstanceHealthState = 'ok' | 'recovering' | 'gave-up';

export interface InstanceHealth {
  instance: string;
  /** Failures seen in total. */
  failures: number;
  /** Failures in the current window (of the policy that acted last). */
  failuresInWindow: number;
  state: InstanceHealthState;
  reason?: string;
  containerId?: string;
  hostId?: string;
  restarts: FailureHistory;
  replacements: FailureHistory;
}

export interface ResilienceAction {
  atMs: number;
  instance: string;
  action: 'restart' | 'replace' | 'give-up' | 'ignore';
  kind?: ContainerFailure['kind'];
  containerId?: string;
  delayMs?: number;
  failuresInWindow?: number;
  /** `restarted`, `running`, `replaced`, `failed`, or why nothing was done. */
  result: string;
  ok: boolean;
  operationId?: string;
  /** The container running the instance afterwards (a replacement has a new one). */
  newContainerId?: string;
  error?: string;
}

export interface ResilienceCarried {
  paused: boolean;
  instances: Record<string, InstanceHealth>;
  actions: ResilienceAction[];
  /** Dedupe keys `<containerId>@<atMs>` of the failures already taken. */
  seen: string[];
  pending: ContainerFailure[];
  failures: PolicyFailure[];
  events: number;
  runs: number;
}

export interface ResiliencePolicyInput {
  app: string;
  service: string;
  restarter?: RecoveryConfig;
  replacer?: RecoveryConfig;
  detector?: FailureDetectorConfig;
  eventsBeforeContinueAsNew?: number;
  operationOptions?: OperationOptions;
  activities?: ActivityTuning;
  state?: ResilienceCarried;
}

export interface ResiliencePolicyState {
  kind: 'resilience';
  app: string;
  service: string;
  status: PolicyStatus;
  restarter?: RecoveryConfig;
  replacer?: RecoveryConfig;
  detector?: FailureDetectorConfig;
  instances: Omit<InstanceHealth, 'restarts' | 'replacements'>[];
  actions: ResilienceAction[];
  pending: number;
  events: number;
  failures: PolicyFailure[];
  runs: number;
}

/** Raw (blueprint) configurations; `null` removes that half, absent keeps it. */
export interface ResilienceReconfigure {
  restarter?: Record<string, unknown> | null;
  replacer?: Record<string, unknown> | null;
  detector?: Record<string, unknown> | null;
}

/** Sent by the host watchers' `watchHostEvents` activity when an instance's container dies. */
export const containerFailedSignal = defineSignal<[ContainerFailure]>('containerFailed');
/** Clears give-ups and failure histories: of one instance, or of all. */
export const resetSignal = defineSignal<[{ instance?: string }?]>('reset');
export const resilienceReconfigureUpdate = defineUpdate<ResiliencePolicyState, [ResilienceReconfigure]>(
  'reconfigure',
);
export const resilienceReconfigureSignal = defineSignal<[ResilienceReconfigure]>('reconfigureSignal');
