/**
 * `npm run bench:swarm`: Berth against Docker Swarm on the same kind of hosts — three netns Docker
 * hosts (`scripts/netns-host.sh`), all managers of one swarm — in the same run, one after the other
 * on fresh hosts (Swarm first, then Berth: `berth hosts add netns --count 3` forms its own swarm).
 *
 * Scenarios, each timed from the command to the bench's own check:
 * - deploy: 60 busybox httpd replicas, spread over the hosts (Berth: `placement: [breadthFirst]`;
 *   Swarm spreads by default), until 60 run and are ready. Both use the same check of port 8080
 *   every READY_INTERVAL: Berth's `healthCheck` readiness probe, Swarm's `--health-cmd` (a task
 *   counts once it is healthy). Swarm: `service create --endpoint-mode dnsrr` (no IPVS here).
 * - scale 60 → 90, then 90 → 30: until exactly that many run (and are ready).
 * - host down: the Docker engine of a host that is neither the swarm's leader nor (for Berth) the
 *   pool registry's is killed (`netns-host.sh stop-docker`: kill -9 of dockerd, containerd, shims
 *   and containers); until all 30 replicas run again on the two others. Both detect the failure
 *   with their defaults (Berth: a reading every 5 s, failed after 3 missed; Swarm: node heartbeat
 *   5 s); Berth's time also waits for its heal operation to complete (its readiness probe passed).
 *
 * Prints JSON: the seconds of each scenario for both and Berth's time over Swarm's (null, with
 * `swarmNotDone` saying what it last saw, where Swarm did not finish within the bound). Everything runs
 * in a temporary BERTH_HOME with ports of its own; the hosts (prefix NETNS_PREFIX) are removed.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Docker from 'dockerode';
import {
  createNetnsHost,
  destroyAllNetnsHosts,
  ensureBerthSshKey,
  netnsAddress,
  netnsHostSocket,
  stopNetnsDocker,
} from '../src/adapters/netns';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import { AppClient } from '../src/clients/app';
import {
  BERTH,
  benchHome,
  cleanupOnInterrupt,
  startServer,
  stopServer,
  targetBenchServer,
  waitForServer,
} from './support';

const DEPLOY = 60;
const SCALE_UP = 90;
const SCALE_DOWN = 30;
const HOSTS = [1, 2, 3];
const APP = 'benchswarm';
const SERVICE = 'web';
const NETNS_PREFIX = 'bsw';
/** A /24 that no test or other bench uses (tests: 10.213.0–219; bench:update .231; chaos .250). */
const LAN = '10.213.241';
const TEMPORAL_PORT = 17543;
/**
 * How often both check port 8080 (Berth's readiness probe, Swarm's health check, an exec each). With
 * 1 s (and a 1 s check timeout) on the loaded 2-core machine Swarm did not get 60 tasks healthy
 * within 10 minutes; a check may take 10 s, and failures in the first minute do not count.
 */
const READY_INTERVAL = '2s';
/** Every wait of a scenario is bounded by this. */
const SCENARIO_TIMEOUT_MS = 600_000;

const { home, env } = benchHome(
  'berth-bench-swarm',
  { temporal: TEMPORAL_PORT, ui: 18543, codec: 18544, sensor: 18545 },
  { network: 'berth-dns-benchsw', subnet: '10.207.4.0/24' },
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const engines = new Map(HOSTS.map((i) => [i, new Docker({ socketPath: netnsHostSocket(NETNS_PREFIX, i) })]));
const engine = (i: number) => engines.get(i)!;

/** Polls `done` every 250 ms until it holds (bounded: SCENARIO_TIMEOUT_MS); the seconds since `t0`. */
async function until(what: string, t0: number, done: () => Promise<boolean>): Promise<number> {
  while (performance.now() - t0 < SCENARIO_TIMEOUT_MS) {
    if (await done().catch(() => false)) return +((performance.now() - t0) / 1000).toFixed(2);
    await sleep(250);
  }
  throw new Error(`${what}: not done within ${SCENARIO_TIMEOUT_MS / 1000} s (last seen: ${lastSeen})`);
}

/** What the last check saw, for the error when a scenario runs out of time. */
let lastSeen = '';

function docker(args: string[], host: number, timeoutMs = 300_000): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, DOCKER_HOST: `unix://${netnsHostSocket(NETNS_PREFIX, host)}` },
  });
}

/** The index of the host whose manager leads the swarm, asked through host `via`. */
async function leaderIndex(via: number): Promise<number> {
  const nodes = (await engine(via).listNodes()) as { ManagerStatus?: { Leader?: boolean; Addr?: string } }[];
  const addr = nodes.find((n) => n.ManagerStatus?.Leader)?.ManagerStatus?.Addr ?? '';
  const index = HOSTS.find((i) => addr.startsWith(`${netnsAddress(LAN, i)}:`));
  if (!index) throw new Error(`no leader among the swarm's managers (${addr || 'none'})`);
  return index;
}

async function freshHosts(): Promise<void> {
  await destroyAllNetnsHosts(NETNS_PREFIX);
  const key = await ensureBerthSshKey(home);
  for (const index of HOSTS)
    await createNetnsHost({ prefix: NETNS_PREFIX, index, lan: LAN, publicKeyFile: key.publicKeyFile });
}

type Scenarios = { deploy: number; scaleUp: number; scaleDown: number; hostDown: number };
/** Swarm's side: null where it did not get there within SCENARIO_TIMEOUT_MS (the next scenario still runs). */
type SwarmScenarios = { [K in keyof Scenarios]: number | null };

/** `until`, but a scenario Swarm does not finish is recorded as null with what was last seen. */
async function swarmUntil(
  scenario: keyof Scenarios,
  what: string,
  t0: number,
  done: () => Promise<boolean>,
): Promise<number | null> {
  try {
    return await until(what, t0, done);
  } catch (err) {
    swarmStuck[scenario] = (err as Error).message;
    return null;
  }
}
const swarmStuck: Partial<Record<keyof Scenarios, string>> = {};

async function swarmRuns(): Promise<SwarmScenarios> {
  await freshHosts();
  for (const i of HOSTS)
    execFileSync(
      'sh',
      [
        '-c',
        `docker save berth/busybox:1 | DOCKER_HOST=unix://${netnsHostSocket(NETNS_PREFIX, i)} docker load`,
      ],
      { timeout: 120_000, stdio: 'ignore' },
    );
  docker(['swarm', 'init', '--advertise-addr', netnsAddress(LAN, 1)], 1);
  const token = docker(['swarm', 'join-token', '-q', 'manager'], 1).trim();
  for (const i of HOSTS.slice(1))
    docker(
      [
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        netnsAddress(LAN, i),
        `${netnsAddress(LAN, 1)}:2377`,
      ],
      i,
    );
  docker(['network', 'create', '-d', 'overlay', '--attachable', 'benchsw'], 1);
  /** Tasks running (healthy: a task with a health check runs only once it is) per host. */
  const running = async (via: number, exclude?: string): Promise<number> => {
    const tasks = (await engine(via).listTasks({ filters: { service: [SERVICE] } })) as {
      NodeID: string;
      Status: { State: string };
    }[];
    const states = new Map<string, number>();
    for (const t of tasks) states.set(t.Status.State, (states.get(t.Status.State) ?? 0) + 1);
    lastSeen = JSON.stringify(Object.fromEntries(states));
    return tasks.filter((t) => t.Status.State === 'running' && t.NodeID !== exclude).length;
  };
  let t0 = performance.now();
  docker(
    [
      'service',
      'create',
      '--detach',
      '--name',
      SERVICE,
      '--network',
      'benchsw',
      '--endpoint-mode',
      'dnsrr',
      '--replicas',
      String(DEPLOY),
      '--health-cmd',
      'echo | nc 127.0.0.1 8080',
      '--health-interval',
      READY_INTERVAL,
      '--health-timeout',
      '10s',
      '--health-retries',
      '3',
      '--health-start-period',
      '60s',
      'berth/busybox:1',
      'httpd',
      '-f',
      '-p',
      '8080',
      '-h',
      '/www',
    ],
    1,
  );
  const deploy = await swarmUntil('deploy', 'swarm deploy', t0, async () => (await running(1)) === DEPLOY);
  const scaleTo = async (scenario: 'scaleUp' | 'scaleDown', n: number) => {
    t0 = performance.now();
    docker(['service', 'scale', '--detach', `${SERVICE}=${n}`], 1);
    return swarmUntil(scenario, `swarm scale to ${n}`, t0, async () => (await running(1)) === n);
  };
  const scaleUp = await scaleTo('scaleUp', SCALE_UP);
  const scaleDown = await scaleTo('scaleDown', SCALE_DOWN);
  const leader = await leaderIndex(1);
  const victim = HOSTS.find((i) => i !== leader)!;
  const survivor = HOSTS.find((i) => i !== leader && i !== victim)!;
  const victimNode = ((await engine(victim).info()) as { Swarm: { NodeID: string } }).Swarm.NodeID;
  t0 = performance.now();
  await stopNetnsDocker(NETNS_PREFIX, victim);
  const hostDown = await swarmUntil(
    'hostDown',
    'swarm host down',
    t0,
    async () => (await running(survivor, victimNode)) === SCALE_DOWN,
  );
  return { deploy, scaleUp, scaleDown, hostDown };
}

function berth(args: string[]): void {
  const r = spawnSync(process.execPath, [BERTH, ...args], {
    env,
    encoding: 'utf8',
    cwd: home,
    timeout: 900_000,
  });
  if (r.status !== 0)
    throw new Error(`berth ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

async function berthRuns(): Promise<Scenarios> {
  await destroyAllNetnsHosts(NETNS_PREFIX);
  const server = startServer(env);
  const forget = cleanupOnInterrupt(async () => {
    await stopServer(server, env, home, APP);
    await destroyAllNetnsHosts(NETNS_PREFIX);
  });
  try {
    await waitForServer(home, TEMPORAL_PORT);
    berth([
      'hosts',
      'add',
      'netns',
      '--count',
      '3',
      '--prefix',
      NETNS_PREFIX,
      '--lan',
      LAN,
      '--max-hosts',
      '3',
    ]);
    targetBenchServer(env);
    const target = temporalTarget();
    const client = await connectClient(target);
    const apps = new AppClient(client, target.taskQueue);
    try {
      const running = async (hosts: number[]): Promise<number> => {
        const counts = await Promise.all(
          hosts.map((i) =>
            engine(i)
              .listContainers({ filters: { label: [`berth.app=${APP}`], status: ['running'] } })
              .then((l) => l.length),
          ),
        );
        lastSeen = `${JSON.stringify(counts)} running per host`;
        return counts.reduce((a, b) => a + b, 0);
      };
      const file = path.join(home, 'app.yaml');
      fs.writeFileSync(
        file,
        [
          `id: ${APP}`,
          'services:',
          `  - id: ${SERVICE}`,
          '    image: berth/busybox:1',
          `    replicas: ${DEPLOY}`,
          '    command: [httpd, -f, -p, "8080", -h, /www]',
          "    ports: ['8080']",
          `    healthCheck: {port: 8080, interval: ${READY_INTERVAL}}`,
          '    placement: [breadthFirst]',
          '',
        ].join('\n'),
      );
      const timed = async (what: string, args: string[], n: number, hosts = HOSTS) => {
        const t0 = performance.now();
        berth(args);
        return until(what, t0, async () => (await running(hosts)) === n);
      };
      const deploy = await timed('berth deploy', ['deploy', file], DEPLOY);
      const scaleUp = await timed('berth scale up', ['scale', APP, SERVICE, String(SCALE_UP)], SCALE_UP);
      const scaleDown = await timed(
        'berth scale down',
        ['scale', APP, SERVICE, String(SCALE_DOWN)],
        SCALE_DOWN,
      );
      const pool = JSON.parse(
        spawnSync(process.execPath, [BERTH, 'hosts', 'list', '--json'], { env, encoding: 'utf8' }).stdout,
      ) as { id: string; registry?: string }[];
      const registryHost = pool.find((h) => h.registry)?.id;
      const leader = await leaderIndex(1);
      const victim = HOSTS.find((i) => i !== leader && netnsAddress(LAN, i) !== registryHost)!;
      const survivors = HOSTS.filter((i) => i !== victim);
      const opsBefore = (await apps.state(APP))?.operations.length ?? 0;
      const t0 = performance.now();
      await stopNetnsDocker(NETNS_PREFIX, victim);
      const hostDown = await until('berth host down', t0, async () => {
        const ops = (await apps.state(APP))?.operations ?? [];
        const healed = ops.length > opsBefore && ops.at(-1)?.status === 'completed';
        return healed && (await running(survivors)) === SCALE_DOWN;
      });
      return { deploy, scaleUp, scaleDown, hostDown };
    } finally {
      await client.connection.close();
    }
  } finally {
    forget();
    await stopServer(server, env, home, APP);
  }
}

async function main(): Promise<void> {
  cleanupOnInterrupt(() => destroyAllNetnsHosts(NETNS_PREFIX));
  let swarm: SwarmScenarios;
  let ours: Scenarios;
  try {
    swarm = await swarmRuns();
    ours = await berthRuns();
  } finally {
    await destroyAllNetnsHosts(NETNS_PREFIX).catch(() => undefined);
  }
  const ratio = (k: keyof Scenarios) => {
    const theirs = swarm[k];
    return theirs === null ? null : +(ours[k] / theirs).toFixed(2);
  };
  console.log(
    JSON.stringify({
      benchmark: 'swarm',
      hosts: HOSTS.length,
      replicas: { deploy: DEPLOY, scaleUp: SCALE_UP, scaleDown: SCALE_DOWN },
      readyInterval: READY_INTERVAL,
      berthSeconds: ours,
      swarmSeconds: swarm,
      ...(Object.keys(swarmStuck).length ? { swarmNotDone: swarmStuck } : {}),
      berthOverSwarm: {
        deploy: ratio('deploy'),
        scaleUp: ratio('scaleUp'),
        scaleDown: ratio('scaleDown'),
        hostDown: ratio('hostDown'),
      },
    }),
  );
}

main().catch((err) => {
  console.error(`bench:swarm: ${(err as Error).message}`);
  process.exit(1);
});
