import { randomBytes } from 'crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type Docker from 'dockerode';
import { createBerthWorker } from '../../src/runtime/worker';
import { installSdkLogging } from '../../src/adapters/temporal';
import { berthDataConverter } from '../../src/adapters/codec';

// One codec key per test run, shared by the test's clients, its in-process workers and the CLI
// processes tests spawn (they inherit the environment), so no test writes ~/.berth/codec.key.
process.env.BERTH_CODEC_KEY ??= randomBytes(32).toString('base64');
import { docker as defaultDocker } from './docker';

export function testAddress(): string {
  const address = process.env.BERTH_TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('BERTH_TEST_TEMPORAL_ADDRESS unset: run through jest (globalSetup starts the server)');
  return address;
}

let queue = 0;
/** A unique task queue per test keeps tests from stealing each other's tasks. */
export function uniqueTaskQueue(stem: string): string {
  queue++;
  return `test-${stem}-${process.pid}-${queue}`;
}

export async function testClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: testAddress() });
  return {
    client: new Client({ connection, dataConverter: berthDataConverter() }),
    close: () => connection.close(),
  };
}

export async function inProcessWorker(
  taskQueue: string,
  docker: Docker = defaultDocker,
  dockerTarget?: string,
): Promise<{ worker: Worker; close: () => Promise<void> }> {
  // Expected failures (missing images, a dead engine) would otherwise log as warnings.
  process.env.BERTH_LOG_LEVEL ??= 'ERROR';
  installSdkLogging();
  const connection = await NativeConnection.connect({ address: testAddress() });
  const worker = await createBerthWorker({
    connection,
    namespace: 'default',
    taskQueue,
    docker,
    dockerTarget,
  });
  return { worker, close: () => connection.close() };
}
