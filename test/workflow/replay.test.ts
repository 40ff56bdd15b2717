/**
 * Replay tests: histories recorded from real runs (test/fixtures/histories) must replay without
 * non-determinism against today's workflow code. Re-record after an intended, versioned change with
 * `BERTH_RECORD_HISTORIES=1 npx jest --runInBand test/workflow/replay test/e2e/multihost --selectProjects integration`
 * (the multi-host test records the inventory of a pool of netns hosts: failure, rejoin, provisioning);
 * the `berth-chaos-*` ones from `BERTH_RECORD_HISTORIES=1 npx jest --runInBand test/e2e/chaos.test.ts`;
 * the `berth-cluster-*` histories come from a real cluster:
 * `BERTH_RECORD_HISTORIES=1 npx jest --runInBand --selectProjects cluster test/cluster/lifecycle`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  FIXTURE_KEY,
  HISTORIES_DIR as DIR,
  RECORDING as RECORD,
  RECORDING_ROLLOUT,
  saveHistory,
} from '../support/histories';

// Recorded payloads are encrypted with this test-only key, so replay needs the same one.
process.env.BERTH_CODEC_KEY = FIXTURE_KEY;

const ROOT = path.join(__dirname, '..', '..');

/**
 * One app's life with both policy kinds on its cluster: deploy, two autoscaler resizes from a
 * pushed metric, a killed container restarted in place, a manual scale, a heal and a destroy.
 */
async function record(): Promise<void> {
  const { inProcessWorker, testClient, uniqueTaskQueue } = await import('../support/temporal');
  const { FAST, blueprintOf, operate, session } = await import('../support/operations');
  const { autoscalerState, resilienceState, startLocalWatcher, stopWorkflow, waitFor } =
    await import('../support/policies');
  const { pushMetric } = await import('../../src/clients/policies');
  const { appStateQuery } = await import('../../workflows/api/app');
  const { LABEL, appWorkflowId, inventoryWorkflowId, policyWorkflowId } =
    await import('../../src/core/names');
  const { docker } = await import('../support/docker');
  const taskQueue = uniqueTaskQueue('replay');
  const client = await testClient();
  const c = client.client;
  const worker = await inProcessWorker(taskQueue);
  const running = worker.worker.run();
  const app = 'bt-replay';
  const s = session(c, taskQueue);
  const bp = blueprintOf(
    `id: ${app}
services:
  - id: db
    image: berth/busybox:1
    command: [sleep, "3600"]
  - id: web
    type: cluster
    initialSize: 1
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]
    env: {DB: "\${db.address}"}
    policies:
      - type: autoscaler
        metric: requests
        metricLowerBound: 2
        metricUpperBound: 10
        minPoolSize: 1
        maxPoolSize: 3
        resizeUpIterationMax: 1
      - type: restarter
`,
  );
  const watcher = await startLocalWatcher(c, taskQueue);
  const histories: Record<string, string> = {
    'berth-inventory': inventoryWorkflowId(taskQueue),
    'berth-host-watcher': watcher,
    'berth-policy-web-autoscaler': policyWorkflowId(app, 'web', 'autoscaler'),
    'berth-policy-web-resilience': policyWorkflowId(app, 'web', 'resilience'),
    'berth-app': appWorkflowId(app),
  };
  try {
    await operate(s, app, { type: 'deploy', blueprint: bp, options: { ...FAST, policyIntervalMs: 200 } });
    await waitFor(
      'the resilience policy',
      () => resilienceState(c, app, 'web'),
      (x) => !!x,
      60_000,
    );
    await pushMetric(c, { app, service: 'web', name: 'requests', value: 100 });
    await waitFor(
      'two resizes',
      () => autoscalerState(c, app, 'web'),
      (x) => x.decisions.filter((d) => d.desired !== d.current && d.ok).length === 2,
      60_000,
    );
    await pushMetric(c, { app, service: 'web', name: 'requests', value: 5 });
    const victim = (
      await docker.listContainers({ filters: { label: [`${LABEL.app}=${app}`, `${LABEL.instance}=web-1`] } })
    )[0];
    await docker.getContainer(victim.Id).kill();
    await waitFor(
      'a restart',
      () => resilienceState(c, app, 'web'),
      (x) => x.actions.some((a) => a.action === 'restart' && a.ok),
      60_000,
    );
    await operate(s, app, { type: 'scale', service: 'web', replicas: 1 });
    await operate(s, app, { type: 'heal' });
    await operate(s, app, { type: 'destroy' });
    await waitFor(
      'the autoscaler to stop',
      () => autoscalerState(c, app, 'web'),
      (x) => x.status === 'stopped',
      60_000,
    );
    await waitFor(
      'the restarter to stop',
      () => resilienceState(c, app, 'web'),
      (x) => x.status === 'stopped',
      60_000,
    );
    const state = await c.workflow.getHandle(appWorkflowId(app)).query(appStateQuery);
    for (const o of state.operations) histories[o.id.replace(`-${app}`, '')] = o.id;
  } finally {
    await stopWorkflow(c, watcher);
    worker.worker.shutdown();
    await running;
    await worker.close();
    await client.close();
  }
  for (const [name, workflowId] of Object.entries(histories)) saveHistory(name, workflowId);
}

/**
 * One app changed through rollouts (recorded with the `rollouts` patch): a stop-first update in
 * batches, a canary promoted by itself, a broken version rolled back by itself, a rollback to an
 * earlier version, a graceful scale-down of two and a destroy.
 */
async function recordRollout(): Promise<void> {
  const { inProcessWorker, testClient, uniqueTaskQueue } = await import('../support/temporal');
  const { FAST, blueprintOf, operate, operateExpectingFailure, session } =
    await import('../support/operations');
  const { appStateQuery } = await import('../../workflows/api/app');
  const { appWorkflowId } = await import('../../src/core/names');
  const taskQueue = uniqueTaskQueue('replay-rollout');
  const client = await testClient();
  const c = client.client;
  const worker = await inProcessWorker(taskQueue);
  const running = worker.worker.run();
  const app = 'bt-rollout';
  const s = session(c, taskQueue);
  const version = (v: string, update: string, port = 8080) =>
    blueprintOf(
      `id: ${app}
update: ${update}
services:
  - id: web
    image: berth/busybox:1
    replicas: 3
    command: [sh, -c, "mkdir -p /www && echo ${v} > /www/index.html && exec httpd -f -p ${port} -h /www"]
    env: {VERSION: ${v}}
    ports: ["8080"]
    stopGracePeriod: 2s
`,
    );
  const histories: Record<string, string> = { 'berth-rollout-app': appWorkflowId(app) };
  try {
    await operate(s, app, { type: 'deploy', blueprint: version('v1', '{drain: 100ms}') });
    await operate(s, app, { type: 'deploy', blueprint: version('v2', '{parallelism: 2, drain: 100ms}') });
    await operate(s, app, {
      type: 'deploy',
      blueprint: version('v3', '{canary: 1, autoPromote: 500ms, order: start-first, drain: 100ms}'),
    });
    await operateExpectingFailure(s, app, {
      type: 'deploy',
      blueprint: version('v4', '{drain: 100ms}', 9999),
      options: { ...FAST, readyTimeoutMs: 2_000 },
    });
    await operate(s, app, { type: 'rollback', toVersion: 1 });
    // Two removed with parallelism 1: stopped together since the stop-removed-at-once patch.
    await operate(s, app, { type: 'scale', service: 'web', replicas: 1, options: { parallelism: 1 } });
    await operate(s, app, { type: 'destroy' });
    const state = await c.workflow.getHandle(appWorkflowId(app)).query(appStateQuery);
    for (const o of state.operations) histories[`berth-rollout-${o.type}-${o.id.split('-').pop()}`] = o.id;
  } finally {
    worker.worker.shutdown();
    await running;
    await worker.close();
    await client.close();
  }
  for (const [name, workflowId] of Object.entries(histories)) saveHistory(name, workflowId);
}

describe('recorded histories replay against the current workflow code', () => {
  beforeAll(async () => {
    if (RECORD) await record();
    if (RECORDING_ROLLOUT) await recordRollout();
  });

  // Listed when a test runs: a recording (beforeAll) may just have written them.
  const recorded = () => (fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')) : []);

  test('there are recorded histories of the app, every operation, both policies, the host workflows and a cluster run', () => {
    expect(recorded().sort()).toEqual(
      [
        'berth-app.json',
        'berth-deploy-1.json',
        'berth-scale-2.json',
        'berth-scale-3.json',
        'berth-scale-4.json',
        'berth-heal-5.json',
        'berth-destroy-6.json',
        'berth-inventory.json',
        'berth-inventory-multihost.json',
        'berth-host-watcher.json',
        'berth-policy-web-autoscaler.json',
        'berth-policy-web-resilience.json',
        'berth-rollout-app.json',
        'berth-rollout-deploy-1.json',
        'berth-rollout-deploy-2.json',
        'berth-rollout-deploy-3.json',
        'berth-rollout-deploy-4.json',
        'berth-rollout-rollback-5.json',
        'berth-rollout-scale-6.json',
        'berth-rollout-destroy-7.json',
        // The same operations recorded before names were written in order and old containers
        // stopped behind start-first batches (patches serial-dns-names and retire-behind).
        ...['app', 'deploy-1', 'deploy-2', 'deploy-3', 'deploy-4', 'rollback-5', 'scale-6', 'destroy-7'].map(
          (n) => `berth-rollout-before-retire-behind-${n}.json`,
        ),
        // A scale-down recorded before removed instances stopped all at once (stop-removed-at-once).
        'berth-rollout-before-stop-at-once-scale-6.json',
        // Recorded on a real Temporal cluster (PostgreSQL) by test/cluster/lifecycle.test.ts.
        'berth-cluster-app.json',
        'berth-cluster-deploy.json',
        'berth-cluster-destroy.json',
        'berth-cluster-inventory.json',
        // Recorded by the chaos bench (test/e2e/chaos.test.ts): the inventory evicting failed hosts,
        // the leader's among them, and moving the registry; a heal after the registry moved.
        'berth-chaos-inventory.json',
        'berth-chaos-heal-web.json',
      ].sort(),
    );
  });

  test('every history replays deterministically against the built workflow bundle', () => {
    const files = recorded();
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
