/**
 * `npm run bench:autoscale`: from a metric above the autoscaler's upper bound to the new instance
 * running and ready. An httpd cluster with an autoscaler on a custom metric (no stabilisation delay,
 * one instance per decision, evaluated every INTERVAL_MS); each round POSTs a high value to the
 * sensor endpoint and waits until the scale operation the policy asked for has completed (its
 * instance passed the readiness check) and the container runs, then POSTs a value inside the
 * bounds. Runs its own embedded server (temporary BERTH_HOME and ports) and removes what it made.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createDockerClient } from '../src/adapters/docker';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import type { AutoscalerPolicyState } from '../workflows/api/autoscaler';
import { policyStateQuery } from '../workflows/api/policies';
import { policyWorkflowId } from '../src/core/names';
import {
  benchHome,
  berthCli,
  median,
  startServer,
  stopServer,
  targetBenchServer,
  waitForServer,
} from './support';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 250);
const APP = 'benchscale';
const TEMPORAL_PORT = 17453;
const SENSOR_PORT = 18455;

const { home, env } = benchHome(
  'berth-bench-scale',
  { temporal: TEMPORAL_PORT, ui: 18453, codec: 18454, sensor: SENSOR_PORT },
  { network: 'berth-dns-bench-scale', subnet: '10.207.2.0/24' },
);
const berth = berthCli(env, home);

async function sensor(value: number): Promise<void> {
  // The endpoint wants the local token of the bench's own BERTH_HOME, made by its server.
  const token = fs.readFileSync(path.join(home, 'http.token'), 'utf8').trim();
  const r = await fetch(`http://127.0.0.1:${SENSOR_PORT}/v1/sensors/${APP}/web/load`, {
    method: 'POST',
    body: String(value),
    headers: { Authorization: `Bearer ${token}` },
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
  const server = startServer(env);
  const samples: number[] = [];
  let close: (() => Promise<void>) | undefined;
  try {
    await waitForServer(home, TEMPORAL_PORT);
    berth(['deploy', file, '--json']);
    targetBenchServer(env);
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
    await stopServer(server, env, home, APP);
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
