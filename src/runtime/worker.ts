import * as fs from 'fs';
import * as path from 'path';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type Docker from 'dockerode';
import { createActivities } from '../../activities';
import { projectRoot } from '../adapters/paths';
import { ensureRegistry } from '../adapters/images';
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

export async function createBerthWorker(options: BerthWorkerOptions): Promise<Worker> {
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
  });
}
