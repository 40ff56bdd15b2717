/**
 * Policies on the real dev server and Docker engine: the autoscaler (pushed and sampled metrics,
 * bounds, stabilisation, worker restart, continue-as-new), and the resilience policy (restart in
 * place, give up, replace) fed by a host watcher. Periods are tens or hundreds of milliseconds.
 */
import type { Client } from '@temporalio/client';
import { autoscalerConfig } from '../../src/core/policy';
import { LABEL, policyWorkflowId } from '../../src/core/names';
import { pushMetric } from '../../src/clients/policies';
import { appStateQuery } from '../../workflows/api/app';
import type { AutoscalerPolicyState, AutoscalerRecord } from '../../workflows/api/autoscaler';
import { pauseSignal, resumeSignal } from '../../workflows/api/policies';
import { appContainers, docker, execIn, uniqueApp } from '../support/docker';
import { FAST, blueprintOf, operate, session } from '../support/operations';
import {
  autoscalerState,
  desiredReplicas,
  resilienceState,
  startLocalWatcher,
  stopWorkflow,
  waitFor,
} from '../support/policies';
import { inProcessWorker, testClient, uniqueTaskQueue } from '../support/temporal';

type Running = { worker: Awaited<ReturnType<typeof inProcessWorker>>; done: Promise<void> };

async function startWorker(taskQueue: string): Promise<Running> {
  const worker = await inProcessWorker(taskQueue);
  return { worker, done: worker.worker.run() };
}

async function stopWorker(r: Running | undefined): Promise<void> {
  if (!r) return;
  r.worker.worker.shutdown();
  await r.done;
  await r.worker.close();
}

const httpd = `image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]`;

/**
 * For one describe block: a client and an in-process worker on a task queue of their own (and, for
 * the resilience policies, a watcher of the local engine), stopped after the block.
 */
function policyFixture(stem: string, opts: { watcher?: boolean } = {}) {
  const taskQueue = uniqueTaskQueue(stem);
  let client: Awaited<ReturnType<typeof testClient>> | undefined;
  let worker: Running | undefined;
  let watcher: string | undefined;
  const c = (): Client => client!.client;

  beforeAll(async () => {
    client = await testClient();
    worker = await startWorker(taskQueue);
    if (opts.watcher) watcher = await startLocalWatcher(c(), taskQueue);
  });

  afterAll(async () => {
    if (watcher) await stopWorkflow(c(), watcher);
    await stopWorker(worker);
    await client?.close();
  });

  return {
    taskQueue,
    c,
    s: () => session(c(), taskQueue),
    /** The worker goes away for `gapMs`; a new one takes over. */
    async restartWorker(gapMs: number): Promise<void> {
      await stopWorker(worker);
      worker = undefined;
      await new Promise((r) => setTimeout(r, gapMs));
      worker = await startWorker(taskQueue);
    },
  };
}

async function running(app: string, service: string): Promise<{ id: string; name: string; state: string }[]> {
  return (await appContainers(app))
    .filter((c) => c.Labels[LABEL.service] === service)
    .map((c) => ({ id: c.Id, name: c.Names[0].replace(/^\//, ''), state: c.State }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function resizes(state: AutoscalerPolicyState): AutoscalerRecord[] {
  return state.decisions.filter((d) => d.desired !== d.current);
}

function expectWithin(state: AutoscalerPolicyState, min: number, max: number): void {
  for (const d of state.decisions) {
    expect(d.desired).toBeGreaterThanOrEqual(min);
    expect(d.desired).toBeLessThanOrEqual(max);
    expect(d.recommended).toBeGreaterThanOrEqual(min);
    expect(d.recommended).toBeLessThanOrEqual(max);
  }
}

describe('autoscaler policy', () => {
  const { c, s } = policyFixture('autoscaler');

  test('pushed metrics scale a service up to maxPoolSize and no further, then down to minPoolSize', async () => {
    const app = uniqueApp('scale');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    type: cluster
    initialSize: 1
    ${httpd}
    policies:
      - type: autoscaler
        metric: requests
        metricLowerBound: 2
        metricUpperBound: 10
        minPoolSize: 1
        maxPoolSize: 3
        resizeUpIterationMax: 1
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp, options: { ...FAST, policyIntervalMs: 250 } });
    const first = await waitFor(
      'the autoscaler policy',
      () => autoscalerState(c(), app, 'web'),
      (x) => !!x,
    );
    expect(first).toMatchObject({
      kind: 'autoscaler',
      app,
      service: 'web',
      status: 'active',
      intervalMs: 250,
    });
    expect(first.config).toMatchObject({ metric: 'requests', minPoolSize: 1, maxPoolSize: 3 });
    // No value yet: nothing is decided.
    await waitFor(
      'a "no data" round',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.noData.count > 0,
    );
    expect((await autoscalerState(c(), app, 'web')).decisions).toEqual([]);

    // Load: 100 requests per instance, 10 allowed; one instance more per decision, up to 3.
    await pushMetric(c(), { app, service: 'web', name: 'requests', value: 100 });
    await waitFor(
      '3 replicas',
      () => desiredReplicas(c(), app, 'web'),
      (n) => n === 3,
      60_000,
    );
    const atMax = await autoscalerState(c(), app, 'web');
    await waitFor(
      'five more rounds at the maximum',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.iterations >= atMax.iterations + 5,
    );
    expect(await desiredReplicas(c(), app, 'web')).toBe(3);
    const held = await autoscalerState(c(), app, 'web');
    expect(held.decisions.at(-1)!.reason).toMatch(/already at maxPoolSize 3/);
    expect((await running(app, 'web')).map((x) => x.state)).toEqual(['running', 'running', 'running']);

    // Load stops: straight down to the minimum.
    await pushMetric(c(), { app, service: 'web', name: 'requests', value: 0 });
    await waitFor(
      '1 replica',
      () => desiredReplicas(c(), app, 'web'),
      (n) => n === 1,
      60_000,
    );
    await waitFor(
      'one container',
      () => running(app, 'web'),
      (x) => x.length === 1,
    );

    // The last resize is recorded when it is decided and gets its outcome when the scale returns.
    const final = await waitFor(
      'the last resize to finish',
      () => autoscalerState(c(), app, 'web'),
      (x) => resizes(x).every((d) => d.ok !== undefined),
    );
    expectWithin(final, 1, 3);
    expect(resizes(final).map((d) => `${d.current}->${d.desired}:${d.ok}`)).toEqual([
      '1->2:true',
      '2->3:true',
      '3->1:true',
    ]);
    const state = await c().workflow.getHandle(`berth-app-${app}`).query(appStateQuery);
    expect(state.operations.filter((o) => o.type === 'scale').map((o) => o.status)).toEqual([
      'completed',
      'completed',
      'completed',
    ]);

    await operate(s(), app, { type: 'destroy' });
    const stopped = await waitFor(
      'the policy to stop',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.status === 'stopped',
    );
    // A round between the last read and the destroy may add a hold decision, never a resize.
    expect(stopped.decisions.slice(0, final.decisions.length)).toEqual(final.decisions);
    expect(resizes(stopped)).toEqual(resizes(final));
    expect(await appContainers(app)).toHaveLength(0);
  });

  test('with stabilisation delays an alternating metric resizes nothing; a sustained one does', async () => {
    const app = uniqueApp('flap');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    type: cluster
    initialSize: 2
    ${httpd}
    policies:
      - type: autoscaler
        brooklyn.config:
          metric: requests
          metricLowerBound: 2
          metricUpperBound: 10
          minPoolSize: 1
          maxPoolSize: 4
          resizeUpStabilizationDelay: 3s
          resizeDownStabilizationDelay: 3s
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp, options: { ...FAST, policyIntervalMs: 150 } });
    await waitFor(
      'the autoscaler policy',
      () => autoscalerState(c(), app, 'web'),
      (x) => !!x,
    );

    // High, low, high, low... for 4 s: the value flips after every evaluation, so every sample
    // wants another size than the one before, and none holds for 3 s (generous: a loaded server
    // can answer a query a second or more late).
    let value = 100;
    let seen = 0;
    await pushMetric(c(), { app, service: 'web', name: 'requests', value });
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      const now = await autoscalerState(c(), app, 'web');
      if (now.decisions.length > seen) {
        seen = now.decisions.length;
        value = now.decisions.at(-1)!.metric === 100 ? 0 : 100;
        await pushMetric(c(), { app, service: 'web', name: 'requests', value });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const flapping = await autoscalerState(c(), app, 'web');
    expect(flapping.decisions.length).toBeGreaterThanOrEqual(6);
    expect(flapping.decisions.some((d) => d.recommended > 2)).toBe(true);
    expect(flapping.decisions.some((d) => d.recommended < 2)).toBe(true);
    expect(resizes(flapping)).toEqual([]);
    expect(await desiredReplicas(c(), app, 'web')).toBe(2);
    expect(await running(app, 'web')).toHaveLength(2);

    // Sustained: it grows, once the recommendation has held for the whole delay.
    const from = Date.now();
    await pushMetric(c(), { app, service: 'web', name: 'requests', value: 100 });
    await waitFor(
      '4 replicas',
      () => desiredReplicas(c(), app, 'web'),
      (n) => n === 4,
      30_000,
    );
    expect(Date.now() - from).toBeGreaterThanOrEqual(3_000);
    const grown = await autoscalerState(c(), app, 'web');
    expectWithin(grown, 1, 4);
    expect(resizes(grown).map((d) => `${d.current}->${d.desired}`)).toEqual(['2->4']);
    const heldFor = /requests 100 above 10 for (\d+(?:\.\d+)?)s: 2 → 4/.exec(resizes(grown)[0].reason);
    expect(Number(heldFor?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(heldFor?.[1])).toBeLessThan(6);
    await operate(s(), app, { type: 'destroy' });
  });

  test('pause stops decisions, resume restarts them; reconfigure is validated', async () => {
    const app = uniqueApp('pause');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    type: cluster
    initialSize: 1
    ${httpd}
    policies:
      - type: autoscaler
        metric: requests
        metricUpperBound: 10
        maxPoolSize: 2
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp, options: { ...FAST, policyIntervalMs: 150 } });
    await waitFor(
      'the autoscaler policy',
      () => autoscalerState(c(), app, 'web'),
      (x) => !!x,
    );
    const handle = c().workflow.getHandle(policyWorkflowId(app, 'web', 'autoscaler'));
    await handle.signal(pauseSignal);
    await pushMetric(c(), { app, service: 'web', name: 'requests', value: 100 });
    const paused = await waitFor(
      'paused',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.status === 'paused',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const still = await autoscalerState(c(), app, 'web');
    expect(still.iterations).toBe(paused.iterations);
    expect(await desiredReplicas(c(), app, 'web')).toBe(1);

    await expect(
      handle.executeUpdate('reconfigure', {
        args: [{ config: { metric: 'requests', minPoolSize: 3, maxPoolSize: 2, metricUpperBound: 1 } }],
      }),
    ).rejects.toThrow();
    const refused = await handle
      .executeUpdate('reconfigure', { args: [{ config: { metric: 'requests' } }] })
      .catch((e: Error) => (e.cause as Error | undefined)?.message ?? e.message);
    expect(refused).toMatch(/needs 'metricUpperBound'/);
    const reconfigured = (await handle.executeUpdate('reconfigure', {
      args: [{ config: { metric: 'requests', metricUpperBound: 10, maxPoolSize: 3 } }],
    })) as AutoscalerPolicyState;
    expect(reconfigured.config.maxPoolSize).toBe(3);

    await handle.signal(resumeSignal);
    await waitFor(
      '3 replicas',
      () => desiredReplicas(c(), app, 'web'),
      (n) => n === 3,
      30_000,
    );
    await operate(s(), app, { type: 'destroy' });
  });

  test('a CPU-burning service scales up on the sampled cpu metric', async () => {
    const app = uniqueApp('cpu');
    const bp = blueprintOf(`id: ${app}
services:
  - id: burn
    type: cluster
    initialSize: 1
    image: berth/busybox:1
    command: [sh, -c, "while :; do :; done"]
    resources: {cpu: 0.5}
    policies:
      - type: autoscaler
        metric: cpu
        metricUpperBound: 15
        minPoolSize: 1
        maxPoolSize: 2
`);
    try {
      await operate(s(), app, {
        type: 'deploy',
        blueprint: bp,
        options: { ...FAST, policyIntervalMs: 1_000 },
      });
      // The resize is recorded when decided and gets its outcome when the scale returns: wait for that.
      const state = await waitFor(
        'the resize to 2 to finish',
        () => autoscalerState(c(), app, 'burn'),
        (x) => resizes(x)[0]?.ok !== undefined,
        60_000,
        250,
      );
      expect(await desiredReplicas(c(), app, 'burn')).toBe(2);
      const grow = resizes(state)[0];
      expect(grow).toMatchObject({ current: 1, desired: 2, ok: true });
      expect(grow.metric).toBeGreaterThan(15);
      expect(state.lastMetric?.name).toBe('cpu');
    } finally {
      await operate(s(), app, { type: 'destroy' });
    }
  });
});

describe('autoscaler policy durability', () => {
  const { taskQueue, c, s, restartWorker } = policyFixture('autoscaler-durable');

  test('a worker restart mid-window and continue-as-new lose neither the window nor the decisions', async () => {
    const app = uniqueApp('durable');
    await operate(s(), app, {
      type: 'deploy',
      blueprint: blueprintOf(
        `id: ${app}\nservices:\n  - id: web\n    type: cluster\n    initialSize: 1\n    ${httpd}\n`,
      ),
    });
    // Started directly (as the app workflow does), with runs of only 2 rounds, so it continues as new
    // several times inside the window even on a loaded machine.
    const workflowId = policyWorkflowId(app, 'web', 'autoscaler');
    await c().workflow.start('autoscalerPolicy', {
      workflowId,
      taskQueue,
      args: [
        {
          app,
          service: 'web',
          config: autoscalerConfig({
            metric: 'load',
            metricUpperBound: 10,
            maxPoolSize: 2,
            resizeUpStabilizationDelayMs: 4_000,
          }),
          intervalMs: 200,
          iterationsBeforeContinueAsNew: 2,
        },
      ],
    });
    await pushMetric(c(), { app, service: 'web', name: 'load', value: 50 });
    const before = await waitFor(
      'two waiting decisions',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.decisions.length >= 2,
    );
    expect(
      before.decisions.every((d) => d.desired === 1 && /waiting: scale-up stabilisation/.test(d.reason)),
    ).toBe(true);
    const firstAt = before.decisions[0].atMs;
    const windowStart = before.window[0].atMs;

    // The worker goes away for a second, mid-window; a new one takes over.
    await restartWorker(1_000);

    await waitFor(
      '2 replicas',
      () => desiredReplicas(c(), app, 'web'),
      (n) => n === 2,
      30_000,
    );
    const after = await autoscalerState(c(), app, 'web');
    expect(after.runs).toBeGreaterThanOrEqual(3); // continued as new at least twice
    expect(after.decisions[0].atMs).toBe(firstAt);
    expect(after.decisions.slice(0, before.decisions.length)).toEqual(before.decisions);
    expect(after.window[0].atMs).toBe(windowStart);
    const grow = resizes(after);
    expect(grow).toHaveLength(1);
    // It grew once the recommendation had held 4 s counted from the first sample, not from a restart:
    // the first decision 4 s or more after the window's start is the growth (a window restarted by the
    // new worker would have made that one, and later ones, wait). No clock bound: load only delays it.
    expect(grow[0].atMs - windowStart).toBeGreaterThanOrEqual(4_000);
    expect(after.decisions.find((d) => d.atMs - windowStart >= 4_000)).toEqual(grow[0]);
    expect(after.metrics.load.value).toBe(50);

    await stopWorkflow(c(), workflowId);
    await waitFor(
      'stopped',
      () => autoscalerState(c(), app, 'web'),
      (x) => x.status === 'stopped',
    );
    await operate(s(), app, { type: 'destroy' });
  });
});

describe('resilience policy (host watcher → containerFailed)', () => {
  const { c, s } = policyFixture('resilience', { watcher: true });

  const kill = (id: string) => docker.getContainer(id).kill();

  test('a killed container is restarted in place; one that keeps failing is given up on', async () => {
    const app = uniqueApp('restart');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    ${httpd}
    policies:
      - type: org.apache.brooklyn.policy.ha.ServiceRestarter
        brooklyn.config:
          failOnRecurringFailuresInThisDuration: 1m
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp });
    await waitFor(
      'the resilience policy',
      () => resilienceState(c(), app, 'web'),
      (x) => !!x,
    );
    // Give the watcher a moment to be following the engine's events.
    await new Promise((r) => setTimeout(r, 1_000));
    const [original] = await running(app, 'web');

    for (const n of [1, 2]) {
      await kill(original.id);
      const state = await waitFor(
        `restart ${n}`,
        () => resilienceState(c(), app, 'web'),
        (x) => x.actions.filter((a) => a.action === 'restart').length === n,
        30_000,
      );
      expect(state.actions.at(-1)).toMatchObject({
        instance: 'web-1',
        action: 'restart',
        containerId: original.id,
        result: 'restarted',
        failuresInWindow: n,
        delayMs: n === 1 ? 0 : 100,
        ok: true,
      });
      const [now] = await waitFor(
        'running again',
        () => running(app, 'web'),
        (x) => x[0]?.state === 'running',
      );
      expect(now.id).toBe(original.id);
    }

    // The third failure within the window: the restarter gives up (Brooklyn puts it on fire).
    await kill(original.id);
    const gaveUp = await waitFor(
      'give-up',
      () => resilienceState(c(), app, 'web'),
      (x) => x.instances.some((i) => i.state === 'gave-up'),
      30_000,
    );
    expect(gaveUp.instances).toEqual([
      expect.objectContaining({
        instance: 'web-1',
        state: 'gave-up',
        reason: 'restarter: 3 failures within 1m0s',
        failures: 3,
      }),
    ]);
    expect(gaveUp.actions.at(-1)).toMatchObject({ action: 'give-up', ok: false });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await running(app, 'web'))[0].state).toBe('exited');

    // `resume` clears the give-up: the next failure is recovered again.
    await c()
      .workflow.getHandle(policyWorkflowId(app, 'web', 'resilience'))
      .signal(resumeSignal);
    await waitFor(
      'cleared',
      () => resilienceState(c(), app, 'web'),
      (x) => x.instances[0].state === 'ok',
    );
    await operate(s(), app, { type: 'heal' });
    await kill(original.id);
    await waitFor(
      'a fourth restart',
      () => resilienceState(c(), app, 'web'),
      (x) => x.actions.filter((a) => a.action === 'restart').length === 3,
      30_000,
    );
    await waitFor(
      'running again',
      () => running(app, 'web'),
      (x) => x[0]?.state === 'running',
    );

    await operate(s(), app, { type: 'destroy' });
    await waitFor(
      'stopped',
      () => resilienceState(c(), app, 'web'),
      (x) => x.status === 'stopped',
    );
  });

  test('with a failure detector, an instance Docker brings back within the delay is left alone; one still down is restarted', async () => {
    const app = uniqueApp('detect');
    // Exits 1 when /crash appears; Docker's restart policy starts it again (a kill it does not).
    const bp = blueprintOf(`id: ${app}
services:
  - id: worker
    image: berth/busybox:1
    restart: always
    command: [sh, -c, "while [ ! -f /crash ]; do sleep 0.1; done; rm /crash; exit 1"]
    policies:
      - type: restarter
    brooklyn.enrichers:
      - type: org.apache.brooklyn.policy.ha.ServiceFailureDetector
        brooklyn.config:
          entityFailed.stabilizationDelay: 2s
          entityRecovered.stabilizationDelay: 500ms
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp });
    const policy = await waitFor(
      'the resilience policy',
      () => resilienceState(c(), app, 'worker'),
      (x) => !!x,
    );
    expect(policy.detector).toEqual({ failedStabilizationMs: 2_000, recoveredStabilizationMs: 500 });
    await new Promise((r) => setTimeout(r, 1_000));
    const [original] = await running(app, 'worker');

    const crashedAt = Date.now();
    expect((await execIn(original.id, ['touch', '/crash'])).code).toBe(0);
    const settled = await waitFor(
      'the failure judged',
      () => resilienceState(c(), app, 'worker'),
      (x) => x.actions.length >= 1,
      30_000,
    );
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(2_000);
    expect(settled.actions).toEqual([
      expect.objectContaining({
        instance: 'worker-1',
        action: 'ignore',
        result: 'running again within 2s (failureDetector)',
        ok: true,
      }),
    ]);
    const info = await docker.getContainer(original.id).inspect();
    expect([info.State.Running, info.RestartCount]).toEqual([true, 1]);

    // A kill: Docker leaves it stopped, so after the delay the restarter starts it.
    await docker.getContainer(original.id).kill();
    const restarted = await waitFor(
      'a restart',
      () => resilienceState(c(), app, 'worker'),
      (x) => x.actions.some((a) => a.action === 'restart'),
      30_000,
    );
    expect(restarted.actions.slice(1)).toEqual([
      expect.objectContaining({ action: 'restart', result: 'restarted', containerId: original.id, ok: true }),
    ]);
    await waitFor(
      'running again',
      () => running(app, 'worker'),
      (x) => x[0]?.state === 'running',
    );
    await operate(s(), app, { type: 'destroy' });
  });

  test('with only a replacer, a killed instance is replaced by a new container with the same name', async () => {
    const app = uniqueApp('replace');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    type: cluster
    initialSize: 2
    ${httpd}
    policies:
      - type: replacer
`);
    await operate(s(), app, { type: 'deploy', blueprint: bp });
    await waitFor(
      'the resilience policy',
      () => resilienceState(c(), app, 'web'),
      (x) => !!x,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await running(app, 'web');
    expect(before.map((x) => x.name)).toEqual([`berth-${app}-web-1`, `berth-${app}-web-2`]);

    await kill(before[1].id);
    const state = await waitFor(
      'a replacement',
      () => resilienceState(c(), app, 'web'),
      (x) => x.actions.some((a) => a.action === 'replace'),
      60_000,
    );
    const replaced = state.actions.find((a) => a.action === 'replace')!;
    expect(replaced).toMatchObject({ instance: 'web-2', containerId: before[1].id, ok: true });
    expect(replaced.operationId).toMatch(new RegExp(`^berth-heal-${app}-\\d+$`));
    const after = await waitFor(
      'web-2 running in a new container',
      () => running(app, 'web'),
      (x) => x.length === 2 && x.every((y) => y.state === 'running') && x[1].id !== before[1].id,
    );
    expect(after[1].name).toBe(before[1].name);
    expect(replaced.newContainerId).toBe(after[1].id);
    expect(after[0].id).toBe(before[0].id); // the healthy one is untouched

    // A scale-down removes web-2: its death is not a failure to recover.
    const actionsBefore = (await resilienceState(c(), app, 'web')).actions.length;
    await operate(s(), app, { type: 'scale', service: 'web', replicas: 1 });
    await new Promise((r) => setTimeout(r, 2_000));
    const later = await resilienceState(c(), app, 'web');
    expect(later.actions.slice(actionsBefore).filter((a) => a.action !== 'ignore')).toEqual([]);
    expect(await running(app, 'web')).toHaveLength(1);

    await operate(s(), app, { type: 'destroy' });
  });
});
