import * as fs from 'fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  type LogLevel,
  type NativeConnectionOptions,
} from '@temporalio/worker';
import { TASK_QUEUE } from '../core/names';
import { UserError } from '../core/errors';
import { berthDataConverter } from './codec';

/** The embedded default listens on loopback; the ports move with BERTH_PORT / BERTH_UI_PORT (tests do). */
export function embeddedPort(): number {
  return Number(process.env.BERTH_PORT ?? 7233);
}

export function embeddedUiPort(): number {
  return Number(process.env.BERTH_UI_PORT ?? 8233);
}

/**
 * Where Berth's Temporal server is. `TEMPORAL_ADDRESS` unset means the embedded default (a local dev
 * server that Berth may start itself); TLS and API-key options are for a real cluster.
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  embedded: boolean;
  /** Base URL of the Web UI, for links printed by the CLI. */
  uiUrl: string;
  tls?: {
    serverName?: string;
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
  };
  apiKey?: string;
}

function readFileOption(variable: string): Buffer | undefined {
  const file = process.env[variable];
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UserError(`${variable}=${file}: ${(err as Error).message}`);
  }
}

export function temporalTarget(): TemporalTarget {
  const address = process.env.TEMPORAL_ADDRESS || undefined; // set but empty means unset
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = process.env.BERTH_TASK_QUEUE ?? TASK_QUEUE;
  const crt = readFileOption('TEMPORAL_TLS_CERT');
  const key = readFileOption('TEMPORAL_TLS_KEY');
  const ca = readFileOption('TEMPORAL_TLS_CA');
  const wantsTls = Boolean(
    crt || key || ca || process.env.TEMPORAL_TLS === 'true' || process.env.TEMPORAL_API_KEY,
  );
  if ((crt && !key) || (key && !crt))
    throw new UserError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together');
  return {
    address: address ?? `127.0.0.1:${embeddedPort()}`,
    namespace,
    taskQueue,
    embedded: !address,
    uiUrl: process.env.BERTH_UI_URL ?? (address ? '' : `http://localhost:${embeddedUiPort()}`),
    tls: wantsTls
      ? {
          serverName: process.env.TEMPORAL_TLS_SERVER_NAME,
          clientCertPair: crt && key ? { crt, key } : undefined,
          serverRootCACertificate: ca,
        }
      : undefined,
    apiKey: process.env.TEMPORAL_API_KEY,
  };
}

/** Where a frontend is and how to reach it (address, TLS, API key): all a connection needs. */
export type FrontendTarget = Pick<TemporalTarget, 'address' | 'tls' | 'apiKey'>;

function connectionOptions(target: FrontendTarget): ConnectionOptions & NativeConnectionOptions {
  return { address: target.address, tls: target.tls, apiKey: target.apiKey };
}

/** Connects a client, or fails with a one-line error naming the address. */
export async function connectClient(target: TemporalTarget, timeoutMs = 5000): Promise<Client> {
  // Outside the try: a malformed codec key is its own one-line error, not "no server reachable".
  const dataConverter = berthDataConverter();
  try {
    const connection = await Connection.connect({ ...connectionOptions(target), connectTimeout: timeoutMs });
    return new Client({ connection, namespace: target.namespace, dataConverter });
  } catch (err) {
    throw new UserError(
      `no Temporal server reachable at ${target.address}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

let sdkLoggingInstalled = false;

/** The SDK logs each worker state change at INFO; Berth shows WARN and above unless BERTH_LOG_LEVEL says otherwise. */
export function installSdkLogging(): void {
  if (sdkLoggingInstalled) return;
  sdkLoggingInstalled = true;
  const level = (process.env.BERTH_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // A runtime already exists (another connection came first): keep its logger.
  }
}

export async function connectNative(target: TemporalTarget): Promise<NativeConnection> {
  installSdkLogging();
  try {
    return await NativeConnection.connect(connectionOptions(target));
  } catch (err) {
    throw new UserError(
      `no Temporal server reachable at ${target.address}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/** A quick probe that does not throw: is a Temporal frontend answering at the address? */
export async function isTemporalReachable(target: FrontendTarget, timeoutMs = 1500): Promise<boolean> {
  try {
    const connection = await Connection.connect({ ...connectionOptions(target), connectTimeout: timeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** How many workers poll Berth's task queue right now (0 means started workflows would wait). */
/**
 * A worker long-polls for at most about a minute before it polls again; one whose last poll is older
 * than this is gone (the server lists a dead worker's poller for minutes).
 */
const POLLER_FRESH_MS = 75_000;

/** Workers polling the task queue now (their last poll is recent). */
export async function workflowPollerCount(client: Client, target: TemporalTarget): Promise<number> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: target.namespace,
    taskQueue: { name: target.taskQueue, kind: 1 },
    taskQueueType: 1,
  });
  const now = Date.now();
  return (response.pollers ?? []).filter((p) => {
    const at =
      Number(p.lastAccessTime?.seconds ?? 0) * 1000 + Math.floor((p.lastAccessTime?.nanos ?? 0) / 1e6);
    return at === 0 || now - at < POLLER_FRESH_MS;
  }).length;
}

export function workflowUiLink(
  target: TemporalTarget,
  workflowId: string,
  runId?: string,
): string | undefined {
  if (!target.uiUrl) return undefined;
  const base = `${target.uiUrl}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}
