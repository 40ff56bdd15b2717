/**
 * The cluster suite's one Temporal cluster per run: `berth cluster up` (the compiled CLI, as a user
 * runs it) in a home of this run, on ports of its own, after building the server, the schema tool
 * and the UI server into ~/.berth/bin if they are missing (minutes, once per machine). Clusters
 * left by a crashed earlier run are stopped first, by their recorded PIDs.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createDockerClient, pingDocker } from '../../../src/adapters/docker';
import { ensureBaseImage } from '../../../src/adapters/base-image';
import { findTemporalCli } from '../../../src/adapters/temporal-cli';
import { ensureClusterTools } from '../../../src/runtime/cluster/tools';
import { FIXTURE_KEY, RECORDING } from '../../support/histories';
import { runCli } from '../../support/cli';
import { CLUSTER_HOME_PREFIX, clusterEnv, recordClusterPort, stopStaleClusters } from './cluster';

export default async function globalSetup(): Promise<void> {
  const docker = createDockerClient();
  await pingDocker(docker);
  await ensureBaseImage(docker);
  // Found (or built) before any BERTH_HOME of a test exists; the variables carry them to the CLI.
  process.env.BERTH_TEMPORAL_CLI ??= findTemporalCli();
  await ensureClusterTools((line) => console.log(`cluster setup: ${line}`));
  await stopStaleClusters();

  const home = fs.mkdtempSync(path.join(os.tmpdir(), `${CLUSTER_HOME_PREFIX}${process.pid}-`));
  process.env.BERTH_TEST_CLUSTER_HOME = home;
  process.env.BERTH_TEST_CLUSTER_PORT ??= String(24233);
  recordClusterPort(home, process.env.BERTH_TEST_CLUSTER_PORT);
  // Recorded histories are sealed with the fixture key, so the replay test can open them.
  process.env.BERTH_TEST_CLUSTER_KEY = RECORDING ? FIXTURE_KEY : randomBytes(32).toString('base64');

  // Bounded: apt-get may install PostgreSQL on a bare machine.
  const up = await runCli(['cluster', 'up', '--json'], clusterEnv(), 20 * 60_000);
  if (up.code !== 0) {
    // Jest runs no globalTeardown after a failed globalSetup: take down what did start.
    await runCli(['cluster', 'down', '--purge'], clusterEnv());
    fs.rmSync(home, { recursive: true, force: true });
    throw new Error(`berth cluster up failed (${up.code}): ${up.stderr}`);
  }
  const result = JSON.parse(up.stdout) as { address: string };
  process.env.BERTH_TEST_CLUSTER_ADDRESS = result.address;
}
