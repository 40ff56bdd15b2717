/**
 * The contract of the app entity workflow (`berth-app-<app>`, see `appWorkflowId`): its input and
 * state, and the updates and query its clients send. Implementation: `workflows/app.ts`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Blueprint } from '../../src/core/blueprint/model';
import type { PinnedImage } from './containers';
import type { InstanceRecord, OperationRequest, OperationType, WaitingInstance } from './operations';
import type { PolicyRecord } from './policies';

/** The workflow type, for clients that start it (update-with-start). */
export const APP_WORKFLOW_TYPE = 'app';

export interface OperationRecord {
  id: string;
  type: OperationType;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  /** Set once the child workflow exists, so the ID handed to the caller can be followed. */
  started?: boolean;
  error?: string;
  /** Kept for `berth retry` (dropped from old records to keep the state small). */
  request?: OperationRequest;
  /** The version a deploy or rollback applies (or tried to). */
  version?: number;
  /** Workflow times it was asked for, started and ended. */
  queuedAtMs?: number;
  startedAtMs?: number;
  endedAtMs?: number;
  requestedBy?: string;
}

/** One applied blueprint, numbered from 1; the app keeps the last `KEEP_VERSIONS`. */
export interface AppVersion {
  version: number;
  blueprint: Blueprint;
  appliedAtMs: number;
  /** The operation that applied it. */
  operationId: string;
  /** A rollback: the earlier version whose blueprint it applied again. */
  rollbackOf?: number;
  /** The digests its image sources were pinned to. */
  images?: Record<string, PinnedImage>;
}

export interface AppState {
  app: string;
  phase: 'new' | 'running' | 'failed' | 'destroyed';
  blueprint?: Blueprint;
  replicas: Record<string, number>;
  addresses: Record<string, string>;
  secrets?: Record<string, string>;
  subnet?: string;
  instances: InstanceRecord[];
  seq: number;
  operations: OperationRecord[];
  /** The app's policy workflows (by workflow ID), started after deploy/scale/heal. */
  policies?: Record<string, PolicyRecord>;
  /** The last deploy's `policyIntervalMs` option. */
  policyIntervalMs?: number;
  /** Applied blueprints, newest last. */
  versions?: AppVersion[];
  /** The running version (the last applied). */
  version?: number;
  /** What each image source runs (pinned by the last deploy or rollback). */
  images?: Record<string, PinnedImage>;
  /** Instance → the host holding its named volumes (kept across scale-downs). */
  volumeHosts?: Record<string, string>;
  /** Instances waiting for the host that holds their volumes. */
  waiting?: WaitingInstance[];
}

/** What the `state` query answers: the state without secret values. */
export type AppStateView = Omit<AppState, 'secrets'>;

export interface AppInput {
  app: string;
  state?: AppState;
}

export const operateUpdate = defineUpdate<{ operationId: string }, [OperationRequest]>('operate');
export const retryUpdate = defineUpdate<{ operationId: string }, [{ operationId: string }]>('retry');
export const appStateQuery = defineQuery<AppStateView>('state');
/** Sent by the inventory when hosts the app used have failed or are draining: the app queues a heal. */
export const hostsLostSignal = defineSignal<[{ hosts: string[]; reason: string }]>('hostsLost');
