/**
 * `berth policy list|pause|resume`, `berth sensor` and the HTTP sensor endpoint, through the
 * compiled CLI and a real `berth worker --sensor-port 0` process.
 */
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { uniqueApp } from '../support/docker';
import {
  expectOneLineError,
  runCli,
  startWorkerProcess,
  stopProcess,
  tempDir,
  type CliResult,
} from '../support/cli';
import { waitFor } from '../support/policies';
import { loadLocalToken } from '../../src/adapters/local-token';

/** The parent of a live process, from /proc (undefined once it is gone, or a zombie). */
function parentOf(pid: number): number | undefined {
  try {
    const [state, ppid] = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return state === 'Z' ? undefined : Number(ppid);
  } catch {
    return undefined;
  }
}

interface Listed {
  app: string;
  service: string;
  kind: string;
  status: string;
  last?: string;
  state?: { metrics?: Record<string, { value: number }>; decisions?: unknown[] };
}

describe('policy and sensor commands end to end', () => {
  const dir = tempDir('policycli');
  const env: NodeJS.ProcessEnv = { BERTH_TASK_QUEUE: `test-policycli-${process.pid}` };
  let worker: ChildProcess | undefined;
  let sensorUrl = '';
  let listenerPid = 0;
  const app = uniqueApp('policycli');

  beforeAll(async () => {
    env.TEMPORAL_ADDRESS = process.env.BERTH_TEST_TEMPORAL_ADDRESS;
    let output = '';
    worker = await startWorkerProcess(env, 60_000, ['--sensor-port', '0'], (o) => (output = o));
    const m = /Sensor endpoint (http:\/\/127\.0\.0\.1:(\d+))\S* \(pid (\d+)\)/.exec(output);
    sensorUrl = m?.[1] ?? '';
    env.BERTH_SENSOR_PORT = m?.[2];
    listenerPid = Number(m?.[3]);
  });

  afterAll(async () => {
    await runCli(['destroy', app], env).catch(() => undefined);
    await stopProcess(worker);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const list = async (): Promise<Listed[]> => {
    const r = await runCli(['policy', 'list', app, '--json'], env);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout).policies as Listed[];
  };
  // What a script does: the local token from $BERTH_HOME (the run's, shared with the worker).
  const post = (p: string, body: string, type = 'text/plain') =>
    fetch(`${sensorUrl}${p}`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': type, Authorization: `Bearer ${loadLocalToken()}` },
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { message?: string; value?: number },
    }));

  test('deploy with policies, list them, pause/resume, and feed the autoscaler by CLI and HTTP', async () => {
    expect(sensorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The endpoint runs in a child process of the worker, so a flood cannot stall its activities.
    expect(listenerPid).not.toBe(worker!.pid);
    expect(parentOf(listenerPid)).toBe(worker!.pid);
    const file = path.join(dir, 'app.yaml');
    fs.writeFileSync(
      file,
      `id: ${app}
services:
  - id: web
    type: cluster
    initialSize: 1
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]
    policies:
      - type: autoscaler
        metric: requests
        metricUpperBound: 1000
        maxPoolSize: 2
        pollPeriod: 200ms
      - type: restarter
`,
    );
    const deployed = await runCli(['deploy', file, '--json'], env);
    expect(deployed.code).toBe(0);

    // Visibility lags a little behind the start of the policy workflows.
    const listed = await waitFor('two policies listed', list, (x) => x.length === 2, 30_000, 300);
    expect(listed.map((p) => `${p.app}/${p.service}/${p.kind}/${p.status}`)).toEqual([
      `${app}/web/autoscaler/active`,
      `${app}/web/resilience/active`,
    ]);
    const human = await runCli(['policy', 'list', app], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/APP\s+SERVICE\s+KIND\s+STATUS\s+LAST/);
    expect(human.stdout).toMatch(new RegExp(`${app}\\s+web\\s+autoscaler\\s+active`));

    // berth sensor: good and bad input.
    const sent = await runCli(['sensor', app, 'web', 'requests', '7.5'], env);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(new RegExp(`sent requests=7.5 to the autoscaler of ${app}/web`));
    const decided = await waitFor(
      'a decision on 7.5',
      list,
      (x) => /requests 7\.5 not above 1000/.test(x.find((p) => p.kind === 'autoscaler')?.last ?? ''),
      20_000,
      300,
    );
    expect(decided.find((p) => p.kind === 'autoscaler')!.state!.metrics!.requests.value).toBe(7.5);
    expectOneLineError(
      await runCli(['sensor', app, 'web', 'requests', 'lots'], env),
      /VALUE must be a plain decimal number like 42 or -1.5, got 'lots'/,
    );
    expectOneLineError(
      await runCli(['sensor', app, 'nosuch', 'requests', '1'], env),
      new RegExp(`no autoscaler policy for ${app}/nosuch`),
    );

    // HTTP: text and JSON bodies; 400 and 404 with clear messages.
    expect(await post(`/v1/sensors/${app}/web/requests`, '12')).toMatchObject({
      status: 202,
      body: { value: 12 },
    });
    expect(await post(`/v1/sensors/${app}/web/requests`, '{"value": 13}', 'application/json')).toMatchObject({
      status: 202,
      body: { value: 13 },
    });
    await waitFor(
      'the HTTP value',
      list,
      (x) => x.find((p) => p.kind === 'autoscaler')?.state?.metrics?.requests.value === 13,
      20_000,
      300,
    );
    expect(await post(`/v1/sensors/${app}/web/requests`, 'many')).toEqual({
      status: 400,
      body: { message: "VALUE must be a plain decimal number like 42 or -1.5, got 'many'" },
    });
    expect(await post(`/v1/sensors/${app}/web/requests`, '{"value": "x"}')).toEqual({
      status: 400,
      body: { message: '"value" must be a plain decimal number like 42 or -1.5, got "x"' },
    });
    // berth sensor --http: the same endpoint, with the local token.
    const viaHttp = await runCli(['sensor', app, 'web', 'requests', '14', '--http'], env);
    expect(viaHttp.code).toBe(0);
    expect(viaHttp.stdout).toMatch(new RegExp(`sent requests=14 to the autoscaler of ${app}/web`));
    await waitFor(
      'the value sent with --http',
      list,
      (x) => x.find((p) => p.kind === 'autoscaler')?.state?.metrics?.requests.value === 14,
      20_000,
      300,
    );
    expectOneLineError(
      await runCli(['sensor', app, 'web', 'requests', '0x10', '--http'], env),
      /VALUE must be a plain decimal number like 42 or -1\.5, got '0x10'/,
    );
    expect(await post(`/v1/sensors/${app}/nosuch/requests`, '1')).toEqual({
      status: 404,
      body: { message: `no autoscaler policy for ${app}/nosuch` },
    });
    expect((await post('/v1/other', '1')).status).toBe(404);

    // Pause and resume: both kinds, or one.
    const paused = await runCli(['policy', 'pause', app, 'web'], env);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/paused the autoscaler policy/);
    expect(paused.stdout).toMatch(/paused the resilience policy/);
    await waitFor('both paused', list, (x) => x.every((p) => p.status === 'paused'), 10_000, 300);
    const resumed = await runCli(['policy', 'resume', app, 'web', 'autoscaler', '--json'], env);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout).resumed.map((r: { kind: string }) => r.kind)).toEqual(['autoscaler']);
    const mixed = await waitFor(
      'autoscaler resumed',
      list,
      (x) => x.find((p) => p.kind === 'autoscaler')?.status === 'active',
      10_000,
      300,
    );
    expect(mixed.find((p) => p.kind === 'resilience')?.status).toBe('paused');
    expect((await runCli(['policy', 'resume', app, 'web', 'resilience'], env)).code).toBe(0);

    // Unknown app, service or kind: one line, exit 1.
    expectOneLineError(
      await runCli(['policy', 'pause', 'bt-no-such-app', 'web'], env),
      /unknown app 'bt-no-such-app'/,
    );
    expectOneLineError(
      await runCli(['policy', 'pause', app, 'nosuch'], env),
      new RegExp(`app '${app}' has no service 'nosuch' \\(services: web\\)`),
    );
    expectOneLineError(
      await runCli(['policy', 'resume', app, 'web', 'bogus'], env),
      /KIND must be one of autoscaler, resilience, got 'bogus'/,
    );

    // Destroy stops the policies.
    expect((await runCli(['destroy', app], env)).code).toBe(0);
    await waitFor('no policies listed', list, (x) => x.length === 0, 30_000, 300);
    expectOneLineError(
      await runCli(['sensor', app, 'web', 'requests', '1'], env),
      new RegExp(`no autoscaler policy for ${app}/web`),
    );
  });

  test('the listeners process does not outlive a killed worker', async () => {
    let output = '';
    const other = await startWorkerProcess(
      { ...env, BERTH_TASK_QUEUE: `${env.BERTH_TASK_QUEUE}-b` },
      60_000,
      ['--sensor-port', '0'],
      (o) => (output = o),
    );
    const pid = Number(/\(pid (\d+)\)/.exec(output)?.[1]);
    expect(parentOf(pid)).toBe(other.pid);
    await stopProcess(other, 'SIGKILL');
    // Its stdin pipe closes with the worker; it exits on its own.
    await waitFor(
      'the listeners process gone',
      async () => parentOf(pid),
      (ppid) => ppid === undefined,
      15_000,
      200,
    );
  });

  test('sensor and policy usage errors need no server', async () => {
    const offline = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    expectOneLineError(
      await runCli(['sensor', 'a', 'b', 'c', 'NaN'], offline),
      /VALUE must be a plain decimal number like 42 or -1\.5, got 'NaN'/,
    );
    expectOneLineError(
      await runCli(['sensor', '../a', 'b', 'c', '1'], offline),
      /APP must be a DNS label \(a-z, 0-9, '-'; at most 63 characters\), got "\.\.\/a"/,
    );
    const missing: CliResult = await runCli(['sensor', 'a', 'b'], offline);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument/);
  });
});
