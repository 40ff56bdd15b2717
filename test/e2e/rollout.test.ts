/**
 * Changing a running app through the CLI, on the real engine and dev server: rolling updates with a
 * client in the app's network asking for the service by name every 50 ms (zero failed requests
 * through an update, a rollback and a failed update), canaries, pause and resume, cancel, history
 * and diff, and autoscaled counts kept across a redeploy.
 */
import * as fs from 'fs';
import * as path from 'path';
import type Docker from 'dockerode';
import { LABEL } from '../../src/core/names';
import { operationProgressQuery } from '../../workflows/api/operations';
import { appContainers, docker, uniqueApp } from '../support/docker';
import { runCli, workerProcessFixture, type CliResult } from '../support/cli';
import { testClient } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

interface Version {
  version: string;
  replicas?: number;
  update?: string;
  /** The command exits (an instance that never becomes ready) on these instances, or on all. */
  brokenOn?: string[] | 'all';
}

/** httpd serving its version on 8080; a broken one listens elsewhere or exits, so readiness fails. */
function blueprint(dir: string, app: string, v: Version): string {
  const serve = `mkdir -p /www && echo ${v.version} > /www/index.html && exec httpd -f -p 8080 -h /www`;
  const command =
    v.brokenOn === 'all'
      ? 'exec httpd -f -p 9999 -h /'
      : v.brokenOn
        ? `case $HOSTNAME in ${v.brokenOn.join('|')}) exit 3;; esac; ${serve}`
        : serve;
  const file = path.join(dir, `${app}-${v.version}.yaml`);
  fs.writeFileSync(
    file,
    [
      `id: ${app}`,
      'services:',
      '  - id: web',
      '    image: berth/busybox:1',
      `    replicas: ${v.replicas ?? 3}`,
      `    command: [sh, -c, ${JSON.stringify(command)}]`,
      `    env: {VERSION: ${v.version}}`,
      "    ports: ['8080']",
      // httpd as PID 1 ignores SIGTERM: without this each stop would wait Docker's default 10 s.
      '    stopGracePeriod: 1s',
      `    update: ${v.update ?? '{drain: 300ms}'}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** The VERSION of every running container of the app, by instance. */
async function versions(app: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of await appContainers(app)) {
    if (c.State !== 'running' || c.Labels[LABEL.kind] !== 'container') continue;
    const env = (await docker.getContainer(c.Id).inspect()).Config.Env ?? [];
    out[c.Labels[LABEL.instance]] = env.find((e) => e.startsWith('VERSION='))?.slice(8) ?? '?';
  }
  return out;
}

const PROBE = [
  'ok=0; fail=0; n=0',
  'while [ ! -f /tmp/stop ] && [ $n -lt 20000 ]; do',
  '  n=$((n+1))',
  '  out=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 10 "$0" 8080 2>&1)',
  '  case "$out" in *"200 OK"*) ok=$((ok+1));; *) fail=$((fail+1)); echo "FAIL $n: $(echo $out | head -c 120)";; esac',
  '  sleep 0.05',
  'done',
  'echo "ok=$ok fail=$fail"',
].join('\n');

/**
 * A client in the app's network asking for `web.<app>.berth` every 50 ms, resolving the name for
 * every request (as any Berth container does: Berth's DNS server is its resolver).
 */
async function startProber(app: string): Promise<{ stop(): Promise<{ ok: number; failures: string[] }> }> {
  const dns = JSON.parse(fs.readFileSync(path.join(process.env.BERTH_HOME!, 'dns', 'server.json'), 'utf8'));
  // A fixed address at the top of the /24: left to Docker, the prober takes the lowest free one,
  // the address Berth hands the next start-first replacement.
  const network = `berth-${app}`;
  const subnet = (await docker.getNetwork(network).inspect()).IPAM?.Config?.[0]?.Subnet ?? '';
  const top = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  const container: Docker.Container = await docker.createContainer({
    Image: 'berth/busybox:1',
    Cmd: ['sh', '-c', PROBE, `web.${app}.berth`],
    Labels: { [LABEL.app]: app },
    HostConfig: { NetworkMode: network, Dns: [dns.address] },
    ...(top
      ? {
          NetworkingConfig: {
            EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: `${top[1]}.250` } } },
          },
        }
      : {}),
  });
  await container.start();
  const logs = async () => (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  return {
    async stop() {
      await container.exec({ Cmd: ['touch', '/tmp/stop'] }).then((e) => e.start({}));
      await container.wait();
      const text = await logs();
      await container.remove({ force: true });
      const total = /ok=(\d+) fail=(\d+)/.exec(text);
      return { ok: Number(total?.[1] ?? 0), failures: text.split('\n').filter((l) => l.startsWith('FAIL')) };
    },
  };
}

function ok(result: CliResult): string {
  if (result.code !== 0) throw new Error(`berth exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

describe('changing a running app safely (rolling updates through the CLI)', () => {
  const { env, dir } = workerProcessFixture('rollout');
  const cli = (args: string[], timeoutMs = 240_000) => runCli(args, env, timeoutMs);
  // afterEach: the fixture's own afterAll stops the worker before any afterAll declared here runs.
  const apps: string[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await cli(['destroy', app]);
  }, 300_000);

  /** A new app at v1 (4 replicas, `update`), with a prober asking for it by name for a second already. */
  async function probedV1(stem: string, update: string) {
    const app = uniqueApp(stem);
    apps.push(app);
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v1', replicas: 4, update })]));
    const prober = await startProber(app);
    await sleep(1_000);
    return { app, prober };
  }

  test('zero failed requests through an update, a rollback and a failed update rolled back by itself', async () => {
    const update = '{parallelism: 2, drain: 300ms}';
    const { app, prober } = await probedV1('roll', update);

    const updated = await cli(['deploy', blueprint(dir, app, { version: 'v2', replicas: 4, update })]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/replaced web-1 \(stop-first\)/);
    expect(await versions(app)).toEqual({ 'web-1': 'v2', 'web-2': 'v2', 'web-3': 'v2', 'web-4': 'v2' });

    const rolledBack = await cli(['rollback', app]);
    expect(rolledBack.code).toBe(0);
    expect(await versions(app)).toEqual({ 'web-1': 'v1', 'web-2': 'v1', 'web-3': 'v1', 'web-4': 'v1' });

    const broken = await cli([
      'deploy',
      blueprint(dir, app, { version: 'v3', replicas: 4, update, brokenOn: 'all' }),
      '--ready-timeout',
      '3s',
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      /^error: rollout of web failed: web-\d: .*not ready.*; rolled back to version 3$/m,
    );
    expect(await versions(app)).toEqual({ 'web-1': 'v1', 'web-2': 'v1', 'web-3': 'v1', 'web-4': 'v1' });

    await sleep(500);
    const probed = await prober.stop();
    expect(probed.failures).toEqual([]);
    expect(probed.ok).toBeGreaterThan(20);

    // History: every operation, its version, result and who asked; the versions kept.
    const history = JSON.parse(ok(await cli(['history', app, '--json'])));
    expect(
      history.operations.map((o: { type: string; result: string; version?: number }) => [
        o.type,
        o.result,
        o.version,
      ]),
    ).toEqual([
      ['deploy', 'completed', 1],
      ['deploy', 'completed', 2],
      ['rollback', 'completed', 3],
      ['deploy', 'failed', 4],
    ]);
    expect(history.operations.every((o: { requestedBy?: string }) => !!o.requestedBy)).toBe(true);
    expect(
      history.versions.map((v: { version: number; current: boolean }) => [v.version, v.current]),
    ).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect(ok(await cli(['history', app]))).toMatch(/#\s+TYPE\s+VERSION\s+STARTED/);

    // diff: what runs (v1, as version 3) against v1 and v3.
    const same = await cli(['diff', blueprint(dir, app, { version: 'v1', replicas: 4, update })]);
    expect(same).toMatchObject({ code: 0 });
    expect(same.stdout).toMatch(/no change/);
    const changed = await cli(['diff', blueprint(dir, app, { version: 'v3', replicas: 5, update })]);
    expect(changed.code).toBe(2);
    expect(changed.stdout).toMatch(/web-1\s+replace\s+changed: command, env/);
    expect(changed.stdout).toMatch(/web-5\s+create/);
    expect(changed.stdout).toMatch(
      /rollout of web: 4 instance\(s\), 2 at a time, stop-first, on failure rollback/,
    );
    const json = JSON.parse(
      (await cli(['diff', blueprint(dir, app, { version: 'v3', replicas: 4, update }), '--json'])).stdout,
    );
    expect(json.instances.filter((i: { action: string }) => i.action === 'replace')).toHaveLength(4);
  }, 400_000);

  test('start-first: zero failed requests, and the old containers are gone when the command returns', async () => {
    const update = '{parallelism: 2, order: start-first, drain: 300ms}';
    const { app, prober } = await probedV1('surge', update);
    const updated = await cli(['deploy', blueprint(dir, app, { version: 'v2', replicas: 4, update })]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/replaced web-4 \(start-first, now /);
    await sleep(500);
    const probed = await prober.stop();
    expect(probed.failures).toEqual([]);
    expect(probed.ok).toBeGreaterThan(10);
    // The old ones drained and stopped behind the batches, but before the command returned.
    expect(await versions(app)).toEqual({ 'web-1': 'v2', 'web-2': 'v2', 'web-3': 'v2', 'web-4': 'v2' });
    const left = (await appContainers(app)).filter((c) => c.Labels[LABEL.kind] === 'container');
    expect(left.map((c) => c.Names[0]).sort()).toEqual(
      ['web-1', 'web-2', 'web-3', 'web-4'].map((i) => `/berth-${app}-${i}`),
    );
  }, 400_000);

  test('a canary is promoted; another is aborted and the old version stays', async () => {
    const app = uniqueApp('canary');
    apps.push(app);
    const update = '{canary: 1, drain: 300ms}';
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v1', update })]));
    const started = JSON.parse(
      ok(await cli(['deploy', blueprint(dir, app, { version: 'v2', update }), '--detach', '--json'])),
    );
    const { client, close } = await testClient();
    try {
      const progress = () => client.workflow.getHandle(started.workflowId).query(operationProgressQuery);
      const waiting = await waitFor('the canary wait', progress, (p) => p.waiting?.kind === 'canary');
      expect(waiting.waiting?.instances).toEqual(['web-1']);
      // Beside the old ones: three v1 and one v2.
      const during = await appContainers(app);
      expect(during.filter((c) => c.Labels[LABEL.kind] === 'container')).toHaveLength(4);

      const refused = await cli(['resume', app]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/waits for promote or abort or rollback/);

      const promoted = await cli(['promote', app]);
      expect(promoted.code).toBe(0);
      expect(await versions(app)).toEqual({ 'web-1': 'v2', 'web-2': 'v2', 'web-3': 'v2' });
      expect((await appContainers(app)).map((c) => c.Names[0]).sort()).toEqual(
        ['web-1', 'web-2', 'web-3'].map((i) => `/berth-${app}-${i}`),
      );

      const next = JSON.parse(
        ok(await cli(['deploy', blueprint(dir, app, { version: 'v3', update }), '--detach', '--json'])),
      );
      await waitFor(
        'the second canary wait',
        () => client.workflow.getHandle(next.workflowId).query(operationProgressQuery),
        (p) => p.waiting?.kind === 'canary',
      );
      const aborted = await cli(['abort', app]);
      expect(aborted.code).toBe(1);
      expect(aborted.stderr).toMatch(/canary of web aborted: canaries removed; rolled back to version 2/);
      expect(await versions(app)).toEqual({ 'web-1': 'v2', 'web-2': 'v2', 'web-3': 'v2' });
      expect(await appContainers(app)).toHaveLength(3);
    } finally {
      await close();
    }
  }, 400_000);

  test('failureAction pause waits for a person; resume goes on with the rest', async () => {
    const app = uniqueApp('pause');
    apps.push(app);
    const update = '{failureAction: pause, drain: 200ms}';
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v1', update })]));
    const started = JSON.parse(
      ok(
        await cli([
          'deploy',
          blueprint(dir, app, { version: 'v2', update, brokenOn: ['web-1'] }),
          '--detach',
          '--json',
          '--ready-timeout',
          '3s',
        ]),
      ),
    );
    const { client, close } = await testClient();
    try {
      const paused = await waitFor(
        'the pause',
        () => client.workflow.getHandle(started.workflowId).query(operationProgressQuery),
        (p) => p.waiting?.kind === 'paused',
      );
      expect(paused.waiting?.instances).toEqual(['web-1']);
      expect(paused.waiting?.reason).toMatch(
        /rollout of web paused after 1 failure\(s\) \(web-1: .*\): resume or rollback/,
      );
      const resumed = await cli(['resume', app]);
      expect(resumed.code).toBe(0);
      expect(await versions(app)).toEqual({ 'web-2': 'v2', 'web-3': 'v2' });
    } finally {
      await close();
    }
  }, 400_000);

  test('cancel in the middle of a rollout rolls it back: a consistent app at its previous version', async () => {
    const app = uniqueApp('cancel');
    apps.push(app);
    const update = '{minReady: 3s, drain: 200ms}';
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v1', update })]));
    const started = JSON.parse(
      ok(await cli(['deploy', blueprint(dir, app, { version: 'v2', update }), '--detach', '--json'])),
    );
    const { client, close } = await testClient();
    try {
      await waitFor(
        'the first replacement',
        () => client.workflow.getHandle(started.workflowId).query(operationProgressQuery),
        (p) => p.events.some((e) => e.startsWith('replaced web-1')),
      );
    } finally {
      await close();
    }
    const cancelled = await cli(['cancel', app, '--json']);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({
      operationId: started.workflowId,
      status: 'cancelled',
      version: 1,
    });
    expect(await versions(app)).toEqual({ 'web-1': 'v1', 'web-2': 'v1', 'web-3': 'v1' });
    expect(await appContainers(app)).toHaveLength(3);
  }, 400_000);

  test("a redeploy keeps a service's scaled count unless the blueprint's own count changed", async () => {
    const app = uniqueApp('keep');
    apps.push(app);
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v1', replicas: 2 })]));
    ok(await cli(['scale', app, 'web', '4']));
    const redeployed = await cli(['deploy', blueprint(dir, app, { version: 'v2', replicas: 2 })]);
    expect(redeployed.code).toBe(0);
    expect(redeployed.stdout).toMatch(
      /web: keeping its 4 instance\(s\) \(the blueprint's count, 2, did not change\)/,
    );
    expect(Object.keys(await versions(app)).sort()).toEqual(['web-1', 'web-2', 'web-3', 'web-4']);
    ok(await cli(['deploy', blueprint(dir, app, { version: 'v3', replicas: 3 })]));
    expect(Object.keys(await versions(app)).sort()).toEqual(['web-1', 'web-2', 'web-3']);
  }, 400_000);
});
