import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { LABEL } from '../../src/core/names';
import { findTemporalCli } from '../../src/adapters/temporal-cli';
import { isTemporalReachable } from '../../src/adapters/temporal';
import { devServerArgs } from '../../src/runtime/dev-server';
import { berthDataConverter } from '../../src/adapters/codec';
import { appContainers, uniqueApp } from '../support/docker';
import { uniqueTaskQueue } from '../support/temporal';
import { runCli, startWorkerProcess, stopProcess, tempDir, workerProcessFixture } from '../support/cli';

/**
 * Crashes in the middle of a deploy: the worker killed (-9) at three points, and the Temporal dev
 * server restarted once. Each run must still end with the app deployed exactly once.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function blueprint(dir: string, app: string, command: string, replicas = 3): string {
  const file = path.join(dir, `${app}.yaml`);
  fs.writeFileSync(
    file,
    `id: ${app}\nservices:\n  - id: web\n    type: cluster\n    initialSize: ${replicas}\n    image: berth/busybox:1\n    command: ${command}\n    ports: ["8080"]\n`,
  );
  return file;
}

async function resultOf(address: string, workflowId: string): Promise<{ instances: { instance: string }[] }> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, dataConverter: berthDataConverter() });
    return await client.workflow.getHandle(workflowId).result();
  } finally {
    await connection.close();
  }
}

async function expectDeployedOnce(app: string, replicas = 3): Promise<void> {
  const containers = await appContainers(app);
  expect(containers.map((c) => c.Labels[LABEL.instance]).sort()).toEqual(
    Array.from({ length: replicas }, (_, i) => `web-${i + 1}`),
  );
  expect(containers.every((c) => c.State === 'running')).toBe(true);
}

const HTTPD = '[sh, -c, "exec httpd -f -p 8080 -h /www"]';
const SLOW_HTTPD = '[sh, -c, "sleep 3; exec httpd -f -p 8080 -h /www"]';

describe('a deploy survives crashes of the worker and of the Temporal server', () => {
  const fixture = workerProcessFixture('crash');
  const { env, dir } = fixture;

  async function killWorkerWhen(
    app: string,
    file: string,
    moment: (count: number) => boolean,
    stagger: string,
  ) {
    const started = await runCli(
      ['deploy', file, '--detach', '--json', '--stagger', stagger, '--activity-timeout', '5s'],
      env,
    );
    expect(started.code).toBe(0);
    const { workflowId } = JSON.parse(started.stdout);
    await waitFor('the crash point', async () => moment((await appContainers(app)).length), 30_000);
    await fixture.restart('SIGKILL');
    const result = await resultOf(env.TEMPORAL_ADDRESS!, workflowId);
    expect(result.instances.map((i) => i.instance)).toEqual(['web-1', 'web-2', 'web-3']);
    await expectDeployedOnce(app);
    expect((await runCli(['destroy', app], env)).code).toBe(0);
  }

  test('killed before any container exists', async () => {
    const app = uniqueApp('crash-early');
    await killWorkerWhen(app, blueprint(dir, app, HTTPD), (n) => n === 0, '1s');
  });

  test('killed between two containers (during a stagger)', async () => {
    const app = uniqueApp('crash-mid');
    await killWorkerWhen(app, blueprint(dir, app, HTTPD), (n) => n === 1, '2s');
  });

  test('killed while an instance is waiting to become ready', async () => {
    const app = uniqueApp('crash-ready');
    // Instances start together and answer only after 3 s: the kill lands inside their readiness wait.
    await killWorkerWhen(app, blueprint(dir, app, SLOW_HTTPD), (n) => n >= 1, '0');
  });
});

describe('a deploy survives a restart of the Temporal dev server', () => {
  test('the server stopped and started again on the same database in the middle of a deploy', async () => {
    const dir = tempDir('restart');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const db = path.join(dir, 'temporal.db');
    const startServer = () =>
      spawn(findTemporalCli(), [...devServerArgs(db, port, port + 1), '--headless'], { stdio: 'ignore' });
    const address = `127.0.0.1:${port}`;
    const reachable = () => isTemporalReachable({ address }, 500);
    let server: ChildProcess | undefined = startServer();
    let worker: ChildProcess | undefined;
    const env = { TEMPORAL_ADDRESS: address, BERTH_TASK_QUEUE: uniqueTaskQueue('restart') };
    const app = uniqueApp('restart');
    try {
      await waitFor('the dev server', reachable, 60_000);
      worker = await startWorkerProcess(env);
      const started = await runCli(
        ['deploy', blueprint(dir, app, HTTPD), '--detach', '--json', '--stagger', '2s'],
        env,
      );
      expect(started.code).toBe(0);
      const { workflowId } = JSON.parse(started.stdout);
      await waitFor('the first container', async () => (await appContainers(app)).length === 1);

      await stopProcess(server, 'SIGTERM');
      server = startServer();
      await waitFor('the restarted dev server', reachable, 60_000);

      const result = await resultOf(address, workflowId);
      expect(result.instances.map((i) => i.instance)).toEqual(['web-1', 'web-2', 'web-3']);
      await expectDeployedOnce(app);
      expect((await runCli(['destroy', app], env)).code).toBe(0);
    } finally {
      await stopProcess(worker);
      await stopProcess(server);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
