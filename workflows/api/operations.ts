/**
 * The contract of the operation child workflows (`deploy`, `scale`, `heal`, `destroy`): their input,
 * result and progress, and the options a caller may give. The app workflow, the CLI and the policy
 * activities import these; none imports the workflows themselves.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Blueprint } from '../../src/core/blueprint/model';
import type { ForwardedPort, PinnedImage } from './containers';

/** `rollback` deploys an earlier version of the app through the same rollout as a deploy. */
export type OperationType = 'deploy' | 'scale' | 'heal' | 'destroy' | 'rollback';

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

/** Who asked (the client's identity, shown by `berth history`). */
interface Requested {
  options?: OperationOptions;
  requestedBy?: string;
}

export type OperationRequest =
  | ({ type: 'deploy'; blueprint: Blueprint; secrets?: Record<string, string> } & Requested)
  | ({ type: 'scale'; service: string; replicas: number } & Requested)
  /** `allowDataLoss`: an instance whose volumes' host is gone is placed anew, with empty volumes. */
  | ({ type: 'heal'; allowDataLoss?: boolean } & Requested)
  /** `volumes`: the app's named volumes go too (`docker compose down -v`). */
  | ({ type: 'destroy'; volumes?: boolean } & Requested)
  /** An earlier version (default: the one before the current). */
  | ({ type: 'rollback'; toVersion?: number } & Requested);

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
  /** What runs before this operation (a deploy's or rollback's way back when its rollout fails). */
  previous?: PreviousVersion;
  /** The app version this operation applies (deploy, rollback). */
  version?: number;
  /** What the app decided for this operation, for its progress (kept replica counts). */
  notes?: string[];
  /** Images pinned by the deploy that applied this blueprint (scale, heal, rollback run them). */
  images?: Record<string, PinnedImage>;
  /** Instance → the host holding its named volumes. */
  volumeHosts?: Record<string, string>;
  /** Heal: place instances whose volumes' host is gone anew, with empty volumes. */
  allowDataLoss?: boolean;
  /** Destroy: remove the named volumes too. */
  removeVolumes?: boolean;
}

export interface PreviousVersion {
  blueprint: Blueprint;
  secrets?: Record<string, string>;
  replicas: Record<string, number>;
  version?: number;
  images?: Record<string, PinnedImage>;
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
  /** Ports its host forwards to it (what `berth status` shows without asking the engines). */
  ports?: ForwardedPort[];
  /** The image reference it was created from (`repo@sha256:…` when pinned). */
  image?: string;
}

/** An instance that waits for the host holding its named volumes (it is not recreated empty elsewhere). */
export interface WaitingInstance {
  service: string;
  instance: string;
  host: string;
  volumes: string[];
  /** Placement's explanation. */
  reason: string;
}

export interface OperationResult {
  app: string;
  operation: OperationType;
  network?: string;
  subnet?: string;
  instances: InstanceRecord[];
  removed: string[];
  addresses: Record<string, string>;
  /** Each image source's pin (deploy: resolved now; others: the deploy's). */
  images?: Record<string, PinnedImage>;
  volumeHosts?: Record<string, string>;
  waiting?: WaitingInstance[];
}

export interface OperationProgress {
  app: string;
  operation: OperationType;
  phase: string;
  total: number;
  done: number;
  /** Human-readable steps, in order; the CLI prints the new ones as they come. */
  events: string[];
  /** Set while the rollout waits for a person: canaries to promote or abort, or a paused failure. */
  waiting?: RolloutWait;
}

export interface RolloutWait {
  kind: 'canary' | 'paused';
  service: string;
  /** Why it waits, in one line (also the workflow's current details in the Web UI). */
  reason: string;
  /** Workflow time it began waiting. */
  sinceMs: number;
  /** The canaries (kind `canary`) or the instances that failed (kind `paused`). */
  instances: string[];
}

export const operationProgressQuery = defineQuery<OperationProgress>('progress');

/**
 * A person's answer to a waiting rollout (validated: refused unless the operation waits for it):
 * `promote` the canaries, `abort` them, `resume` a paused rollout, or `rollback` it.
 */
export const promoteUpdate = defineUpdate<string, []>('promote');
export const abortUpdate = defineUpdate<string, []>('abort');
export const resumeUpdate = defineUpdate<string, []>('resume');
export const rollbackUpdate = defineUpdate<string, []>('rollback');

/** The failure type of a rollout that failed and was rolled back, aborted, or cancelled; `details[0]` is the result. */
export const ROLLED_BACK = 'RolledBack';
