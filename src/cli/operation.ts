import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { UserError } from '../core/errors';
import { appWorkflowId } from '../core/names';
import { workflowUiLink } from '../adapters/temporal';
import { app as appWorkflow, appStateQuery, operateUpdate, retryUpdate } from '../../workflows/app';
import type { OperationProgress, OperationRequest, OperationResult } from '../../workflows/operations/types';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../../workflows/search-attributes';
import { announceStarted, info, printJson, table } from './output';
import { explainStartError, warnWhenNoWorker, type Session } from './session';

/** Update failures carry the app workflow's own message (a rejected validator) as their cause. */
function unwrapUpdateError(err: unknown, app: string): never {
  if (err instanceof WorkflowNotFoundError)
    throw new UserError(`unknown app '${app}': no app workflow runs for it`);
  if (err instanceof WorkflowUpdateFailedError)
    throw new UserError((err.cause as Error | undefined)?.message ?? err.message);
  explainStartError(err);
}

/**
 * Asks the app's entity workflow to run an operation; a deploy starts the app workflow when it is not
 * running (update-with-start). Returns the operation's child workflow ID.
 */
export async function requestOperation(
  session: Session,
  app: string,
  request: OperationRequest,
): Promise<string> {
  await warnWhenNoWorker(session);
  const workflowId = appWorkflowId(app);
  try {
    if (request.type === 'deploy') {
      const { operationId } = await session.client.workflow.executeUpdateWithStart(operateUpdate, {
        args: [request],
        startWorkflowOperation: new WithStartWorkflowOperation(appWorkflow, {
          workflowId,
          taskQueue: session.target.taskQueue,
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
    const { operationId } = await session.client.workflow
      .getHandle(workflowId)
      .executeUpdate(operateUpdate, { args: [request] });
    return operationId;
  } catch (err) {
    unwrapUpdateError(err, app);
  }
}

export async function requestRetry(session: Session, operationId: string): Promise<string> {
  let app: string | undefined;
  try {
    const description = await session.client.workflow.getHandle(operationId).describe();
    app = description.typedSearchAttributes.get(BERTH_APP);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`no workflow ${operationId}`);
    throw err;
  }
  if (!app) throw new UserError(`workflow ${operationId} is not a Berth operation`);
  try {
    const result = await session.client.workflow
      .getHandle(appWorkflowId(app))
      .executeUpdate(retryUpdate, { args: [{ operationId }] });
    return result.operationId;
  } catch (err) {
    unwrapUpdateError(err, app);
  }
}

async function followProgress(handle: WorkflowHandle, done: Promise<unknown>): Promise<void> {
  let shown = 0;
  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  // Ends when the operation does; each round waits at most 300 ms.
  while (!finished) {
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 300))]);
    const progress = await handle.query<OperationProgress>('progress').catch(() => undefined);
    if (!progress) continue;
    for (const line of progress.events.slice(shown)) info(`  ${line}  [${progress.done}/${progress.total}]`);
    shown = progress.events.length;
  }
}

/**
 * The app workflow records an operation's outcome a moment after the child ends; waiting for it
 * (bounded) gives the caller read-your-writes: the next command sees this operation as finished.
 */
export async function settled(session: Session, app: string, operationId: string): Promise<void> {
  const handle = session.client.workflow.getHandle(appWorkflowId(app));
  for (let i = 0; i < 100; i++) {
    const state = await handle.query(appStateQuery).catch(() => undefined);
    const record = state?.operations.find((o) => o.id === operationId);
    if (!record || record.status === 'completed' || record.status === 'failed') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Prints the operation's ID and link, follows its progress, and prints its result. */
export async function followOperation(
  session: Session,
  operationId: string,
  opts: { json?: boolean; detach?: boolean; verb: string },
): Promise<OperationResult | undefined> {
  const ui = workflowUiLink(session.target, operationId);
  announceStarted({ workflowId: operationId, ui }, opts.verb);
  if (opts.detach) {
    if (opts.json) printJson({ workflowId: operationId, ui });
    return undefined;
  }
  const handle = session.client.workflow.getHandle(operationId);
  const result = handle.result() as Promise<OperationResult>;
  if (!opts.json) await followProgress(handle, result);
  const app = (await handle.describe()).typedSearchAttributes.get(BERTH_APP);
  await result.finally(() => (app ? settled(session, app, operationId) : undefined)).catch(() => undefined);
  const outcome = await result;
  if (opts.json) {
    printJson({ workflowId: operationId, ui, ...outcome });
    return outcome;
  }
  info(
    `${outcome.operation} of ${outcome.app} completed: ${outcome.instances.length} instance(s)${outcome.removed.length ? `, removed ${outcome.removed.join(', ')}` : ''}`,
  );
  if (outcome.instances.length > 0) {
    info(
      table([
        ['SERVICE', 'INSTANCE', 'HOST', 'IP', 'DNS', 'CONTAINER'],
        ...outcome.instances.map((i) => [
          i.service,
          i.instance,
          i.host,
          i.ip ?? '-',
          i.dnsNames[0] ?? '-',
          i.container,
        ]),
      ]),
    );
  }
  return outcome;
}
