/**
 * `npm run bench:autoscale`: from a metric above the autoscaler's upper bound to the new instance
 * running and ready. An httpd cluster with an autoscaler on a custom metric (no stabilisation delay,
 * one instance per decision, evaluated every INTERVAL_MS); each round POSTs a high value to the
 * sensor endpoint and waits until the scale operation the policy asked for has completed (its
 * instance passed the readiness check) and the container runs, then POSTs a value inside the
 * bounds. Runs its own embedded server (temporary BERTH_HOME and ports) and removes what it made.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { createDockerClient } from '../src/adapters/docker';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import type { AutoscalerPolicyState } from '../workflows/policies/autoscaler';
import { policyStateQuery } from '../workflows/policies/common';
import { policyWorkflowId } from '../src/core/names';

const ROOT = path.resolve(__dirname, '..', '..');
const BERTH = path.join(ROOT, 'bin', 'berth');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 250);
const APP = 'benchscale';
const TEMPORAL_PORT = 17453;
const SENSOR_PORT = 18455;

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-scale-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  BERTH_HOME: home,
  BERTH_PORT: String(TEMPORAL_PORT),
  BERTH_UI_PORT: '18453',
  BERTH_CODEC_PORT: '18454',
  BERTH_SENSOR_PORT: String(SENSOR_PORT),
  BERTH_DNS_NETWORK: 'berth-dns-bench-scale',
  BERTH_DNS_SUBNET: '10.207.2.0/24',
};
delete env.TEMPORAL_ADDRESS;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function berth(args: string[]): string {
  const r = spawnSync(process.execPath, [BERTH, ...args], {
    env,
    encoding: 'utf8',
    cwd: home,
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`berth ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitForServer(): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (fs.existsSync(path.join(home, 'server.pid')) && (await answers(TEMPORAL_PORT))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('embedded server did not start');
}

async function sensor(value: number): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${SENSOR_PORT}/v1/sensors/${APP}/web/load`, {
    method: 'POST',
    body: String(value),
  });
  if (r.status !== 202) throw new Error(`sensor endpoint answered ${r.status}: ${await r.text()}`);
}

async function main(): Promise<void> {
  const docker = createDockerClient();
  const file = path.join(home, 'scale.yaml');
  fs.writeFileSync(
    file,
    `id: ${APP}
services:
  - id: web
    type: cluster
    initialSize: 1
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]
    policies:
      - type: autoscaler
        metric: load
        metricUpperBound: 10
        minPoolSize: 1
        maxPoolSize: ${ROUNDS + 1}
        resizeUpIterationMax: 1
        pollPeriod: ${INTERVAL_MS}ms
`,
  );
  const server = spawn(process.execPath, [BERTH, 'server'], { env, stdio: 'ignore' });
  const samples: number[] = [];
  let close: (() => Promise<void>) | undefined;
  try {
    await waitForServer();
    berth(['deploy', file, '--json']);
    Object.assign(process.env, { BERTH_HOME: home, BERTH_PORT: String(TEMPORAL_PORT) });
    delete process.env.TEMPORAL_ADDRESS;
    const client = await connectClient(temporalTarget());
    close = () => client.connection.close();
    const policy = client.workflow.getHandle(policyWorkflowId(APP, 'web', 'autoscaler'));
    const state = async () => (await policy.query(policyStateQuery)) as AutoscalerPolicyState;
    for (let i = 0; i < 200; i++) {
      if (await state().catch(() => undefined)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await sensor(5);
    for (let round = 0; round < ROUNDS; round++) {
      const want = round + 2;
      const t0 = performance.now();
      await sensor(1000);
      let done = false;
      while (!done && performance.now() - t0 < 60_000) {
        const s = await state();
        const grew = s.decisions.find((d) => d.desired === want && d.current === want - 1);
        if (grew?.ok === false) throw new Error(`round ${round + 1}: scale failed: ${grew.error}`);
        if (grew?.ok) {
          const running = await docker.listContainers({
            filters: { label: [`berth.app=${APP}`, `berth.instance=web-${want}`], status: ['running'] },
          });
          done = running.length === 1;
        }
        if (!done) await new Promise((r) => setTimeout(r, 10));
      }
      if (!done) throw new Error(`round ${round + 1}: web-${want} did not come up within 60 s`);
      samples.push(performance.now() - t0);
      await sensor(5);
      await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));
    }
  } finally {
    await close?.().catch(() => undefined);
    spawnSync(process.execPath, [BERTH, 'destroy', APP], { env });
    spawnSync(process.execPath, [BERTH, 'server', 'stop'], { env });
    if (server.exitCode === null) await new Promise((r) => server.once('exit', r));
    fs.rmSync(home, { recursive: true, force: true });
  }
  console.log(
    JSON.stringify({
      benchmark: 'autoscale',
      rounds: samples.length,
      intervalMs: INTERVAL_MS,
      medianMs: Math.round(median(samples)),
      worstMs: Math.round(Math.max(...samples)),
      samplesMs: samples.map(Math.round),
    }),
  );
}

main().catch((err) => {
  console.error(`bench:autoscale: ${(err as Error).message}`);
  process.exit(1);
});
