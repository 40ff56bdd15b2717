import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { berthDataConverter } from '../../../src/adapters/codec';
import { clusterLayout } from '../../../src/runtime/cluster/layout';
import { clusterDown } from '../../../src/runtime/cluster';
import { LABEL } from '../../../src/core/names';
import { appContainers } from '../../support/docker';
import { runCli, startWorkerProcess, stopProcess, type CliResult } from '../../support/cli';

/**
 * What the cluster suite's tests share: the environment that points the CLI and `berth worker`
 * processes at this run's cluster (its home, ports, codec key, DNS network), a client for the
 * tests' own reads, and worker processes they can kill.
 */

export const CLUSTER_HOME_PREFIX = 'berth-cluster-test-';
const PORT_FILE = 'test-cluster-port';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} unset: run through jest --selectProjects cluster (globalSetup starts the cluster)`,
    );
  return value;
}

export function clusterAddress(): string {
  return `127.0.0.1:${required('BERTH_TEST_CLUSTER_PORT')}`;
}

/** The cluster's CLI environment; `extra` (a task queue, another key) wins. */
export function clusterEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = required('BERTH_TEST_CLUSTER_HOME');
  const port = Number(required('BERTH_TEST_CLUSTER_PORT'));
  return {
    BERTH_HOME: home,
    BERTH_CLUSTER_PORT: String(port),
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    BERTH_UI_URL: `http://localhost:${port + 1000}`,
    BERTH_CODEC_KEY: required('BERTH_TEST_CLUSTER_KEY'),
    // A DNS server and network of this suite's own (the integration suite runs its own beside it).
    BERTH_DNS_NETWORK: `berth-dns-cl${process.pid}`,
    BERTH_DNS_SUBNET: `10.209.${process.pid % 250}.0/24`,
    ...extra,
  };
}

/** Lets a later run stop this run's cluster should this one crash (see stopStaleClusters). */
export function recordClusterPort(home: string, port: string): void {
  fs.writeFileSync(path.join(home, PORT_FILE), port);
}

/** `berth cluster ARGS` against this run's cluster. */
export function clusterCli(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  return runCli(['cluster', ...args], clusterEnv(), timeoutMs);
}

export async function clusterClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  // This test file's copy of the environment: its clients seal and open payloads with the cluster's key.
  process.env.BERTH_CODEC_KEY = required('BERTH_TEST_CLUSTER_KEY');
  const connection = await Connection.connect({ address: clusterAddress() });
  return {
    client: new Client({ connection, namespace: 'default', dataConverter: berthDataConverter() }),
    close: () => connection.close(),
  };
}

/** Test `berth worker` processes on the cluster, stopped (SIGKILL if need be) by `stopAll`. */
export class ClusterWorkers {
  readonly processes: ChildProcess[] = [];
  constructor(readonly env: NodeJS.ProcessEnv) {}

  async start(extraEnv: NodeJS.ProcessEnv = {}, bin?: string): Promise<ChildProcess> {
    const worker = await startWorkerProcess({ ...this.env, ...extraEnv }, 90_000, [], undefined, bin);
    this.processes.push(worker);
    return worker;
  }

  async stopAll(): Promise<void> {
    for (const w of this.processes) await stopProcess(w);
  }
}

/** A one-service blueprint of `replicas` busybox instances running `command`, written to `dir`. */
export function writeBlueprint(dir: string, app: string, command: string, replicas: number): string {
  const file = path.join(dir, `${app}.yaml`);
  fs.writeFileSync(
    file,
    `id: ${app}\nservices:\n  - id: web\n    type: cluster\n    initialSize: ${replicas}\n    image: berth/busybox:1\n    command: ${command}\n    ports: ["8080"]\n`,
  );
  return file;
}

export const HTTPD = '[sh, -c, "exec httpd -f -p 8080 -h /www"]';
/** Answers only after 3 s: a kill lands inside the instance's readiness wait. */
export const SLOW_HTTPD = '[sh, -c, "sleep 3; exec httpd -f -p 8080 -h /www"]';

/** Exactly `web-1`…`web-<replicas>`, each once and running: nothing lost, nothing doubled. */
export async function expectExactly(app: string, replicas: number): Promise<void> {
  const containers = await appContainers(app);
  expect(containers.map((c) => c.Labels[LABEL.instance]).sort()).toEqual(
    Array.from({ length: replicas }, (_, i) => `web-${i + 1}`).sort(),
  );
  expect(containers.map((c) => c.State)).toEqual(containers.map(() => 'running'));
}

/**
 * Stops clusters of earlier runs whose jest process is gone (a crash skips globalTeardown): their
 * processes by the PIDs their homes record, then their homes.
 */
export async function stopStaleClusters(): Promise<void> {
  const tmp = os.tmpdir();
  for (const name of fs.readdirSync(tmp).filter((n) => n.startsWith(CLUSTER_HOME_PREFIX))) {
    const owner = Number(name.slice(CLUSTER_HOME_PREFIX.length).split('-')[0]);
    if (Number.isInteger(owner) && fs.existsSync(`/proc/${owner}`)) continue;
    const home = path.join(tmp, name);
    let port = '';
    try {
      port = fs.readFileSync(path.join(home, PORT_FILE), 'utf8').trim();
    } catch {
      // no port recorded: the default layout's markers still find the Temporal processes and PostgreSQL
    }
    const layout = clusterLayout({ BERTH_HOME: home, ...(port ? { BERTH_CLUSTER_PORT: port } : {}) });
    await clusterDown(layout, undefined, { purge: true }).catch((err: Error) =>
      console.error(`cluster setup: stopping the stale cluster in ${home}: ${err.message}`),
    );
    fs.rmSync(home, { recursive: true, force: true });
  }
}
