/**
 * `npm run bench:heal`: how fast a killed container serves again, Berth's restarter against Docker's
 * own restart manager on the same engine, in the same run.
 *
 * - Headline (defaults): INSTANCES busybox httpd instances of a service with a restarter policy as
 *   written with no settings (give-up window 5 min, 3 failures, backoff from 100 ms), and INSTANCES
 *   plain containers with `restart: always` (Docker's backoff from 100 ms). Each instance is killed
 *   once (a first failure, as most are), alternating Berth and Docker: SIGKILL to the container's
 *   main process (a crash; `docker kill` is a manual stop to Docker), then wait for
 *   the engine to report it running with a new start time, then connect to its own address:8080
 *   every 10 ms until httpd answers an HTTP request. The time is from the kill to that answer.
 * - Tuned (labelled so, no peer): one instance whose restarter has a 1 ms window (no backoff, never
 *   gives up), killed TUNED_KILLS times in a row — the best case, not the headline.
 *
 * Runs its own embedded server (temporary BERTH_HOME and ports) and removes everything it made.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type Docker from 'dockerode';
import { createDockerClient } from '../src/adapters/docker';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import { hostWatcherWorkflowId } from '../src/core/names';
import {
  benchHome,
  berthCli,
  cleanupOnInterrupt,
  median,
  spread,
  startServer,
  stopServer,
  targetBenchServer,
  waitForServer,
} from './support';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10);
const TUNED_KILLS = Number(process.env.BENCH_KILLS ?? 10);
const APP = 'benchheal';
const PEER_LABEL = 'berth.bench=heal';
const PEER_NETWORK = 'benchheal-docker';
const TEMPORAL_PORT = 17443;
const TIMEOUT_MS = 120_000;

const { home, env } = benchHome(
  'berth-bench-heal',
  { temporal: TEMPORAL_PORT, ui: 18443, codec: 18444, sensor: 18445 },
  { network: 'berth-dns-bench-heal', subnet: '10.207.1.0/24' },
);
const berth = berthCli(env, home);
const docker = createDockerClient();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP answer from httpd itself, at the container's own address. */
function httpAnswers(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port: 8080, path: '/', timeout: 200, agent: false }, (res) => {
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
  // A loaded dev server has been seen to answer "Namespace not found" for a moment: a few tries.
  for (let attempt = 1; ; attempt++) {
    try {
      await client.workflow.start('hostWatcher', {
        workflowId: hostWatcherWorkflowId(target.taskQueue, 'local'),
        taskQueue: target.taskQueue,
        args: [{ hostId: 'local', runForMs: 600_000 }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      return () => client.connection.close();
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(1_000);
    }
  }
}

interface Heal {
  /** Kill → the first HTTP answer at the container's address. */
  servedMs: number;
  /** Kill → the engine's new `StartedAt` (the restart decision's share). */
  restartedMs: number;
}

/** Kills `id` and times it back (bounded: TIMEOUT_MS), the same way for either tool. */
async function killAndTime(tool: string, id: string, network: string): Promise<Heal> {
  const container = docker.getContainer(id);
  const { StartedAt: before, Pid: pid } = (await container.inspect()).State;
  const t0 = performance.now();
  const killedAt = Date.now();
  // A crash, not `docker kill`: the engine counts that as a manual stop, and its restart manager
  // then leaves even a `restart: always` container down (seen on dockerd 20.10).
  process.kill(pid, 'SIGKILL');
  let state: Docker.ContainerInspectInfo | undefined;
  while (performance.now() - t0 < TIMEOUT_MS) {
    state = await container.inspect();
    if (state.State.Running && state.State.StartedAt !== before) break;
    await sleep(5);
  }
  const ip = state?.NetworkSettings.Networks[network]?.IPAddress;
  if (!state?.State.Running || !ip)
    throw new Error(`${tool}: ${id.slice(0, 12)} was not restarted within ${TIMEOUT_MS} ms`);
  while (performance.now() - t0 < TIMEOUT_MS) {
    if (await httpAnswers(ip)) {
      return {
        servedMs: performance.now() - t0,
        restartedMs: new Date(state.State.StartedAt).getTime() - killedAt,
      };
    }
    await sleep(10);
  }
  throw new Error(`${tool}: ${ip}:8080 did not answer within ${TIMEOUT_MS} ms of the kill`);
}

async function containersOf(...labels: string[]): Promise<string[]> {
  const list = await docker.listContainers({ filters: { label: labels, status: ['running'] } });
  return list.sort((a, b) => a.Names[0].localeCompare(b.Names[0])).map((c) => c.Id);
}

async function startPeers(): Promise<string[]> {
  await docker.createNetwork({ Name: PEER_NETWORK, Labels: { 'berth.bench': 'heal' } });
  for (let i = 0; i < INSTANCES; i++) {
    const c = await docker.createContainer({
      name: `benchheal-docker-${String(i).padStart(2, '0')}`,
      Image: 'berth/busybox:1',
      Cmd: ['httpd', '-f', '-p', '8080', '-h', '/www'],
      Labels: { 'berth.bench': 'heal' },
      HostConfig: { RestartPolicy: { Name: 'always' }, NetworkMode: PEER_NETWORK },
    });
    await c.start();
  }
  return containersOf(PEER_LABEL);
}

async function removePeers(): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [PEER_LABEL] } }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  await docker
    .getNetwork(PEER_NETWORK)
    .remove()
    .catch(() => undefined);
}

const summary = (heals: Heal[]) => ({
  medianMs: Math.round(median(heals.map((h) => h.servedMs))),
  spreadMs: spread(heals.map((h) => h.servedMs)),
  restartedMedianMs: Math.round(median(heals.map((h) => h.restartedMs))),
  samplesMs: heals.map((h) => Math.round(h.servedMs)),
});

async function main(): Promise<void> {
  const file = path.join(home, 'heal.yaml');
  const httpd = '    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n';
  fs.writeFileSync(
    file,
    `id: ${APP}
services:
  - id: web
${httpd}    replicas: ${INSTANCES}
    policies:
      - type: restarter
  - id: tuned
${httpd}    policies:
      - type: restarter
        failOnRecurringFailuresInThisDuration: 1ms
`,
  );
  await removePeers();
  const server = startServer(env);
  cleanupOnInterrupt(async () => {
    await removePeers();
    await stopServer(server, env, home, APP);
  });
  const berthHeals: Heal[] = [];
  const dockerHeals: Heal[] = [];
  const tunedHeals: Heal[] = [];
  let closeClient: (() => Promise<void>) | undefined;
  try {
    await waitForServer(home, TEMPORAL_PORT);
    berth(['deploy', file, '--json']);
    closeClient = await ensureWatcher();
    const peers = await startPeers();
    const berthIds = await containersOf(`berth.app=${APP}`, 'berth.service=web');
    if (berthIds.length !== INSTANCES || peers.length !== INSTANCES)
      throw new Error(`${berthIds.length} Berth and ${peers.length} Docker instances run, not ${INSTANCES}`);
    // Let the watcher follow the engine's events, and every container run a while, before the kills.
    await sleep(3_000);
    for (let i = 0; i < INSTANCES; i++) {
      const pair: [() => Promise<void>, () => Promise<void>] = [
        async () => void berthHeals.push(await killAndTime('Berth', berthIds[i], `berth-${APP}`)),
        async () => void dockerHeals.push(await killAndTime('Docker', peers[i], PEER_NETWORK)),
      ];
      for (const step of i % 2 === 0 ? pair : pair.reverse()) {
        await step();
        await sleep(300);
      }
    }
    const [tuned] = (await containersOf(`berth.app=${APP}`, 'berth.service=tuned')).slice(0, 1);
    if (!tuned) throw new Error('the tuned instance is not running');
    for (let i = 0; i < TUNED_KILLS; i++) {
      tunedHeals.push(await killAndTime('Berth, tuned', tuned, `berth-${APP}`));
      await sleep(300);
    }
  } finally {
    await closeClient?.().catch(() => undefined);
    await removePeers();
    await stopServer(server, env, home, APP);
  }
  const b = summary(berthHeals);
  const d = summary(dockerHeals);
  console.log(
    JSON.stringify({
      benchmark: 'heal',
      instances: INSTANCES,
      berthDefaults: b,
      dockerRestartAlways: d,
      ratioBerthToDocker: +(b.medianMs / d.medianMs).toFixed(2),
      tunedNoBackoffNoGiveUp: { kills: tunedHeals.length, ...summary(tunedHeals) },
    }),
  );
}

main().catch((err) => {
  console.error(`bench:heal: ${(err as Error).message}`);
  process.exit(1);
});
