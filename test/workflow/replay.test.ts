/**
 * Replay tests: histories recorded from real runs (test/fixtures/histories) must replay without
 * non-determinism against today's workflow code. Re-record after an intended, versioned change with
 * `BERTH_RECORD_HISTORIES=1 npx jest --selectProjects integration test/workflow/replay`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findTemporalCli } from '../../src/adapters/temporal-cli';

// Recorded payloads are encrypted with this test-only key, so replay needs the same one.
const FIXTURE_KEY = Buffer.alloc(32, 7).toString('base64');
process.env.BERTH_CODEC_KEY = FIXTURE_KEY;

const ROOT = path.join(__dirname, '..', '..');
const DIR = path.join(ROOT, 'test', 'fixtures', 'histories');
const RECORD = process.env.BERTH_RECORD_HISTORIES === '1';

async function record(): Promise<void> {
  const { inProcessWorker, testAddress, testClient, uniqueTaskQueue } = await import('../support/temporal');
  const { blueprintOf, operate, session } = await import('../support/operations');
  const taskQueue = uniqueTaskQueue('replay');
  const client = await testClient();
  const worker = await inProcessWorker(taskQueue);
  const running = worker.worker.run();
  const app = 'bt-replay';
  const s = session(client.client, taskQueue);
  const bp = blueprintOf(
    `id: ${app}\nservices:\n  - id: db\n    image: berth/busybox:1\n    command: [sleep, "3600"]\n  - id: web\n    type: cluster\n    initialSize: 2\n    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n    ports: ["8080"]\n    env: {DB: "\${db.address}"}\n`,
  );
  try {
    await operate(s, app, { type: 'deploy', blueprint: bp });
    await operate(s, app, { type: 'scale', service: 'web', replicas: 1 });
    await operate(s, app, { type: 'heal' });
    await operate(s, app, { type: 'destroy' });
  } finally {
    worker.worker.shutdown();
    await running;
    await worker.close();
    await client.close();
  }
  fs.mkdirSync(DIR, { recursive: true });
  const { inventoryWorkflowId } = await import('../../workflows/inventory');
  const show = (id: string) =>
    execFileSync(
      findTemporalCli(),
      ['workflow', 'show', '--address', testAddress(), '-w', id, '-o', 'json'],
      {
        encoding: 'utf8',
      },
    );
  // The host pool's history so far (it keeps running): reservations, subnets, releases.
  fs.writeFileSync(path.join(DIR, 'berth-inventory.json'), show(inventoryWorkflowId(taskQueue)));
  for (const id of [
    `berth-app-${app}`,
    `berth-deploy-${app}-1`,
    `berth-scale-${app}-2`,
    `berth-heal-${app}-3`,
    `berth-destroy-${app}-4`,
  ]) {
    const json = execFileSync(
      findTemporalCli(),
      ['workflow', 'show', '--address', testAddress(), '-w', id, '-o', 'json'],
      {
        encoding: 'utf8',
      },
    );
    fs.writeFileSync(path.join(DIR, `${id.replace(`-${app}`, '')}.json`), json);
  }
}

describe('recorded histories replay against the current workflow code', () => {
  beforeAll(async () => {
    if (RECORD) await record();
  });

  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];

  test('there are recorded histories of the app workflow and every operation', () => {
    expect(files.sort()).toEqual(
      [
        'berth-app.json',
        'berth-deploy-1.json',
        'berth-destroy-4.json',
        'berth-heal-3.json',
        'berth-inventory.json',
        'berth-scale-2.json',
      ].sort(),
    );
  });

  test('every history replays deterministically against the built workflow bundle', () => {
    // A child process: jest's module registry breaks protobufjs' reflection that replay needs.
    const result = spawnSync(
      process.execPath,
      [path.join(ROOT, 'dist', 'scripts', 'replay-histories.js'), ...files.map((f) => path.join(DIR, f))],
      {
        encoding: 'utf8',
        env: { ...process.env, BERTH_CODEC_KEY: FIXTURE_KEY },
      },
    );
    expect(result.stdout.trim().split('\n').sort()).toEqual(files.map((f) => `ok ${f}`).sort());
    expect(result.status).toBe(0);
  });
});
