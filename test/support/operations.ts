import type { Client } from '@temporalio/client';
import { parseBlueprint } from '../../src/core/blueprint/parse';
import type { Blueprint } from '../../src/core/blueprint/model';
import { requestOperation } from '../../src/cli/operation';
import { AppClient } from '../../src/clients/app';
import { InventoryClient } from '../../src/clients/inventory';
import type { Session } from '../../src/cli/session';
import type { OperationRequest, OperationResult } from '../../workflows/api/operations';
import { testAddress } from './temporal';

/** Test durations: seconds, not minutes. */
export const FAST = { activities: { startToCloseMs: 20_000, maxAttempts: 2 }, readyTimeoutMs: 10_000 };

export function session(client: Client, taskQueue: string): Session {
  return {
    client,
    target: { address: testAddress(), namespace: 'default', taskQueue, embedded: false, uiUrl: '' },
    apps: new AppClient(client, taskQueue),
    inventory: new InventoryClient(client, taskQueue),
  };
}

export function blueprintOf(yaml: string): Blueprint {
  return parseBlueprint(yaml, 'test.yaml');
}

/** Runs one operation through the app workflow, as the CLI does, and waits for its result. */
export async function operate(s: Session, app: string, request: OperationRequest): Promise<OperationResult> {
  const operationId = await requestOperation(s, app, { options: FAST, ...request } as OperationRequest);
  try {
    return await s.client.workflow.getHandle(operationId).result();
  } finally {
    await s.apps.settled(app, operationId);
  }
}

export async function operateExpectingFailure(
  s: Session,
  app: string,
  request: OperationRequest,
): Promise<{ operationId: string; error: Error }> {
  const operationId = await requestOperation(s, app, { options: FAST, ...request } as OperationRequest);
  const error = await s.client.workflow
    .getHandle(operationId)
    .result()
    .then(
      () => new Error('operation unexpectedly succeeded'),
      (e: Error) => e,
    );
  await s.apps.settled(app, operationId);
  return { operationId, error };
}

export { innermost } from '../../src/core/failures';
