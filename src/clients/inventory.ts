/**
 * The one client of the pool's inventory workflow (one per task queue): updates that start it on
 * first use (update-with-start), and its queries. The CLI's `berth hosts` and the operations'
 * inventory activities both go through it.
 */
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { UserError } from '../core/errors';
import { Failure, innermost } from '../core/failures';
import { inventoryWorkflowId } from '../core/names';
import {
  INVENTORY_WORKFLOW_TYPE,
  hostsQuery,
  inventoryQuery,
  placementQuery,
  type HostView,
  type PlacementView,
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

export class InventoryClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  get workflowId(): string {
    return inventoryWorkflowId(this.taskQueue);
  }

  /** Sends an update, starting the inventory when it does not run yet. */
  async update<Ret, Args extends unknown[]>(def: UpdateDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
    try {
      return await this.client.workflow.executeUpdateWithStart(def, {
        args,
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

  /** The pool as placement sees it, for a dry run of `app` (throws WorkflowNotFoundError with no pool yet). */
  async placement(app: string): Promise<PlacementView> {
    return this.client.workflow.getHandle(this.workflowId).query(placementQuery, { app });
  }

  /** The hosts as `berth hosts list` shows them. */
  async hosts(): Promise<HostView[]> {
    return this.client.workflow.getHandle(this.workflowId).query(hostsQuery);
  }
}
