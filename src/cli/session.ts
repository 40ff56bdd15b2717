import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Client } from '@temporalio/client';
import { UserError } from '../core/errors';
import { createDockerClient, pingDocker } from '../adapters/docker';
import { berthHome, ensureBerthHome, projectRoot } from '../adapters/paths';
import {
  connectClient,
  isTemporalReachable,
  temporalTarget,
  workflowPollerCount,
  workflowUiLink,
  type TemporalTarget,
} from '../adapters/temporal';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../../workflows/api/search-attributes';
import { AppClient } from '../clients/app';
import { InventoryClient } from '../clients/inventory';
import { info } from './output';
import { stopDaemon } from '../adapters/daemon';
import { devServerDaemon, leftoverDevServer } from '../runtime/dev-server';

export interface Session {
  client: Client;
  target: TemporalTarget;
  /** The app entity workflows of this task queue. */
  apps: AppClient;
  /** The pool of this task queue. */
  inventory: InventoryClient;
}

const AUTOSTART_TIMEOUT_MS = 90_000;

/** Starts `berth server` detached (logs and pid under ~/.berth) and waits, bounded, until a worker polls. */
async function startEmbeddedInBackground(target: TemporalTarget): Promise<void> {
  const home = ensureBerthHome();
  const logFile = path.join(home, 'server.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'berth'), 'server'], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  child.unref();
  info(
    `no Temporal server at ${target.address}: started the embedded server and a worker in the background (pid ${child.pid}, log ${logFile}; stop with 'berth server stop')`,
  );
  const deadline = Date.now() + AUTOSTART_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await isTemporalReachable(target, 1000)) {
      const client = await connectClient(target);
      if ((await workflowPollerCount(client, target)) > 0) return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const lastError = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('error:'))
    .pop();
  if (child.exitCode !== null)
    throw new UserError(
      `the embedded server exited (${lastError ?? `code ${child.exitCode}`}); see ${logFile}`,
    );
  throw new UserError(
    `the embedded server did not come up within ${AUTOSTART_TIMEOUT_MS / 1000} s; see ${logFile}`,
  );
}

/**
 * Connects to Berth's Temporal server. With the embedded default (no TEMPORAL_ADDRESS) and
 * `autostart`, checks the local Docker engine first (so bad set-up changes nothing) and starts the
 * server in the background when none answers.
 */
export async function openSession({ autostart }: { autostart: boolean }): Promise<Session> {
  const target = temporalTarget();
  if (target.embedded && autostart) {
    await pingDocker(createDockerClient());
    const leftover = leftoverDevServer(berthHome());
    if (leftover !== undefined) {
      // A `berth server` that died left its dev server running without a worker: start it all again.
      await stopDaemon(devServerDaemon(berthHome()), leftover, 10_000);
      info(`stopped the dev server (pid ${leftover}) that a Berth server which is gone had left running`);
    }
    if (!(await isTemporalReachable(target))) await startEmbeddedInBackground(target);
  }
  const client = await connectClient(target);
  return {
    client,
    target,
    apps: new AppClient(client, target.taskQueue),
    inventory: new InventoryClient(client, target.taskQueue),
  };
}

/** How long a request waits for a worker to appear (one may be starting) before it is refused. */
const WORKER_WAIT_MS = 5_000;

/**
 * Refuses a request, changing nothing, when no worker polls the task queue: it would wait forever,
 * silently. Waits a few seconds first, for a worker that is starting.
 */
export async function requireWorker(session: Session): Promise<void> {
  const deadline = Date.now() + WORKER_WAIT_MS;
  for (;;) {
    let polling: number;
    try {
      polling = await workflowPollerCount(session.client, session.target);
    } catch {
      return; // not allowed to describe the queue: nothing to tell
    }
    if (polling > 0) return;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const start = session.target.embedded ? "'berth server' (or 'berth worker')" : "'berth worker'";
  throw new UserError(
    `no Berth worker polls task queue '${session.target.taskQueue}' at ${session.target.address}: start one with ${start}; nothing was changed`,
  );
}

/** Turns a failed workflow start into a one-line explanation when the cause is known. */
export function explainStartError(err: unknown): never {
  const message = (err as Error)?.message ?? String(err);
  if (/search attribute/i.test(message)) {
    throw new UserError(
      "the Temporal namespace lacks Berth's search attributes: run 'temporal operator search-attribute create --name BerthApp --type Keyword' (and BerthOperation, BerthStatus)",
    );
  }
  throw err;
}

export interface StartedRead<R> {
  workflowId: string;
  ui?: string;
  result: () => Promise<R>;
}

/** Starts a read-only workflow (status) with a unique ID. */
export async function startRead<R>(
  session: Session,
  workflowType: string,
  workflowId: string,
  args: unknown[],
  app: string,
): Promise<StartedRead<R>> {
  try {
    const handle = await session.client.workflow.start(workflowType, {
      taskQueue: session.target.taskQueue,
      workflowId,
      args,
      typedSearchAttributes: [
        { key: BERTH_APP, value: app },
        { key: BERTH_OPERATION, value: workflowType },
        { key: BERTH_STATUS, value: 'running' },
      ],
    });
    return {
      workflowId,
      ui: workflowUiLink(session.target, workflowId, handle.firstExecutionRunId),
      result: () => handle.result(),
    };
  } catch (err) {
    explainStartError(err);
  }
}

export function serverPidFile(): string {
  return path.join(berthHome(), 'server.pid');
}
