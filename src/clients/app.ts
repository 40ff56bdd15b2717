/**
 * The one client of the app entity workflow: asking it for an operation (starting it on a first
 * deploy), retrying one, reading its state, and following an operation to the end. The CLI and the
 * policy activities both go through it, each with its own `Client` and task queue.
 */
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { UserError } from '../core/errors';
import { messageOf } from '../core/failures';
import { appWorkflowId } from '../core/names';
import {
  APP_WORKFLOW_TYPE,
  appStateQuery,
  operateUpdate,
  retryUpdate,
  type AppStateView,
} from '../../workflows/api/app';
import {
  abortUpdate,
  operationProgressQuery,
  promoteUpdate,
  resumeUpdate,
  rollbackUpdate,
  type OperationProgress,
  type OperationRequest,
  type OperationResult,
} from '../../workflows/api/operations';
import type { OperationRecord } from '../../workflows/api/app';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../../workflows/api/search-attributes';

/** No app workflow runs for the app. */
export class UnknownAppError extends UserError {
  constructor(readonly app: string) {
    super(`unknown app '${app}': no app workflow runs for it`);
    this.name = 'UnknownAppError';
  }
}

/** The app workflow's validator refused the request; the message is the validator's. */
export class OperationRefusedError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'OperationRefusedError';
  }
}

/** How long `settled` waits for the app workflow to record an operation's outcome (bounded). */
const SETTLE_ROUNDS = 100;
const SETTLE_INTERVAL_MS = 50;

export class AppClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /**
   * Asks the app's workflow to run an operation; a deploy starts the workflow when it is not running
   * (update-with-start). Returns the operation's child workflow ID. Refusals and unknown apps are
   * UserErrors; anything else (the server, the connection) is thrown as it is.
   */
  async operate(app: string, asked: OperationRequest): Promise<string> {
    const workflowId = appWorkflowId(app);
    const request = { ...asked, requestedBy: asked.requestedBy ?? this.client.options.identity };
    try {
      if (request.type === 'deploy') {
        const { operationId } = await this.client.workflow.executeUpdateWithStart(operateUpdate, {
          args: [request],
          startWorkflowOperation: new WithStartWorkflowOperation(APP_WORKFLOW_TYPE, {
            workflowId,
            taskQueue: this.taskQueue,
            args: [{ app }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            typedSearchAttributes: [
              { key: BERTH_APP, value: app },
              { key: BERTH_OPERATION, value: 'app' },
              { key: BERTH_STATUS, value: 'running' },
            ],
          }),
        });
        return operationId;
      }
      const { operationId } = await this.client.workflow
        .getHandle(workflowId)
        .executeUpdate(operateUpdate, { args: [request] });
      return operationId;
    } catch (err) {
      throw asAppError(err, app);
    }
  }

  /** Runs a failed operation of `app` again; returns the new operation's ID. */
  async retry(app: string, operationId: string): Promise<string> {
    try {
      const result = await this.client.workflow
        .getHandle(appWorkflowId(app))
        .executeUpdate(retryUpdate, { args: [{ operationId }] });
      return result.operationId;
    } catch (err) {
      throw asAppError(err, app);
    }
  }

  /** The app workflow's state (without secrets), or undefined when none runs or answers. */
  state(app: string): Promise<AppStateView | undefined> {
    return appState(this.client, app);
  }

  /** Like `state`, but an app without a workflow is an `UnknownAppError`. */
  async requireState(app: string): Promise<AppStateView> {
    try {
      return await this.client.workflow.getHandle(appWorkflowId(app)).query(appStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UnknownAppError(app);
      throw err;
    }
  }

  /** The apps whose workflows run on this task queue (visibility: `berth-app-*`), by name. */
  async list(): Promise<string[]> {
    const query = `WorkflowId STARTS_WITH '${appWorkflowId('')}' AND ExecutionStatus = 'Running' AND TaskQueue = '${this.taskQueue.replace(/'/g, "\\'")}'`;
    const apps: string[] = [];
    for await (const w of this.client.workflow.list({ query }))
      apps.push(w.workflowId.slice(appWorkflowId('').length));
    return apps.sort();
  }

  /** The app's operation under way (started, not finished), if any. */
  async runningOperation(app: string): Promise<OperationRecord | undefined> {
    const state = await this.requireState(app);
    return state.operations.find((o) => o.status === 'running' && o.started);
  }

  /**
   * A person's answer to the app's waiting rollout (`promote`, `abort`, `resume`, `rollback`): an
   * update of the operation, which refuses it unless it waits for that answer. Returns the operation.
   */
  async answer(app: string, answer: 'promote' | 'abort' | 'resume' | 'rollback'): Promise<string> {
    const running = await this.runningOperation(app);
    if (!running) throw new OperationRefusedError(`app '${app}' has no operation under way`);
    const def = {
      promote: promoteUpdate,
      abort: abortUpdate,
      resume: resumeUpdate,
      rollback: rollbackUpdate,
    }[answer];
    try {
      await this.client.workflow.getHandle(running.id).executeUpdate(def);
    } catch (err) {
      throw asAppError(err, app);
    }
    return running.id;
  }

  /** Cancels the app's operation under way: it cleans up (and rolls back a rollout) before it ends. */
  async cancel(app: string): Promise<string> {
    const running = await this.runningOperation(app);
    if (!running) throw new OperationRefusedError(`app '${app}' has no operation under way`);
    await this.client.workflow.getHandle(running.id).cancel();
    return running.id;
  }

  /** The app an operation belongs to (its `BerthApp` search attribute). */
  async appOfOperation(operationId: string): Promise<string> {
    let app: string | undefined;
    try {
      const description = await this.client.workflow.getHandle(operationId).describe();
      app = description.typedSearchAttributes.get(BERTH_APP);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UserError(`no workflow ${operationId}`);
      throw err;
    }
    if (!app) throw new UserError(`workflow ${operationId} is not a Berth operation`);
    return app;
  }

  /** The operation's progress, or undefined while it cannot answer. */
  async progress(operationId: string): Promise<OperationProgress | undefined> {
    return this.client.workflow
      .getHandle(operationId)
      .query(operationProgressQuery)
      .catch(() => undefined);
  }

  /** The operation's result; rejects with the operation's failure. */
  result(operationId: string): Promise<OperationResult> {
    return this.client.workflow.getHandle(operationId).result() as Promise<OperationResult>;
  }

  /**
   * The app workflow records an operation's outcome a moment after the child ends; waiting for it
   * (bounded) gives the caller read-your-writes: the next read sees this operation as finished.
   */
  async settled(app: string, operationId: string): Promise<void> {
    for (let i = 0; i < SETTLE_ROUNDS; i++) {
      const record = (await this.state(app))?.operations.find((o) => o.id === operationId);
      if (!record || record.status === 'completed' || record.status === 'failed') return;
      await new Promise((r) => setTimeout(r, SETTLE_INTERVAL_MS));
    }
  }
}

/** An app workflow's state (without secrets), or undefined when none runs or answers: a read needs no queue. */
export function appState(client: Client, app: string): Promise<AppStateView | undefined> {
  return client.workflow
    .getHandle(appWorkflowId(app))
    .query(appStateQuery)
    .catch(() => undefined);
}

/** Update failures carry the app workflow's own message (a refused validator) as their cause. */
function asAppError(err: unknown, app: string): unknown {
  if (err instanceof WorkflowNotFoundError) return new UnknownAppError(app);
  if (err instanceof WorkflowUpdateFailedError) return new OperationRefusedError(messageOf(err.cause ?? err));
  return err;
}
