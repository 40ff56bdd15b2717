/**
 * `npm run bench:cluster`: BENCH_APPS (50) apps of BENCH_INSTANCES (4) busybox instances, deployed
 * all at once through 2 `berth worker` processes, then all scaled to BENCH_SCALE_TO (6), then all
 * destroyed — first against a real Temporal cluster (`berth cluster up`: PostgreSQL, four service
 * processes), then against the dev server (`temporal server start-dev`, SQLite), its peer in the
 * same run. Prints JSON: operations per second and p50/p99 latency of an operation (request to
 * result) per phase, CPU seconds of the workers, the Temporal server (and PostgreSQL) and the
 * Docker engine, the size of the databases, the cluster/dev ratios, and which part was the limit.
 * Everything runs in a temporary BERTH_HOME with ports of its own, and is removed at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Client } from '@temporalio/client';
import { parseBlueprint } from '../src/core/blueprint/parse';
import { LABEL } from '../src/core/names';
import { createDockerClient } from '../src/adapters/docker';
import { connectClient, isTemporalReachable, temporalTarget } from '../src/adapters/temporal';
import { findTemporalCli } from '../src/adapters/temporal-cli';
import { devServerArgs } from '../src/runtime/dev-server';
import { clusterLayout } from '../src/runtime/cluster/layout';
import { clusterStatus, pgOf } from '../src/runtime/cluster';
import { databaseSizes, pgBinDir } from '../src/runtime/cluster/postgres';
import { AppClient } from '../src/clients/app';
import type { OperationOptions, OperationRequest } from '../workflows/api/operations';
import { BERTH } from './support';
import { cpuSecondsBetween, cpuSnapshot, dockerPids, treePids, type Cpu } from './processes';

const APPS = Number(process.env.BENCH_APPS ?? 50);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 4);
const SCALE_TO = Number(process.env.BENCH_SCALE_TO ?? 6);
const WORKERS = 2;
const CLUSTER_PORT = 25233;
const DEV_PORT = 25633;
const QUEUE = 'bench';
/**
 * 200 instance starts at once queue at the Docker engine far beyond the 60 s a single create or
 * readiness wait may take by default: the bench measures throughput, so each may take 5 minutes.
 */
const OPTIONS: OperationOptions = { activities: { startToCloseMs: 300_000 }, readyTimeoutMs: 300_000 };

// Found before BERTH_HOME moves to the bench's home (the CLI's cache is under the user's home).
const temporalCli = findTemporalCli();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-cluster-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  BERTH_TEMPORAL_CLI: temporalCli,
  BERTH_HOME: home,
  BERTH_CODEC_KEY: randomBytes(32).toString('base64'),
  BERTH_TASK_QUEUE: QUEUE,
  BERTH_CLUSTER_PORT: String(CLUSTER_PORT),
  BERTH_DNS_NETWORK: 'berth-dns-bench-cl',
  BERTH_DNS_SUBNET: '10.207.5.0/24',
  BERTH_LOG_LEVEL: 'ERROR',
};
delete env.TEMPORAL_ADDRESS;
// This process's own clients seal payloads with the workers' key.
Object.assign(process.env, { BERTH_HOME: home, BERTH_CODEC_KEY: env.BERTH_CODEC_KEY });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function berth(args: string[], extra: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [BERTH, ...args], {
    env: { ...env, ...extra },
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (r.status !== 0)
    throw new Error(`berth ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A Temporal server to measure: where it answers, which processes are it, how big its data is. */
interface Target {
  name: 'cluster' | 'devServer';
  address: string;
  serverPids(): number[];
  storage(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

function startCluster(): Target {
  const up = JSON.parse(berth(['cluster', 'up', '--no-ui', '--json'])) as { address: string };
  const layout = clusterLayout(env);
  return {
    name: 'cluster',
    address: up.address,
    // The four Temporal services and PostgreSQL with its backends.
    serverPids: () =>
      clusterStatus(layout).flatMap((c) =>
        c.pid === undefined ? [] : c.component === 'postgres' ? treePids(c.pid) : [c.pid],
      ),
    storage: async () => databaseSizes(pgBinDir()!, pgOf(layout), ['temporal', 'temporal_visibility']),
    stop: async () => void berth(['cluster', 'down', '--purge']),
  };
}

async function startDevServer(): Promise<Target> {
  const db = path.join(home, 'dev.db');
  const child = spawn(temporalCli, [...devServerArgs(db, DEV_PORT, DEV_PORT + 1), '--headless'], {
    stdio: 'ignore',
  });
  const address = `127.0.0.1:${DEV_PORT}`;
  const target = { ...temporalTarget(), address };
  for (let i = 0; i < 240 && !(await isTemporalReachable(target, 1000)); i++) await sleep(250);
  return {
    name: 'devServer',
    address,
    serverPids: () => (child.pid ? [child.pid] : []),
    storage: async () => ({ sqlite: fs.statSync(db).size }),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });
}

/** `berth worker` against the target; resolves once it polls (bounded: 90 s). */
function startWorker(address: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BERTH, 'worker'], { env: { ...env, TEMPORAL_ADDRESS: address } });
    let output = '';
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error(`worker did not start: ${output}`))),
      90_000,
    );
    const onData = (d: Buffer) => {
      output += d;
      if (!output.includes('Berth worker polling')) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once(
      'exit',
      (code) => (clearTimeout(timer), reject(new Error(`worker exited (${code}): ${output}`))),
    );
  });
}

function blueprintOf(app: string): OperationRequest {
  // Every app's chain lets one host take them all (the default caps a host at 110 containers).
  const yaml = `id: ${app}
placement:
  - maxContainers: { maxContainers: 5000 }
  - breadthFirst
services:
  - id: web
    type: cluster
    initialSize: ${INSTANCES}
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]
`;
  return { type: 'deploy', blueprint: parseBlueprint(yaml, `${app}.yaml`), options: OPTIONS };
}

interface Phase {
  ops: number;
  /** Operations that failed, and why the first did (its causes). */
  failed: number;
  firstFailure?: string;
  wallMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuSeconds: Cpu;
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** An operation's failure with its causes (Temporal wraps an activity's error in two layers). */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { message?: string; cause?: unknown } | undefined;
    e && parts.length < 5;
    e = e.cause as typeof e
  )
    parts.push(String(e.message).split('\n')[0]);
  return parts.join(' <- ');
}

/** All operations at once, each timed from its request to its result. */
async function phase(
  client: AppClient,
  apps: string[],
  request: (app: string) => OperationRequest,
  pids: () => Record<keyof Cpu, number[]>,
): Promise<Phase> {
  const before = cpuSnapshot(pids());
  const t0 = performance.now();
  // Settled, not Promise.all: the connection must outlive every request still retrying.
  const outcomes = await Promise.allSettled(
    apps.map(async (app) => {
      const s = performance.now();
      await client.result(await client.operate(app, request(app)));
      return performance.now() - s;
    }),
  );
  const wallMs = performance.now() - t0;
  // Failures are reported, not fatal: the next phases (and the destroy) still run for every app.
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  const latencies = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const cpuSeconds = cpuSecondsBetween(before, cpuSnapshot(pids()));
  return {
    ops: apps.length,
    failed: failed.length,
    ...(failed.length ? { firstFailure: describeError(failed[0].reason) } : {}),
    wallMs: Math.round(wallMs),
    // Completed operations per second.
    opsPerSec: +((latencies.length * 1000) / wallMs).toFixed(2),
    p50Ms: Math.round(percentile(latencies, 50) ?? 0),
    p99Ms: Math.round(percentile(latencies, 99) ?? 0),
    cpuSeconds,
  };
}

/** What a failed run left of its apps (containers, then networks), found by their label. */
async function removeBenchApps(): Promise<void> {
  const docker = createDockerClient();
  const ours = (labels: Record<string, string> | undefined) =>
    /^(bclu|bdev)-/.test(labels?.[LABEL.app] ?? '');
  const failed: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters: { label: [LABEL.app] } }))
    if (ours(c.Labels))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => failed.push(c.Id));
  for (const n of await docker.listNetworks({ filters: { label: [LABEL.app] } }))
    if (ours(n.Labels))
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => failed.push(n.Name));
  if (failed.length) throw new Error(`could not remove ${failed.join(', ')}`);
}

async function containersOf(prefix: string): Promise<number> {
  const all = await createDockerClient().listContainers({ all: true, filters: { label: [LABEL.app] } });
  return all.filter((c) => c.Labels[LABEL.app]?.startsWith(prefix)).length;
}

async function measure(target: Target): Promise<Record<string, unknown>> {
  const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(target.address)));
  let client: Client | undefined;
  try {
    client = await connectClient({ ...temporalTarget(), address: target.address, taskQueue: QUEUE });
    const appClient = new AppClient(client, QUEUE);
    const prefix = target.name === 'cluster' ? 'bclu' : 'bdev';
    // A warm-up app: workers load their bundle and connections before anything is timed.
    await phase(appClient, [`${prefix}-warm`], blueprintOf, () => ({ workers: [], server: [], docker: [] }));
    await phase(
      appClient,
      [`${prefix}-warm`],
      () => ({ type: 'destroy', options: OPTIONS }),
      () => ({ workers: [], server: [], docker: [] }),
    );
    const apps = Array.from({ length: APPS }, (_, i) => `${prefix}-${i + 1}`);
    const pids = () => ({
      workers: workers.flatMap((w) => (w.pid ? [w.pid] : [])),
      server: target.serverPids(),
      docker: dockerPids(),
    });
    const deploy = await phase(appClient, apps, blueprintOf, pids);
    const deployed = await containersOf(`${prefix}-`);
    const scale = await phase(
      appClient,
      apps,
      () => ({ type: 'scale', service: 'web', replicas: SCALE_TO, options: OPTIONS }),
      pids,
    );
    const scaled = await containersOf(`${prefix}-`);
    const storage = await target.storage();
    const destroy = await phase(appClient, apps, () => ({ type: 'destroy', options: OPTIONS }), pids);
    const left = await containersOf(`${prefix}-`);
    const all = [deploy, scale, destroy];
    const wall = all.reduce((s, p) => s + p.wallMs, 0) / 1000;
    const cpu = (k: keyof Cpu) => +all.reduce((s, p) => s + p.cpuSeconds[k], 0).toFixed(1);
    return {
      deploy,
      scale,
      destroy,
      containers: {
        deployed,
        expectedDeployed: APPS * INSTANCES,
        scaled,
        expectedScaled: APPS * SCALE_TO,
        left,
      },
      cpuSeconds: { workers: cpu('workers'), server: cpu('server'), docker: cpu('docker') },
      // Of one core, per worker, over the three phases.
      workerCpuPercent: Math.round((100 * cpu('workers')) / WORKERS / wall),
      storageBytes: storage,
    };
  } finally {
    await client?.connection.close().catch(() => undefined);
    for (const w of workers) await stopChild(w);
  }
}

/** The part that used the most CPU, when the machine was busy; else round trips bound it. */
function limitOf(r: Record<string, unknown>, wallS: number): string {
  const cpu = r.cpuSeconds as Record<string, number>;
  const busiest = Object.entries(cpu).sort((a, b) => b[1] - a[1])[0];
  const used = Object.values(cpu).reduce((a, b) => a + b, 0) / (wallS * os.cpus().length);
  const name = { workers: 'workers', server: 'Temporal', docker: 'Docker' }[busiest[0]] ?? busiest[0];
  return `${name} (${busiest[1]} CPU s of ${Object.values(cpu)
    .reduce((a, b) => a + b, 0)
    .toFixed(1)}; the three used ${Math.round(used * 100)}% of ${os.cpus().length} cores)`;
}

const wallOf = (r: Record<string, unknown>) =>
  ['deploy', 'scale', 'destroy'].reduce((s, k) => s + (r[k] as Phase).wallMs, 0) / 1000;
const ratio = (a: number, b: number) => +(a / b).toFixed(2);

async function main(): Promise<void> {
  let cluster: Record<string, unknown> | undefined;
  let dev: Record<string, unknown> | undefined;
  const targets: Target[] = [];
  try {
    targets.push(startCluster());
    cluster = await measure(targets[0]);
    await targets[0].stop();
    targets.push(await startDevServer());
    dev = await measure(targets[1]);
  } finally {
    for (const t of targets)
      await t
        .stop()
        .catch((err: Error) => console.error(`bench:cluster: stopping ${t.name}: ${err.message}`));
    await removeBenchApps().catch((err: Error) =>
      console.error(`bench:cluster: removing apps: ${err.message}`),
    );
    spawnSync(process.execPath, [BERTH, 'server', 'stop'], { env }); // Berth's DNS server of this home
    fs.rmSync(home, { recursive: true, force: true });
  }
  const c = (k: string) => cluster![k] as Phase;
  const d = (k: string) => dev![k] as Phase;
  console.log(
    JSON.stringify({
      benchmark: 'cluster',
      apps: APPS,
      instancesPerApp: INSTANCES,
      scaledTo: SCALE_TO,
      workers: WORKERS,
      cluster,
      devServer: dev,
      ratioClusterToDevServer: Object.fromEntries(
        ['deploy', 'scale', 'destroy'].flatMap((k) => [
          [`${k}OpsPerSec`, ratio(c(k).opsPerSec, d(k).opsPerSec)],
          [`${k}P50`, ratio(c(k).p50Ms, d(k).p50Ms)],
          [`${k}P99`, ratio(c(k).p99Ms, d(k).p99Ms)],
        ]),
      ),
      limit: { cluster: limitOf(cluster!, wallOf(cluster!)), devServer: limitOf(dev!, wallOf(dev!)) },
      machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => +l.toFixed(1)) },
    }),
  );
}

main().catch((err) => {
  console.error(`bench:cluster: ${(err as Error).message}`);
  process.exit(1);
});
