/**
 * The one client of the pool's inventory workflow (one per task queue): updates that start it on
 * first use (update-with-start), and its queries. The CLI's `berth hosts` and the operations'
 * inventory activities both go through it.
 */
import { randomUUID } from 'crypto';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { UserError } from '../core/errors';
import { Failure, innermost } from '../core/failures';
import { inventoryWorkflowId } from '../core/names';
import {
  INVENTORY_WORKFLOW_TYPE,
  hostsQuery,
  inventoryQuery,
  type HostView,
  type InventoryState,
} from '../../workflows/api/inventory';

/**
 * The inventory refused an update (no host fits, a host that cannot be added, an unknown host):
 * the innermost message, and its failure type (`InventoryRejected` when it had none).
 */
export class InventoryRejectedError extends UserError {
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
    this.name = 'InventoryRejectedError';
  }
}

/** How long an update keeps being asked again while Temporal pushes back. */
const PUSHBACK_RETRY_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Temporal refused or dropped the update before the workflow ran it: safe to ask again. */
function isPushback(err: unknown): boolean {
  let e = err as { message?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++, e = e.cause as typeof e)
    if (/concurrent in-flight updates|workflow update was aborted$/i.test(e.message ?? '')) return true;
  return false;
}

export class InventoryClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  get workflowId(): string {
    return inventoryWorkflowId(this.taskQueue);
  }

  /**
   * Sends an update, starting the inventory when it does not run yet. The pool's one inventory
   * takes every operation's reservations: when Temporal pushes back (more unfinished updates than
   * `history.maxInFlightUpdates` admits, 10 by default, or an update aborted by the server before
   * the workflow ran it) it is asked again, bounded and jittered, under the same update ID, so the
   * workflow applies it at most once.
   */
  async update<Ret, Args extends unknown[]>(def: UpdateDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
    const updateId = randomUUID();
    const deadline = Date.now() + PUSHBACK_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.updateOnce(def, args, updateId);
      } catch (err) {
        if (!isPushback(err) || Date.now() >= deadline) throw err;
        await sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }

  private async updateOnce<Ret, Args extends unknown[]>(
    def: UpdateDefinition<Ret, Args>,
    args: Args,
    updateId: string,
  ): Promise<Ret> {
    try {
      return await this.client.workflow.executeUpdateWithStart(def, {
        args,
        updateId,
        startWorkflowOperation: new WithStartWorkflowOperation(INVENTORY_WORKFLOW_TYPE, {
          workflowId: this.workflowId,
          taskQueue: this.taskQueue,
          args: [{}],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        // An activity's failure inside the update (adding a host) is wrapped once more.
        const cause = innermost(err);
        throw new InventoryRejectedError(
          cause.message ?? err.message,
          cause.type ?? Failure.InventoryRejected,
        );
      }
      throw err;
    }
  }

  /** The whole state (hosts with their connections, reservations, subnets), or undefined. */
  async state(): Promise<InventoryState | undefined> {
    return this.client.workflow
      .getHandle(this.workflowId)
      .query(inventoryQuery)
      .catch(() => undefined);
  }

  /** The hosts as `berth hosts list` shows them. */
  async hosts(): Promise<HostView[]> {
    return this.client.workflow.getHandle(this.workflowId).query(hostsQuery);
  }
}
