import { performance } from 'perf_hooks';
import { CancelledFailure } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMonitoringActivities, type WatchHostEventsResult } from '../../activities/monitoring';
import { createDockerClient } from '../../src/adapters/docker';
import { createDockerPool } from '../../src/adapters/docker-pool';
import {
  relistFailed,
  settleFailure,
  watchContainerEvents,
  type ContainerEvent,
} from '../../src/adapters/events';
import { aggregate, sampleContainerStats } from '../../src/adapters/stats';
import { LABEL, policyWorkflowId } from '../../src/core/names';
import type { ContainerFailure } from '../../src/core/policy/events';
import { containerFailedSignal } from '../../workflows/api/resilience';
import { docker, removeTestApps, uniqueApp } from '../support/docker';
import { testClient, uniqueTaskQueue } from '../support/temporal';

/**
 * The policies' sensors on the real engine: stats from the stream, failure events (and their
 * reconnects), and the host watcher activity signalling a real (never-running) workflow on the dev
 * server, whose history shows the signals.
 */
const IMAGE = 'berth/busybox:1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function runContainer(
  app: string,
  service: string,
  instance: string,
  cmd: string[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const c = await docker.createContainer({
    Image: IMAGE,
    Cmd: cmd,
    Labels: {
      [LABEL.managed]: 'true',
      [LABEL.kind]: 'container',
      [LABEL.app]: app,
      [LABEL.service]: service,
      [LABEL.instance]: instance,
    },
    HostConfig: { NetworkMode: 'none' },
    ...extra,
  });
  await c.start();
  return c.id;
}

/** Polls until `check` holds (bounded). */
async function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = check();
    if (got !== undefined && got !== false) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

afterAll(async () => {
  await removeTestApps();
});

describe('stats from the stream', () => {
  test('a container burning CPU shows a clear share of a core, an idle one < 10%, within the timeout', async () => {
    const app = uniqueApp('mon');
    const busy = await runContainer(app, 'web', 'web-1', ['sh', '-c', 'while :; do :; done']);
    const idle = await runContainer(app, 'web', 'web-2', ['sleep', '300']);
    const stopped = await runContainer(app, 'web', 'web-3', ['true']);
    await docker.getContainer(stopped).wait();
    await sleep(300);

    const started = performance.now();
    const stats = await sampleContainerStats(docker, [busy, idle, stopped, 'no-such-container'], {
      timeoutMs: 4_000,
    });
    const took = performance.now() - started;
    console.log(
      `stats sample of 4 containers (2 running): ${took.toFixed(0)} ms; ${JSON.stringify(stats.map((s) => [s.id === busy ? 'busy' : 'idle', +s.cpuPercent.toFixed(1), s.memoryBytes]))}`,
    );

    expect(took).toBeLessThan(4_000);
    expect(stats.map((s) => s.id).sort()).toEqual([busy, idle].sort());
    const of = (id: string) => stats.find((s) => s.id === id)!;
    // On two loaded cores the busy loop gets a fifth of one (seen: 22%), on an idle machine all of it.
    expect(of(busy).cpuPercent).toBeGreaterThan(Math.max(10, of(idle).cpuPercent * 5));
    expect(of(busy).cpuPercent).toBeLessThan(120);
    expect(of(idle).cpuPercent).toBeLessThan(10);
    for (const s of stats) {
      expect(s.memoryBytes).toBeGreaterThan(0);
      expect(s.memoryLimitBytes).toBeGreaterThan(s.memoryBytes);
      expect(Math.abs(s.atMs - Date.now())).toBeLessThan(60_000);
    }
    const agg = aggregate(stats);
    expect(agg.instances).toBe(2);
    expect(agg.cpuPercentAvg).toBeCloseTo((of(busy).cpuPercent + of(idle).cpuPercent) / 2, 5);

    // The activity: the service's running containers, found by labels.
    const { sampleServiceStats } = createMonitoringActivities({ pool: createDockerPool(docker) });
    const service = await sampleServiceStats({ app, service: 'web', timeoutMs: 4_000 });
    expect(service.instances).toBe(2);
    expect(service.perInstance.map((p) => p.instance)).toEqual(['web-1', 'web-2']);
    // A clear share, not a fixed one: on a loaded 2-core machine the loop gets what the others leave.
    expect(service.perInstance[0].cpuPercent).toBeGreaterThan(service.perInstance[1].cpuPercent + 10);
    expect(service.memoryPercentAvg).toBeGreaterThan(0);
    expect(await sampleServiceStats({ app, service: 'nothing' })).toMatchObject({ instances: 0 });

    // A timeout shorter than one frame interval yields nothing rather than hanging.
    const quick = performance.now();
    expect(await sampleContainerStats(docker, [busy], { timeoutMs: 300 })).toEqual([]);
    expect(performance.now() - quick).toBeLessThan(1_000);
  });
});

describe('container events', () => {
  test('kills arrive as die events with their labels; a broken stream reconnects, reports the gap and goes on', async () => {
    const app = uniqueApp('mon');
    const events: { e: ContainerEvent; at: number }[] = [];
    const gaps: { fromS: number; toS: number }[] = [];
    const streams: NodeJS.ReadableStream[] = [];
    const stop = new AbortController();
    const watching = watchContainerEvents(docker, {
      signal: stop.signal,
      reconnectDelayMs: 100,
      onEvent: (e) => {
        if (e.app === app) events.push({ e, at: performance.now() });
      },
      onGap: async (gap) => {
        gaps.push(gap);
      },
      onConnected: ({ stream }) => streams.push(stream),
    });
    await until('the first subscription', () => streams.length === 1);

    const eventOf = (id: string, kind: ContainerEvent['kind']) =>
      events.find((x) => x.e.id === id && x.e.kind === kind);
    const latencies: number[] = [];
    const killed: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const id = await runContainer(app, 'worker', `worker-${i}`, ['sleep', '300']);
      await until('start event', () => eventOf(id, 'start'));
      const t0 = performance.now();
      await docker.getContainer(id).kill();
      const die = await until('die event', () => eventOf(id, 'die'), 5_000);
      latencies.push(die.at - t0);
      expect(die.e).toMatchObject({ app, service: 'worker', instance: `worker-${i}`, exitCode: 137 });
      killed.push(id);
    }
    console.log(
      `docker kill → die event: median ${median(latencies).toFixed(1)} ms (${latencies.map((l) => l.toFixed(0)).join(', ')})`,
    );
    expect(median(latencies)).toBeLessThan(1_000);

    // Break the stream: the watcher reconnects (since = the last event's second), reports a gap,
    // does not deliver the replayed events twice, and keeps delivering.
    const before = events.length;
    (streams[0] as unknown as { destroy(): void }).destroy();
    await until('a reconnect', () => streams.length === 2 && gaps.length === 1);
    expect(gaps[0].fromS).toBeLessThanOrEqual(gaps[0].toS);
    const after = await runContainer(app, 'worker', 'worker-9', ['sleep', '300']);
    await docker.getContainer(after).kill();
    await until('die after the reconnect', () => eventOf(after, 'die'), 5_000);
    const keys = events.map((x) => `${x.e.id}|${x.e.kind}|${x.e.timeNano}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(events.slice(before).map((x) => x.e.id)).toEqual([after, after]);

    stop.abort();
    const result = await watching;
    expect(result.reconnects).toBe(1);
    expect(result.delivered).toBeGreaterThanOrEqual(events.length);

    // The re-list finds the killed containers, timed like the live events once settled.
    const relisted = await relistFailed(docker, app);
    expect(relisted.map((e) => e.id).sort()).toEqual([...killed, after].sort());
    for (const e of relisted) {
      expect(e).toMatchObject({ kind: 'die', app, service: 'worker', exitCode: 137 });
      const live = eventOf(e.id, 'die')!.e;
      expect((await settleFailure(docker, live)).atMs).toBe(Math.round(e.timeNano / 1e6));
    }
  });
});

describe('container events without an engine', () => {
  test('an engine that cannot be reached fails the watch after maxReconnects attempts', async () => {
    const nowhere = createDockerClient('unix:///nonexistent/docker.sock');
    const started = performance.now();
    await expect(
      watchContainerEvents(nowhere, {
        signal: new AbortController().signal,
        onEvent: () => undefined,
        maxReconnects: 2,
        reconnectDelayMs: 20,
      }),
    ).rejects.toThrow(/failed 3 times in a row: .*ENOENT/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('watchHostEvents', () => {
  test('signals containerFailed to the service resilience workflow, re-lists on start, resumes from its heartbeat, and stops when cancelled', async () => {
    const app = uniqueApp('mon');
    const { client, close } = await testClient();
    // A workflow no worker runs: the server still accepts its signals and records them.
    const workflowId = policyWorkflowId(app, 'web', 'resilience');
    const handle = await client.workflow.start('noSuchWorkflowType', {
      workflowId,
      taskQueue: uniqueTaskQueue('mon-nobody'),
      args: [],
    });
    const { watchHostEvents } = createMonitoringActivities({ pool: createDockerPool(docker) });
    const leaks: string[] = [];
    const onWarning = (w: Error) => w.name === 'MaxListenersExceededWarning' && leaks.push(w.message);
    process.on('warning', onWarning);
    try {
      // Failed before the watcher ran: found by the start-up re-list.
      const early = await runContainer(app, 'web', 'web-1', ['sleep', '300']);
      await docker.getContainer(early).kill();
      await docker.getContainer(early).wait();

      const env = new MockActivityEnvironment(undefined, { client });
      const heartbeats: { lastEventS?: number }[] = [];
      env.on('heartbeat', (d: { lastEventS?: number }) => heartbeats.push(d));
      // Long enough for the failures below to happen inside the round even on a loaded machine
      // (a 5 s round once ended before the health check had failed: 2 of 3 signals).
      const running: Promise<WatchHostEventsResult> = env.run(watchHostEvents, {
        hostId: 'local',
        runForMs: 12_000,
        reconnectDelayMs: 100,
      });
      await sleep(800);
      const live = await runContainer(app, 'web', 'web-2', ['sleep', '300']);
      await docker.getContainer(live).kill();
      // A service without a resilience policy: nothing to signal, not an error.
      const other = await runContainer(app, 'api', 'api-1', ['sleep', '300']);
      await docker.getContainer(other).kill();
      const sick = await runContainer(app, 'web', 'web-3', ['sleep', '300'], {
        Healthcheck: { Test: ['CMD', 'false'], Interval: 500_000_000, Retries: 1 },
      });
      for (let i = 0; i < 100; i++) {
        const state = (await docker.getContainer(sick).inspect()).State as { Health?: { Status?: string } };
        if (state.Health?.Status === 'unhealthy') break;
        await sleep(100);
      }
      const result = await running;
      expect(result.delivered).toBeGreaterThanOrEqual(3);
      expect(result.lastEventS).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(heartbeats.length).toBeGreaterThanOrEqual(2);
      // The last heartbeat trails the result by at most the events of its last 2 s.
      expect(heartbeats.at(-1)?.lastEventS).toBeLessThanOrEqual(result.lastEventS);
      expect(heartbeats.at(-1)?.lastEventS).toBeGreaterThan(result.lastEventS - 5);

      const signals = await signalsOf(client, workflowId);
      const byId = (id: string) => signals.filter((s) => s.containerId === id);
      expect(byId(early)).toEqual([
        expect.objectContaining({
          app,
          service: 'web',
          instance: 'web-1',
          kind: 'die',
          exitCode: 137,
          hostId: 'local',
          source: 'relist',
        }),
      ]);
      expect(byId(live)).toEqual([
        expect.objectContaining({
          app,
          service: 'web',
          instance: 'web-2',
          kind: 'die',
          exitCode: 137,
          hostId: 'local',
          source: 'event',
        }),
      ]);
      expect(byId(sick)).toEqual([
        expect.objectContaining({ instance: 'web-3', kind: 'unhealthy', source: 'event' }),
      ]);
      expect(byId(other)).toEqual([]);
      const finished = new Date((await docker.getContainer(live).inspect()).State.FinishedAt).getTime();
      expect(byId(live)[0].atMs).toBe(finished);

      // A retry resumes from the heartbeat: the replay and the re-list name the same failures
      // with the same containerId@atMs, so the policy takes each once.
      const retry = new MockActivityEnvironment(
        { heartbeatDetails: heartbeats.at(-1), attempt: 2 },
        { client },
      );
      await retry.run(watchHostEvents, { hostId: 'local', runForMs: 1_500, reconnectDelayMs: 100 });
      const again = (await signalsOf(client, workflowId)).slice(signals.length);
      const key = (s: ContainerFailure) => `${s.containerId}@${s.atMs}`;
      const firstKeys = new Set(signals.filter((s) => s.kind === 'die').map(key));
      const dies = again.filter((s) => s.kind === 'die');
      expect(dies.length).toBeGreaterThanOrEqual(2);
      for (const s of dies) expect(firstKeys.has(key(s))).toBe(true);

      // Cancellation ends it at once with a CancelledFailure.
      const cancelled = new MockActivityEnvironment(undefined, { client });
      const long = cancelled.run(watchHostEvents, { hostId: 'local', runForMs: 60_000 });
      await sleep(300);
      const t0 = performance.now();
      cancelled.cancel();
      await expect(long).rejects.toBeInstanceOf(CancelledFailure);
      // Ended by the cancellation, not by its 60 s round (a bound on correctness, not a speed figure).
      expect(performance.now() - t0).toBeLessThan(30_000);
      // Signals do not pile abort listeners on the activity's cancellation signal.
      expect(leaks).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await handle.terminate('test over').catch(() => undefined);
      await close();
    }
  });
});

/** The `containerFailed` payloads in a workflow's history, decoded with the client's codec. */
async function signalsOf(
  client: Awaited<ReturnType<typeof testClient>>['client'],
  workflowId: string,
): Promise<ContainerFailure[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const out: ContainerFailure[] = [];
  for (const e of history.events ?? []) {
    const signaled = e.workflowExecutionSignaledEventAttributes;
    if (!signaled || signaled.signalName !== containerFailedSignal.name) continue;
    const [payload] = await decodeArrayFromPayloads(
      client.options.loadedDataConverter,
      signaled.input?.payloads,
    );
    out.push(payload as ContainerFailure);
  }
  return out;
}
