import * as fs from 'fs';
import * as path from 'path';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type Docker from 'dockerode';
import { createActivities } from '../../activities';
import { projectRoot } from '../adapters/paths';
import { ensureRegistry } from '../adapters/registry';
import { berthCodec, berthDataConverter, codecKeyFile, KEY_ENV, KEY_ID_METADATA } from '../adapters/codec';
import { UserError } from '../core/errors';
import { inventoryWorkflowId } from '../core/names';
import { livenessHeartbeats } from './liveness';

/** Prebuilt by `npm run build` so a worker starts in about a second instead of bundling with webpack. */
export function prebuiltBundlePath(): string {
  return path.join(projectRoot(), 'dist', 'workflow-bundle.js');
}

export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = prebuiltBundlePath();
  if (fs.existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: require.resolve('../../workflows') };
}

export interface BerthWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  docker: Docker;
  dockerTarget?: string;
  identity?: string;
}

/**
 * `BERTH_REGISTRY`: unset (images stay on the engine that built them), `local` (Berth's own
 * registry on 127.0.0.1, started on demand), or `host:port` of an existing one. Built images are
 * pushed there so other hosts can pull them.
 */
async function registryFromEnv(): Promise<{ address: string } | undefined> {
  const setting = process.env.BERTH_REGISTRY;
  if (!setting) return undefined;
  if (setting === 'local') return { address: (await ensureRegistry()).address };
  return { address: setting };
}

/**
 * The codec key that sealed this Berth's workflows, read from the clear metadata of the first
 * payload of its inventory (every Berth that deployed anything has one); undefined when there is
 * none yet or it cannot be read.
 */
async function poolCodecKeyId(options: BerthWorkerOptions): Promise<string | undefined> {
  try {
    const { history } = await options.connection.workflowService.getWorkflowExecutionHistory({
      namespace: options.namespace,
      execution: { workflowId: inventoryWorkflowId(options.taskQueue) },
      maximumPageSize: 1,
    });
    const input = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const id = input?.metadata?.[KEY_ID_METADATA];
    return id ? Buffer.from(id).toString('utf8') : undefined;
  } catch {
    return undefined; // no inventory yet (NOT_FOUND), or not allowed to read it: nothing to compare
  }
}

/**
 * A worker with another codec key than the one this Berth's workflows were sealed with fails every
 * task it takes, and Temporal retries workflow tasks forever: it refuses to start instead.
 */
async function checkCodecKey(options: BerthWorkerOptions): Promise<void> {
  const theirs = await poolCodecKeyId(options);
  const mine = berthCodec().keyId;
  if (theirs && theirs !== mine)
    throw new UserError(
      `this worker's codec key ${mine} is not the key ${theirs} that the workflows on task queue '${options.taskQueue}' were sealed with: set ${KEY_ENV} or ${codecKeyFile()} to that key`,
    );
}

export async function createBerthWorker(options: BerthWorkerOptions): Promise<Worker> {
  await checkCodecKey(options);
  const registry = await registryFromEnv();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.identity ? { identity: options.identity } : {}),
    ...workflowSource(),
    // Payloads are encrypted before they reach the server (the codec runs outside the workflow sandbox).
    dataConverter: berthDataConverter(),
    activities: createActivities({
      docker: options.docker,
      dockerTarget: options.dockerTarget,
      publishAddress: process.env.BERTH_PUBLISH_ADDRESS,
      registry,
    }),
    interceptors: { activity: [livenessHeartbeats()] },
    // Heartbeats reach the server every few seconds at most (the SDK would otherwise send one per
    // 80% of the heartbeat timeout, leaving little margin on a loaded machine).
    maxHeartbeatThrottleInterval: '3s',
    // A workflow task waiting on the sticky queue of a worker that died goes to the others this soon.
    stickyQueueScheduleToStartTimeout: '3s',
  });
}
