/**
 * One real Temporal dev server per test run (the SDK's ephemeral server on the Temporal CLI that
 * scripts/setup.sh provides), and the base image on the real Docker engine.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDockerClient, pingDocker } from '../../src/adapters/docker';
import { ensureBaseImage } from '../../src/adapters/base-image';
import { findTemporalCli } from '../../src/adapters/temporal-cli';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../../workflows/search-attributes';

export default async function globalSetup(): Promise<void> {
  const docker = createDockerClient();
  await pingDocker(docker);
  await ensureBaseImage(docker);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findTemporalCli() },
      ip: '127.0.0.1',
      ui: false,
      searchAttributes: [BERTH_APP, BERTH_OPERATION, BERTH_STATUS],
      log: { format: 'pretty', level: 'warn' },
    },
  });
  (globalThis as { __berthTestEnv?: TestWorkflowEnvironment }).__berthTestEnv = env;
  process.env.BERTH_TEST_TEMPORAL_ADDRESS = env.address;
}
