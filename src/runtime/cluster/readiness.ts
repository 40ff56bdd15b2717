import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../core/names';
import { UserError } from '../../core/errors';
import { pollUntil } from './processes';

/**
 * When is a freshly started cluster usable? The frontend answering is not enough: starting a
 * workflow needs the history service, polling needs matching, Berth's list queries need the
 * visibility store to know its search attributes, and each service learns of a new namespace on
 * its own cache refresh. Each probe below asks one of them, with the SDK's retries off (a probe
 * must fail fast) and a deadline.
 */

const PROBE_TIMEOUT_MS = 3000;
const RETENTION = '3 days';
const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

async function withConnection<T>(address: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({
    address,
    connectTimeout: PROBE_TIMEOUT_MS,
    interceptors: [],
  });
  try {
    return await connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => fn(connection));
  } finally {
    await connection.close();
  }
}

const codeOf = (err: unknown) => (err as { code?: number }).code;

export async function frontendAnswers(address: string): Promise<boolean> {
  try {
    await withConnection(address, (c) => c.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/** Registers the namespace (3 days of retention) and Berth's keyword search attributes, once. */
export async function ensureNamespace(
  address: string,
  namespace: string,
  log: (l: string) => void,
): Promise<void> {
  const ok = await pollUntil(
    async () => {
      try {
        await withConnection(address, async (c) => {
          try {
            await c.workflowService.registerNamespace({
              namespace,
              workflowExecutionRetentionPeriod: msToTs(RETENTION),
            });
            log(`registered namespace ${namespace} (retention ${RETENTION})`);
          } catch (err) {
            if (codeOf(err) !== GRPC_ALREADY_EXISTS) throw err;
          }
          const { customAttributes } = await c.operatorService.listSearchAttributes({ namespace });
          const missing = Object.values(SEARCH_ATTRIBUTES).filter((n) => !(n in (customAttributes ?? {})));
          if (missing.length === 0) return;
          await c.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: Object.fromEntries(missing.map((n) => [n, KEYWORD])),
          });
          log(`registered search attributes ${missing.join(', ')}`);
        });
        return true;
      } catch {
        // The namespace may not have reached the operator service's cache yet: ask again.
        return false;
      }
    },
    60_000,
    500,
  );
  if (!ok)
    throw new UserError(
      `could not register namespace ${namespace} and Berth's search attributes at ${address}`,
    );
}

/** One round of the probes; the first that fails names what is not ready yet. */
async function notReady(address: string, namespace: string): Promise<string | undefined> {
  try {
    return await withConnection(address, async (c) => {
      await c.workflowService.describeNamespace({ namespace });
      try {
        // NOT_FOUND comes from the history service: it is up and knows the namespace.
        await c.workflowService.describeWorkflowExecution({
          namespace,
          execution: { workflowId: 'berth-cluster-probe' },
        });
      } catch (err) {
        if (codeOf(err) !== GRPC_NOT_FOUND) return `history: ${(err as Error).message}`;
      }
      await c.workflowService.describeTaskQueue({
        namespace,
        taskQueue: {
          name: 'berth-cluster-probe',
          kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
        },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      await c.workflowService.countWorkflowExecutions({
        namespace,
        query: `${SEARCH_ATTRIBUTES.app} = "probe"`,
      });
      return undefined;
    });
  } catch (err) {
    return (err as Error).message;
  }
}

export async function waitUntilUsable(address: string, namespace: string, timeoutMs: number): Promise<void> {
  let last: string | undefined;
  const ok = await pollUntil(
    async () => (last = await notReady(address, namespace)) === undefined,
    timeoutMs,
    500,
  );
  if (!ok)
    throw new UserError(
      `the Temporal cluster at ${address} is not usable after ${timeoutMs / 1000} s: ${last}`,
    );
}
