/**
 * What a rollout's wait and the embedded server survive: a canary wait across a `kill -9` of the
 * worker and a restart of the Temporal dev server; and a dev server left running by a `berth server`
 * that died, which the next command restarts with its worker instead of waiting forever.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { berthDataConverter } from '../../src/adapters/codec';
import { findTemporalCli } from '../../src/adapters/temporal-cli';
import { isTemporalReachable } from '../../src/adapters/temporal';
import { LABEL } from '../../src/core/names';
import { devServerArgs, leftoverDevServer } from '../../src/runtime/dev-server';
import { operationProgressQuery } from '../../workflows/api/operations';
import { appContainers, docker, uniqueApp } from '../support/docker';
import { ROOT, runCli, startWorkerProcess, stopProcess, tempDir } from '../support/cli';
import { uniqueTaskQueue } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const reachable = (address: string) => isTemporalReachable({ address }, 500);

function writeBlueprint(
  dir: string,
  app: string,
  version: string,
  update = '{canary: 1, drain: 200ms}',
): string {
  const file = path.join(dir, `${app}-${version}.yaml`);
  const serve = `mkdir -p /www && echo ${version} > /www/index.html && exec httpd -f -p 8080 -h /www`;
  fs.writeFileSync(
    file,
    `id: ${app}\nservices:\n  - id: web\n    image: berth/busybox:1\n    replicas: 2\n    command: [sh, -c, ${JSON.stringify(serve)}]\n    env: {VERSION: ${version}}\n    ports: ['8080']\n    update: ${update}\n`,
  );
  return file;
}

async function versions(app: string): Promise<string[]> {
  const out: string[] = [];
  for (const c of await appContainers(app)) {
    if (c.State !== 'running') continue;
    const env = (await docker.getContainer(c.Id).inspect()).Config.Env ?? [];
    out.push(`${c.Labels[LABEL.instance]}=${env.find((e) => e.startsWith('VERSION='))?.slice(8)}`);
  }
  return out.sort();
}

describe('a canary wait is durable', () => {
  test('it survives a kill -9 of the worker and a restart of the dev server; then the canary is promoted', async () => {
    const dir = tempDir('canary-durable');
    const port = await freePort();
    const db = path.join(dir, 'temporal.db');
    const startServer = () =>
      spawn(findTemporalCli(), [...devServerArgs(db, port, port + 1), '--headless'], { stdio: 'ignore' });
    const address = `127.0.0.1:${port}`;
    const env = { TEMPORAL_ADDRESS: address, BERTH_TASK_QUEUE: uniqueTaskQueue('canary-durable') };
    const app = uniqueApp('durable');
    let server: ChildProcess | undefined = startServer();
    let worker: ChildProcess | undefined;
    try {
      await waitFor('the dev server', () => reachable(address));
      worker = await startWorkerProcess(env);
      expect((await runCli(['deploy', writeBlueprint(dir, app, 'v1')], env, 240_000)).code).toBe(0);
      const started = await runCli(['deploy', writeBlueprint(dir, app, 'v2'), '--detach', '--json'], env);
      expect(started.code).toBe(0);
      const { workflowId } = JSON.parse(started.stdout);
      const connection = await Connection.connect({ address });
      const client = new Client({ connection, dataConverter: berthDataConverter() });
      const waiting = async () =>
        (await client.workflow.getHandle(workflowId).query(operationProgressQuery)).waiting?.kind ===
        'canary';
      await waitFor('the canary wait', waiting);
      await connection.close();

      await stopProcess(worker, 'SIGKILL');
      await stopProcess(server, 'SIGTERM');
      server = startServer();
      await waitFor('the restarted dev server', () => reachable(address));
      worker = await startWorkerProcess(env);
      // Still waiting after both: the answer ends the wait.
      const promoted = await runCli(['promote', app], env, 240_000);
      expect(promoted.code).toBe(0);
      expect(await versions(app)).toEqual(['web-1=v2', 'web-2=v2']);
      expect((await runCli(['destroy', app], env, 240_000)).code).toBe(0);
    } finally {
      await stopProcess(worker);
      await stopProcess(server);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a dev server left by a berth server that died', () => {
  test('the next command restarts it with its worker, instead of waiting forever', async () => {
    const home = tempDir('leftover');
    const [p1, p2, p3, p4] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      BERTH_HOME: home,
      BERTH_PORT: String(p1),
      BERTH_UI_PORT: String(p2),
      BERTH_CODEC_PORT: String(p3),
      BERTH_SENSOR_PORT: String(p4),
      BERTH_DNS_NETWORK: `berth-dns-leftover${process.pid}`,
      BERTH_DNS_SUBNET: `10.207.${process.pid % 250}.0/24`,
      TEMPORAL_ADDRESS: '',
    };
    const app = uniqueApp('leftover');
    const server = spawn(process.execPath, [path.join(ROOT, 'bin', 'berth'), 'server'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout!.on('data', (d) => (output += d));
    try {
      await waitFor('the berth server', async () => output.includes('Berth worker polling'), 120_000);
      server.kill('SIGKILL');
      await waitFor(
        'the berth server to die',
        async () => server.exitCode !== null || server.signalCode !== null,
      );
      expect(await reachable(`127.0.0.1:${p1}`)).toBe(true);
      expect(leftoverDevServer(home)).toBeGreaterThan(1);

      const file = path.join(home, 'hello.yaml');
      fs.writeFileSync(
        file,
        `id: ${app}\nservices:\n  - {id: web, image: berth/busybox:1, command: [sleep, '300']}\n`,
      );
      const deployed = await runCli(['deploy', file], env, 240_000);
      expect(deployed.code).toBe(0);
      expect(deployed.stdout + deployed.stderr).toMatch(
        /stopped the dev server \(pid \d+\) that a Berth server which is gone had left running/,
      );
      expect(leftoverDevServer(home)).toBeUndefined();
      expect((await runCli(['destroy', app], env, 240_000)).code).toBe(0);
    } finally {
      server.kill('SIGKILL');
      await runCli(['server', 'stop'], env, 60_000);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
