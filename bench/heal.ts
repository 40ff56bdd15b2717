/**
 * `npm run bench:heal`: how fast the restarter brings a killed container back. One httpd instance
 * (a fixed forwarded port) with a restarter policy and a host watcher; KILLS times: `docker kill`,
 * then poll the port every 10 ms until httpd answers an HTTP request again. Reports the median and
 * worst time from the kill to the answer. Runs its own embedded server (temporary BERTH_HOME and
 * ports) and removes everything it made.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { createDockerClient } from '../src/adapters/docker';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import { hostWatcherWorkflowId } from '../src/core/names';
import {
  benchHome,
  berthCli,
  median,
  startServer,
  stopServer,
  targetBenchServer,
  waitForServer,
} from './support';

const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const HTTP_PORT = Number(process.env.BENCH_HTTP_PORT ?? 18480);
const APP = 'benchheal';
const TEMPORAL_PORT = 17443;

const { home, env } = benchHome(
  'berth-bench-heal',
  { temporal: TEMPORAL_PORT, ui: 18443, codec: 18444, sensor: 18445 },
  { network: 'berth-dns-bench-heal', subnet: '10.207.1.0/24' },
);
const berth = berthCli(env, home);

/** An HTTP answer from httpd itself (docker-proxy accepts TCP even while the container is down). */
function httpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 200, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** The inventory starts a watcher per host; this makes sure the local one runs (reusing it if so). */
async function ensureWatcher(): Promise<() => Promise<void>> {
  // This process talks to the bench's own server, with the codec key of its home.
  targetBenchServer(env);
  const target = temporalTarget();
  const client = await connectClient(target);
  await client.workflow.start('hostWatcher', {
    workflowId: hostWatcherWorkflowId(target.taskQueue, 'local'),
    taskQueue: target.taskQueue,
    args: [{ hostId: 'local', runForMs: 120_000 }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return () => client.connection.close();
}

async function main(): Promise<void> {
  const docker = createDockerClient();
  const file = path.join(home, 'heal.yaml');
  // A 1 ms window: every kill is the first failure in its window, so 20 kills never give up.
  fs.writeFileSync(
    file,
    `id: ${APP}
services:
  - id: web
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["${HTTP_PORT}:8080"]
    policies:
      - type: restarter
        failOnRecurringFailuresInThisDuration: 1ms
`,
  );
  const server = startServer(env);
  const samples: number[] = [];
  /** Kill → the engine started the container again (its `StartedAt`): the policy's share. */
  const restarted: number[] = [];
  let closeClient: (() => Promise<void>) | undefined;
  try {
    await waitForServer(home, TEMPORAL_PORT);
    berth(['deploy', file, '--json']);
    closeClient = await ensureWatcher();
    // Let the watcher follow the engine's events before the first kill.
    await new Promise((r) => setTimeout(r, 2_000));
    for (let i = 0; i < KILLS; i++) {
      const [c] = await docker.listContainers({ filters: { label: [`berth.app=${APP}`] } });
      if (!c) throw new Error('the instance is not running');
      const container = docker.getContainer(c.Id);
      const startedAt = (await container.inspect()).State.StartedAt;
      const t0 = performance.now();
      const killedAt = Date.now();
      await container.kill();
      // Down first (a new start time, or not running), then the first HTTP answer.
      for (let d = 0; d < 400; d++) {
        const s = (await container.inspect()).State;
        if (!s.Running || s.StartedAt !== startedAt) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      let ok = false;
      while (!ok && performance.now() - t0 < 30_000) {
        ok = await httpAnswers(HTTP_PORT);
        if (!ok) await new Promise((r) => setTimeout(r, 10));
      }
      if (!ok) throw new Error(`kill ${i + 1}: port ${HTTP_PORT} did not answer within 30 s`);
      samples.push(performance.now() - t0);
      restarted.push(new Date((await container.inspect()).State.StartedAt).getTime() - killedAt);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await closeClient?.().catch(() => undefined);
    await stopServer(server, env, home, APP);
  }
  console.log(
    JSON.stringify({
      benchmark: 'heal',
      kills: samples.length,
      medianMs: Math.round(median(samples)),
      worstMs: Math.round(Math.max(...samples)),
      samplesMs: samples.map(Math.round),
      restartedMedianMs: Math.round(median(restarted)),
    }),
  );
}

main().catch((err) => {
  console.error(`bench:heal: ${(err as Error).message}`);
  process.exit(1);
});
