/**
 * The contract of a host's Docker events watcher (`berth-watch-<host>`, see
 * `hostWatcherWorkflowId`), started by the inventory. Implementation: `workflows/policies/watcher.ts`.
 */
import { defineQuery } from '@temporalio/workflow';
import type { HostConnection } from '../../src/core/hosts';

export interface HostWatcherInput {
  host?: HostConnection;
  hostId: string;
  /** Length of one watching round (one activity). Default 5 minutes. */
  runForMs?: number;
  /** Rounds before continue-as-new. Default 50. */
  roundsBeforeContinueAsNew?: number;
  /** Unix seconds of the last event seen: the next round replays from there. */
  since?: number;
  /** Carried across continue-as-new. */
  totals?: { rounds: number; delivered: number; runs: number };
}

export interface HostWatcherState {
  hostId: string;
  since?: number;
  rounds: number;
  delivered: number;
  runs: number;
  status: 'watching' | 'stopped';
}

export const DEFAULT_WATCH_ROUND_MS = 300_000;
export const DEFAULT_WATCH_ROUNDS = 50;

export const hostWatcherQuery = defineQuery<HostWatcherState>('watcherState');
