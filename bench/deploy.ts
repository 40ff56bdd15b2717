/**
 * `npm run bench:deploy`: the same 50-container app (busybox httpd, one forwarded port each, one
 * bridge network) deployed with Berth and with Debian's docker-compose, and, as the engine's floor,
 * by the bench itself: 50 bare create + start calls through dockerode, OPERATION_DEFAULTS.parallelism
 * at a time, no orchestration at all. All three do the same work: one warm-up deploy and tear-down
 * each, then BENCH_ROUNDS (5) rounds, the order rotating each round. A tool's time runs from its command (`berth deploy`,
 * `docker-compose up -d`) until the bench itself has seen every one of its containers running
 * (exactly INSTANCES) and accepting a TCP connection on its own address:port (the container's
 * address on its network, not docker-proxy, which accepts while the container is not listening).
 * Prints the median and the spread of each, Berth's median over compose's, and both over the floor. Runs its own
 * embedded server (temporary BERTH_HOME and ports) and removes everything it made.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { removeLabelledContainers } from '../activities/common';
import { createDockerClient } from '../src/adapters/docker';
import { mapLimit } from '../src/core/concurrency';
import { OPERATION_DEFAULTS } from '../workflows/api/operations';
import {
  BERTH,
  benchHome,
  cleanupOnInterrupt,
  median,
  spread,
  startServer,
  stopServer,
  tcpAnswers,
  waitForServer,
} from './support';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 50);
const ROUNDS = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 5));
const APP = 'benchberth';
const PROJECT = 'benchcompose';
const ENGINE_LABEL = 'berth.bench=deploy-engine';
const ENGINE_NETWORK = 'berth-bench-engine';
const TEMPORAL_PORT = 17433;
const READY_TIMEOUT_MS = 120_000;

// Its own DNS network and subnet, so it never meets a user's Berth.
const { home, env } = benchHome(
  'berth-bench',
  { temporal: TEMPORAL_PORT, ui: 18433, codec: 18434 },
  { network: 'berth-dns-bench', subnet: '10.207.0.0/24' },
);
const docker = createDockerClient();

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', cwd: home, timeout: 600_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/**
 * Waits (bounded: READY_TIMEOUT_MS) until exactly INSTANCES running containers carry `label` and
 * each accepts a TCP connection on its own network address, port 8080. One list call per pass.
 */
async function ready(label: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const answered = new Set<string>();
  let seen = 0;
  while (Date.now() < deadline) {
    const running = await docker.listContainers({ filters: { label: [label], status: ['running'] } });
    seen = running.length;
    const pending = running
      .filter((c) => !answered.has(c.Id))
      .map((c) => ({ id: c.Id, ip: Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAddress }))
      .filter((c): c is { id: string; ip: string } => !!c.ip);
    const ok = await Promise.all(pending.map((c) => tcpAnswers(8080, c.ip, 200)));
    pending.forEach((c, i) => ok[i] && answered.add(c.id));
    if (seen === INSTANCES && running.every((c) => answered.has(c.Id))) return;
    if (seen > INSTANCES) throw new Error(`${seen} containers run for ${label}, not ${INSTANCES}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `${label}: ${seen} running and ${answered.size} answering of ${INSTANCES} after the timeout`,
  );
}

/**
 * The engine's floor: what the same 50 containers cost Docker itself, with nothing in between (no
 * CLI, no workflow, no readiness of its own: the bench's readiness check, as for the others).
 */
async function engineUp(): Promise<void> {
  const [name, value] = ENGINE_LABEL.split('=');
  await docker.createNetwork({ Name: ENGINE_NETWORK, Labels: { [name]: value } });
  await mapLimit([...Array(INSTANCES).keys()], OPERATION_DEFAULTS.parallelism, async () => {
    const container = await docker.createContainer({
      Image: 'berth/busybox:1',
      Cmd: ['httpd', '-f', '-p', '8080', '-h', '/www'],
      Labels: { [name]: value },
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: {
        NetworkMode: ENGINE_NETWORK,
        PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      },
    });
    await container.start();
  });
}

async function engineDown(): Promise<void> {
  await removeLabelledContainers(docker, [ENGINE_LABEL]);
  const networks = await docker.listNetworks({ filters: { label: [ENGINE_LABEL] } });
  for (const n of networks) await docker.getNetwork(n.Id).remove();
}

async function main(): Promise<void> {
  const composeBin = ['/usr/bin/docker-compose'].find(fs.existsSync);
  if (!composeBin) throw new Error('docker-compose is missing: apt-get install docker-compose');
  const blueprint = path.join(home, 'app.yaml');
  fs.writeFileSync(
    blueprint,
    `id: ${APP}\nservices:\n  - id: web\n    type: cluster\n    initialSize: ${INSTANCES}\n    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n    ports: ["0:8080"]\n`,
  );
  fs.writeFileSync(
    path.join(home, 'docker-compose.yml'),
    `version: "2.4"\nservices:\n  web:\n    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n    ports: ["127.0.0.1::8080"]\n`,
  );
  const tools = {
    berth: {
      up: () => run(process.execPath, [BERTH, 'deploy', blueprint, '--json']),
      label: `berth.app=${APP}`,
      down: () => run(process.execPath, [BERTH, 'destroy', APP]),
    },
    compose: {
      up: () => run(composeBin, ['-p', PROJECT, 'up', '-d', '--scale', `web=${INSTANCES}`]),
      label: `com.docker.compose.project=${PROJECT}`,
      down: () => run(composeBin, ['-p', PROJECT, 'down', '-v']),
    },
    engine: { up: engineUp, label: ENGINE_LABEL, down: engineDown },
  };
  type Tool = keyof typeof tools;
  const timeOne = async (tool: Tool): Promise<number> => {
    const t0 = performance.now();
    await tools[tool].up();
    await ready(tools[tool].label);
    const ms = performance.now() - t0;
    await tools[tool].down();
    return ms;
  };
  const server = startServer(env);
  cleanupOnInterrupt(async () => {
    spawnSync(composeBin, ['-p', PROJECT, 'down', '-v'], { cwd: home, env });
    await engineDown();
    await stopServer(server, env, home, APP);
  });
  const runs: Record<Tool, number[]> = { berth: [], compose: [], engine: [] };
  const order: Tool[] = ['berth', 'compose', 'engine'];
  try {
    await waitForServer(home, TEMPORAL_PORT);
    // The same warm-up for both: the first measured round pays for no worker, network or image set-up.
    for (const tool of order) await timeOne(tool);
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < order.length; k++) {
        const tool = order[(round + k) % order.length];
        runs[tool].push(await timeOne(tool));
      }
  } finally {
    spawnSync(composeBin, ['-p', PROJECT, 'down', '-v'], { cwd: home, env });
    await engineDown().catch(() => undefined);
    await stopServer(server, env, home, APP);
  }
  const berth = median(runs.berth);
  const compose = median(runs.compose);
  const engine = median(runs.engine);
  console.log(
    JSON.stringify({
      benchmark: 'deploy',
      instances: INSTANCES,
      rounds: ROUNDS,
      readiness: 'bench connects to every container address:8080; exactly INSTANCES running',
      berthMs: Math.round(berth),
      composeUpAndReadyMs: Math.round(compose),
      berthSpreadMs: spread(runs.berth),
      composeSpreadMs: spread(runs.compose),
      engineFloorMs: Math.round(engine),
      engineSpreadMs: spread(runs.engine),
      ratioBerthToCompose: +(berth / compose).toFixed(2),
      ratioBerthToEngine: +(berth / engine).toFixed(2),
      ratioComposeToEngine: +(compose / engine).toFixed(2),
      runs: {
        berth: runs.berth.map(Math.round),
        compose: runs.compose.map(Math.round),
        engine: runs.engine.map(Math.round),
      },
    }),
  );
}

main().catch((err) => {
  console.error(`bench:deploy: ${(err as Error).message}`);
  process.exit(1);
});
