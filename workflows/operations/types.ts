import type { Blueprint } from '../../src/core/blueprint/model';
import type { ActivityTuning } from '../activity-options';

export type OperationType = 'deploy' | 'scale' | 'heal' | 'destroy';

export interface OperationOptions {
  /** Pause between starting two containers (a rolling start, like Nomad's `stagger`). */
  staggerMs?: number;
  /** A failed deploy removes what it created unless this is set. */
  keepOnFailure?: boolean;
  /** Containers of one service brought up at once (default 10). */
  parallelism?: number;
  /** How long an instance may take to pass its readiness check. Default 60 s. */
  readyTimeoutMs?: number;
  activities?: ActivityTuning;
  /** Evaluation period of the app's autoscaler policies (a deploy option; overrides `pollPeriod`). */
  policyIntervalMs?: number;
}

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
