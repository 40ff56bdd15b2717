import type { OperationRequest, OperationResult } from '../../workflows/api/operations';
import { workflowUiLink } from '../adapters/temporal';
import { announceStarted, info, printJson, table } from './output';
import { explainStartError, requireWorker, type Session } from './session';

/**
 * Asks the app's entity workflow to run an operation (a deploy starts the app workflow when it is
 * not running). Returns the operation's child workflow ID.
 */
export async function requestOperation(
  session: Session,
  app: string,
  request: OperationRequest,
): Promise<string> {
  await requireWorker(session);
  try {
    return await session.apps.operate(app, request);
  } catch (err) {
    explainStartError(err);
  }
}

export async function requestRetry(session: Session, operationId: string): Promise<string> {
  await requireWorker(session);
  const app = await session.apps.appOfOperation(operationId);
  try {
    return await session.apps.retry(app, operationId);
  } catch (err) {
    explainStartError(err);
  }
}

async function followProgress(session: Session, operationId: string, done: Promise<unknown>): Promise<void> {
  let shown = 0;
  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  // Ends when the operation does; each round waits at most 300 ms.
  while (!finished) {
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 300))]);
    const progress = await session.apps.progress(operationId);
    if (!progress) continue;
    for (const line of progress.events.slice(shown)) info(`  ${line}  [${progress.done}/${progress.total}]`);
    shown = progress.events.length;
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
  const result = session.apps.result(operationId);
  if (!opts.json) await followProgress(session, operationId, result);
  const app = await session.apps.appOfOperation(operationId).catch(() => undefined);
  await result
    .finally(() => (app ? session.apps.settled(app, operationId) : undefined))
    .catch(() => undefined);
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
