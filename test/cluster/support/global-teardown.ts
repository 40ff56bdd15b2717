import * as fs from 'fs';
import { stopDnsServer } from '../../../src/adapters/dns';
import { docker, removeTestApps } from '../../support/docker';
import { clusterCli, clusterEnv } from './cluster';

/** Removes this run's apps (by label), its DNS server, then the cluster (by PID) and its home. */
export default async function globalTeardown(): Promise<void> {
  const home = process.env.BERTH_TEST_CLUSTER_HOME;
  if (!home) return;
  await removeTestApps();
  // The DNS server lives in the cluster's home (dnsPaths reads BERTH_HOME), with its own network.
  const saved = process.env.BERTH_HOME;
  process.env.BERTH_HOME = home;
  await stopDnsServer(docker, { network: clusterEnv().BERTH_DNS_NETWORK })
    .catch((err: Error) => console.error(`cluster teardown: stopping the DNS server: ${err.message}`))
    .finally(() => (saved === undefined ? delete process.env.BERTH_HOME : (process.env.BERTH_HOME = saved)));
  const down = await clusterCli(['down', '--purge']);
  if (down.code !== 0) console.error(`cluster teardown: berth cluster down failed: ${down.stderr}`);
  fs.rmSync(home, { recursive: true, force: true });
}
