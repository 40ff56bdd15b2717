/**
 * The contract of the operation child workflows (`deploy`, `scale`, `heal`, `destroy`): their input,
 * result and progress, and the options a caller may give. The app workflow, the CLI and the policy
 * activities import these; none imports the workflows themselves.
 */
import { defineQuery } from '@temporalio/workflow';
import type { Blueprint } from '../../src/core/blueprint/model';

export type OperationType = 'deploy' | 'scale' | 'heal' | 'destroy';

/** Durations are inputs, so tests can run in seconds and operators can tune them. */
export interface ActivityTuning {
  /** Upper bound for one Docker call (create, start, remove). Default 60 s. */
  startToCloseMs?: number;
  /** Attempts before an infrastructure failure (engine unreachable, 5xx) fails the operation. Default 5. */
  maxAttempts?: number;
}

export interface OperationOptions {
  /** Pause between starting two containers (a rolling start, like Nomad's `stagger`). */
  staggerMs?: number;
  /** A failed deploy removes what it created unless this is set. */
  keepOnFailure?: boolean;
  /** Containers of one service brought up at once (default `OPERATION_DEFAULTS.parallelism`). */
  parallelism?: number;
  /** How long an instance may take to pass its readiness check (default `OPERATION_DEFAULTS.readyTimeoutMs`). */
  readyTimeoutMs?: number;
  activities?: ActivityTuning;
  /** Evaluation period of the app's autoscaler policies (a deploy option; overrides `pollPeriod`). */
  policyIntervalMs?: number;
}

/**
 * The one home of the operation defaults the CLI shows and the workflows apply. Parallelism: the
 * engine serialises much of the work, and a bounded number in flight beats flooding it (measured
 * with bench:deploy).
 */
export const OPERATION_DEFAULTS = {
  parallelism: 10,
  readyTimeoutMs: 60_000,
} as const;

export type OperationRequest =
  | { type: 'deploy'; blueprint: Blueprint; secrets?: Record<string, string>; options?: OperationOptions }
  | { type: 'scale'; service: string; replicas: number; options?: OperationOptions }
  | { type: 'heal'; options?: OperationOptions }
  | { type: 'destroy'; options?: OperationOptions };

/** What an operation child workflow gets: the app's desired state, as the app workflow holds it. */
export interface OperationInput {
  operation: OperationType;
  app: string;
  blueprint?: Blueprint;
  replicas: Record<string, number>;
  /** Addresses Berth assigned, by instance; a replaced container keeps its address. */
  addresses: Record<string, string>;
  secrets?: Record<string, string>;
  options: OperationOptions;
}

export interface InstanceRecord {
  service: string;
  instance: string;
  container: string;
  id: string;
  host: string;
  ip?: string;
  dnsNames: string[];
  action: 'created' | 'started' | 'recreated' | 'kept';
}

export interface OperationResult {
  app: string;
  operation: OperationType;
  network?: string;
  subnet?: string;
  instances: InstanceRecord[];
  removed: string[];
  addresses: Record<string, string>;
}

export interface OperationProgress {
  app: string;
  operation: OperationType;
  phase: string;
  total: number;
  done: number;
  /** Human-readable steps, in order; the CLI prints the new ones as they come. */
  events: string[];
}

export const operationProgressQuery = defineQuery<OperationProgress>('progress');
