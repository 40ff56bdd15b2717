import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { removeTestApps } from './docker';

export default async function globalTeardown(): Promise<void> {
  await removeTestApps();
  await (globalThis as { __berthTestEnv?: TestWorkflowEnvironment }).__berthTestEnv?.teardown();
}
