import * as fs from 'fs';
import * as path from 'path';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type Docker from 'dockerode';
import { createActivities } from '../../activities';
import { projectRoot } from '../adapters/paths';
import { berthDataConverter } from '../adapters/codec';

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

export async function createBerthWorker(options: BerthWorkerOptions): Promise<Worker> {
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
    }),
  });
}
