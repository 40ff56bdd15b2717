/**
 * The contract of the autoscaler policy workflow (`berth-policy-<app>-<service>-autoscaler`, see
 * `policyWorkflowId`): input, carried and queried state, the `metric` signal (`berth sensor`, the
 * HTTP sensor endpoint) and reconfiguration. Implementation: `workflows/policies/autoscaler.ts`.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AutoscalerConfig, AutoscalerDecision, Recommendation } from '../../src/core/policy';
import type { ActivityTuning, OperationOptions } from './operations';
import type { PolicyFailure, PolicyStatus } from './policies';

export const DEFAULT_AUTOSCALER_INTERVAL_MS = 15_000;
export const DEFAULT_ITERATIONS_BEFORE_CONTINUE_AS_NEW = 500;
/** Metrics the policy samples itself from `docker stats`; any other name is pushed. */
export const SAMPLED_METRICS = ['cpu', 'memory'] as const;

export interface PushedMetric {
  name: string;
  value: number;
  atMs?: number;
}

/** A decision and, when it resized, the scale operation it asked for. */
export interface AutoscalerRecord extends AutoscalerDecision {
  operationId?: string;
  ok?: boolean;
  error?: string;
}

/** Carried across continue-as-new: nothing the policy learned is lost. */
export interface AutoscalerCarried {
  paused: boolean;
  window: Recommendation[];
  decisions: AutoscalerRecord[];
  metrics: Record<string, { value: number; atMs: number }>;
  lastMetric?: { name: string; value: number; atMs: number };
  iterations: number;
  failures: PolicyFailure[];
  noData: { count: number; lastAtMs?: number };
  current?: number;
  runs: number;
}

export interface AutoscalerPolicyInput {
  app: string;
  service: string;
  config: AutoscalerConfig;
  /** Evaluation period. Default 15 s. */
  intervalMs?: number;
  /** Continue-as-new after this many evaluations (or when the server suggests it). Default 500. */
  iterationsBeforeContinueAsNew?: number;
  /** Options of the scale operations the policy asks for. */
  operationOptions?: OperationOptions;
  activities?: ActivityTuning;
  state?: AutoscalerCarried;
}

export interface AutoscalerPolicyState extends AutoscalerCarried {
  kind: 'autoscaler';
  app: string;
  service: string;
  status: PolicyStatus;
  config: AutoscalerConfig;
  intervalMs: number;
}

/** A new configuration: the blueprint's policy config (as parsed) and, optionally, a new period. */
export interface AutoscalerReconfigure {
  config: Record<string, unknown>;
  intervalMs?: number;
}

export const metricSignal = defineSignal<[PushedMetric]>('metric');
export const autoscalerReconfigureUpdate = defineUpdate<AutoscalerPolicyState, [AutoscalerReconfigure]>(
  'reconfigure',
);
export const autoscalerReconfigureSignal = defineSignal<[AutoscalerReconfigure]>('reconfigureSignal');
