/**
 * One real Temporal dev server per test run (the SDK's ephemeral server on the Temporal CLI that
 * scripts/setup.sh provides), and the base image on the real Docker engine.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDockerClient, pingDocker } from '../../src/adapters/docker';
import { ensureBaseImage } from '../../src/adapters/base-image';
import { findTemporalCli } from '../../src/adapters/temporal-cli';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../../workflows/api/search-attributes';

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
      // As `berth server` does: timers on time, not up to 1 s late (policies tick in milliseconds).
      extraArgs: ['--dynamic-config-value', 'history.timerProcessorMaxTimeShift="10ms"'],
    },
  });
  (globalThis as { __berthTestEnv?: TestWorkflowEnvironment }).__berthTestEnv = env;
  process.env.BERTH_TEST_TEMPORAL_ADDRESS = env.address;
  // Everything the tests' workers keep (codec key, DNS server, registry) lives in a home of this
  // run, with a DNS network and subnet of its own, so a user's Berth is never touched.
  process.env.BERTH_TEMPORAL_CLI ??= findTemporalCli(); // found before BERTH_HOME moves
  process.env.BERTH_HOME = fs.mkdtempSync(path.join(os.tmpdir(), `berth-test-${process.pid}-`));
  process.env.BERTH_DNS_NETWORK = `berth-dns-run${process.pid}`;
  process.env.BERTH_DNS_SUBNET = `10.208.${process.pid % 250}.0/24`;
}
