import * as fs from 'fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stopDnsServer } from '../../src/adapters/dns';
import { destroyAllNetnsHosts } from '../../src/adapters/netns';
import { docker, multihostPrefix, removeTestApps } from './docker';

export default async function globalTeardown(): Promise<void> {
  await removeTestApps();
  // Netns hosts of this run (multihost tests name them after the pid), even if a suite crashed.
  await destroyAllNetnsHosts(multihostPrefix()).catch((err: Error) =>
    console.error(`teardown: removing netns hosts: ${err.message}`),
  );
  await stopDnsServer(docker, { network: process.env.BERTH_DNS_NETWORK }).catch((err: Error) =>
    console.error(`teardown: stopping the test DNS server: ${err.message}`),
  );
  await (globalThis as { __berthTestEnv?: TestWorkflowEnvironment }).__berthTestEnv?.teardown();
  if (process.env.BERTH_HOME?.includes('berth-test-'))
    fs.rmSync(process.env.BERTH_HOME, { recursive: true, force: true });
}
