import type { Client } from '@temporalio/client';
import { appStateQuery } from '../../workflows/api/app';
import type { AutoscalerPolicyState } from '../../workflows/api/autoscaler';
import { policyStateQuery } from '../../workflows/api/policies';
import { hostWatcherWorkflowId, policyWorkflowId } from '../../src/core/names';
import type { ResiliencePolicyState } from '../../workflows/api/resilience';

/** Polls `read` until `ok` holds (bounded); fails naming what it waited for and the last value. */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}${
      lastError ? `; last error: ${(lastError as Error).message}` : ''
    }`,
  );
}

export function autoscalerState(
  client: Client,
  app: string,
  service: string,
): Promise<AutoscalerPolicyState> {
  return client.workflow
    .getHandle(policyWorkflowId(app, service, 'autoscaler'))
    .query(policyStateQuery) as Promise<AutoscalerPolicyState>;
}

export function resilienceState(
  client: Client,
  app: string,
  service: string,
): Promise<ResiliencePolicyState> {
  return client.workflow
    .getHandle(policyWorkflowId(app, service, 'resilience'))
    .query(policyStateQuery) as Promise<ResiliencePolicyState>;
}

export async function desiredReplicas(
  client: Client,
  app: string,
  service: string,
): Promise<number | undefined> {
  const state = await client.workflow.getHandle(`berth-app-${app}`).query(appStateQuery);
  return state.replicas[service];
}

/**
 * A host watcher for the local engine on `taskQueue` (what the inventory starts per host), so
 * container deaths reach the resilience policies. Reuses one already running.
 */
export async function startLocalWatcher(
  client: Client,
  taskQueue: string,
  runForMs = 60_000,
): Promise<string> {
  const workflowId = hostWatcherWorkflowId(taskQueue, 'local');
  await client.workflow.start('hostWatcher', {
    workflowId,
    taskQueue,
    args: [{ hostId: 'local', runForMs }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return workflowId;
}

export async function stopWorkflow(client: Client, workflowId: string): Promise<void> {
  await client.workflow
    .getHandle(workflowId)
    .cancel()
    .catch(() => undefined);
}
