/**
 * `npm run bench:update`: a 10-replica service changed while a client in the app's network asks for
 * it by name every 50 ms — an update v1 → v2, a rollback, and a broken v3 rolled back by itself —
 * with Berth (its embedded server, the local engine) and with Docker Swarm (`docker service update`,
 * a single-node swarm in a netns host: the same parallelism and order, the same readiness as its
 * health check, `--endpoint-mode dnsrr`). Prints JSON: wall times, requests and failed requests, and
 * Berth's time over Swarm's for each scenario. Cleans up everything it made.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  createNetnsHost,
  destroyAllNetnsHosts,
  ensureBerthSshKey,
  netnsHostSocket,
} from '../src/adapters/netns';
import { BERTH, benchHome, cleanupOnInterrupt, startServer, stopServer, waitForServer } from './support';

const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 10);
const PARALLELISM = 2;
const APP = 'benchupd';
const TEMPORAL_PORT = 17533;
const NETNS = { prefix: 'bupd', index: 1, lan: '10.213.231' };
const READY_TIMEOUT_S = 8;

const { home, env } = benchHome(
  'berth-bench-update',
  { temporal: TEMPORAL_PORT, ui: 18533, codec: 18534, sensor: 18535 },
  { network: 'berth-dns-benchupd', subnet: '10.207.3.0/24' },
);

interface Scenario {
  seconds: number;
  requests: number;
  failed: number;
  /** The command's own verdict: success for an update or rollback, failure for the broken update. */
  exitedOk: boolean;
}

const PROBE = [
  'ok=0; fail=0; n=0',
  'while [ ! -f /tmp/stop ] && [ $n -lt 100000 ]; do',
  '  n=$((n+1))',
  '  out=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$0" 8080 2>&1)',
  '  case "$out" in *"200 OK"*) ok=$((ok+1));; *) fail=$((fail+1));; esac',
  '  sleep 0.05',
  'done',
  'echo "ok=$ok fail=$fail"',
].join('\n');

const serve = (version: string, port = 8080) =>
  `mkdir -p /www && echo ${version} > /www/index.html && exec httpd -f -p ${port} -h /www`;

function docker(args: string[], dockerHost?: string, timeoutMs = 600_000): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}) },
  });
}

/** A prober container: starts now; `stop` ends it and returns what it counted. */
/**
 * A fixed address near the top of a /24 app network for the prober: left to Docker, it takes the
 * lowest free address, the one Berth hands the next instance, and a start-first replacement finds
 * its address held (Berth tries one other address, then fails the rollout).
 */
function proberAddress(network: string): string[] {
  const subnet = docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', network]).trim();
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  return m ? ['--ip', `${m[1]}.250`] : [];
}

function prober(name: string, network: string, target: string, dockerHost?: string, dns?: string) {
  docker(
    [
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      ...(dockerHost ? [] : proberAddress(network)),
      ...(dns ? ['--dns', dns] : []),
      '--label',
      `berth.app=${APP}`,
      'berth/busybox:1',
      'sh',
      '-c',
      PROBE,
      target,
    ],
    dockerHost,
  );
  return {
    stop(): { requests: number; failed: number } {
      docker(['exec', name, 'touch', '/tmp/stop'], dockerHost);
      docker(['wait', name], dockerHost);
      const m = /ok=(\d+) fail=(\d+)/.exec(docker(['logs', name], dockerHost));
      docker(['rm', '-f', name], dockerHost);
      const ok = Number(m?.[1] ?? 0);
      const failed = Number(m?.[2] ?? 0);
      return { requests: ok + failed, failed };
    },
  };
}

function timed(fn: () => boolean): { seconds: number; ok: boolean } {
  const t0 = performance.now();
  const ok = fn();
  return { seconds: +((performance.now() - t0) / 1000).toFixed(2), ok };
}

function berth(args: string[]): boolean {
  const r = spawnSync(process.execPath, [BERTH, ...args], {
    env,
    encoding: 'utf8',
    cwd: home,
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  // The verdict is part of the result; why a command failed is worth seeing beside it.
  if (r.status !== 0)
    process.stderr.write(
      `berth ${args[0]} exited ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}\n`,
    );
  return r.status === 0;
}

function blueprint(version: string, broken = false): string {
  const file = path.join(home, `${version}.yaml`);
  fs.writeFileSync(
    file,
    [
      `id: ${APP}`,
      'services:',
      '  - id: web',
      '    image: berth/busybox:1',
      `    replicas: ${REPLICAS}`,
      `    command: [sh, -c, ${JSON.stringify(serve(version, broken ? 9999 : 8080))}]`,
      `    env: {VERSION: ${version}}`,
      "    ports: ['8080']",
      `    update: {parallelism: ${PARALLELISM}, order: start-first, minReady: 1s}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function berthRuns(): Promise<Record<string, Scenario>> {
  const server = startServer(env);
  const forget = cleanupOnInterrupt(() => stopServer(server, env, home, APP));
  try {
    await waitForServer(home, TEMPORAL_PORT);
    if (!berth(['deploy', blueprint('v1')])) throw new Error('berth: deploying v1 failed');
    const dns = JSON.parse(fs.readFileSync(path.join(home, 'dns', 'server.json'), 'utf8')).address as string;
    const scenario = (name: string, run: () => boolean): Scenario => {
      const p = prober(`benchupd-probe-${name}`, `berth-${APP}`, `web.${APP}.berth`, undefined, dns);
      const { seconds, ok } = timed(run);
      return { seconds, ...p.stop(), exitedOk: ok };
    };
    return {
      update: scenario('update', () => berth(['deploy', blueprint('v2')])),
      rollback: scenario('rollback', () => berth(['rollback', APP])),
      failedUpdate: scenario('failed', () =>
        berth(['deploy', blueprint('v3', true), '--ready-timeout', `${READY_TIMEOUT_S}s`]),
      ),
    };
  } finally {
    forget();
    await stopServer(server, env, home, APP);
  }
}

async function swarmRuns(): Promise<Record<string, Scenario>> {
  const key = await ensureBerthSshKey(home);
  await destroyAllNetnsHosts(NETNS.prefix).catch(() => undefined);
  await createNetnsHost({ ...NETNS, publicKeyFile: key.publicKeyFile });
  const host = `unix://${netnsHostSocket(NETNS.prefix, NETNS.index)}`;
  cleanupOnInterrupt(() => destroyAllNetnsHosts(NETNS.prefix));
  try {
    execFileSync('sh', ['-c', `docker save berth/busybox:1 | DOCKER_HOST=${host} docker load`], {
      timeout: 120_000,
    });
    docker(['swarm', 'init', '--advertise-addr', `${NETNS.lan}.${10 + NETNS.index}`], host);
    docker(['network', 'create', '-d', 'overlay', '--attachable', 'benchnet'], host);
    const common = [
      '--update-parallelism',
      String(PARALLELISM),
      '--update-order',
      'start-first',
      '--update-monitor',
      '1s',
      '--rollback-parallelism',
      String(PARALLELISM),
      '--rollback-order',
      'start-first',
      '--rollback-monitor',
      '1s',
      '--update-failure-action',
      'rollback',
    ];
    docker(
      [
        'service',
        'create',
        '--name',
        'web',
        '--network',
        'benchnet',
        '--endpoint-mode',
        'dnsrr',
        '--replicas',
        String(REPLICAS),
        '--health-cmd',
        'echo | nc 127.0.0.1 8080',
        '--health-interval',
        '1s',
        '--health-retries',
        '3',
        '--health-start-period',
        `${READY_TIMEOUT_S}s`,
        '--health-timeout',
        '1s',
        '--env',
        'VERSION=v1',
        ...common,
        'berth/busybox:1',
        'sh',
        '-c',
        serve('v1'),
      ],
      host,
    );
    const scenario = (name: string, args: string[]): Scenario => {
      const p = prober(`benchupd-probe-${name}`, 'benchnet', 'web', host);
      const { seconds, ok } = timed(() => {
        try {
          docker(args, host);
          return true;
        } catch {
          return false;
        }
      });
      return { seconds, ...p.stop(), exitedOk: ok };
    };
    const update = (version: string, port?: number) => [
      'service',
      'update',
      '--env-add',
      `VERSION=${version}`,
      '--args',
      `sh -c "${serve(version, port)}"`,
      'web',
    ];
    return {
      update: scenario('update', update('v2')),
      rollback: scenario('rollback', ['service', 'rollback', 'web']),
      failedUpdate: scenario('failed', update('v3', 9999)),
    };
  } finally {
    await destroyAllNetnsHosts(NETNS.prefix).catch(() => undefined);
    // Berth's half removed the home already; the netns hosts' SSH key made it again.
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const berthResult = await berthRuns();
  const swarm = await swarmRuns();
  const ratio = (k: keyof typeof berthResult) => +(berthResult[k].seconds / swarm[k].seconds).toFixed(2);
  console.log(
    JSON.stringify(
      {
        benchmark: 'update',
        replicas: REPLICAS,
        parallelism: PARALLELISM,
        order: 'start-first',
        probeEveryMs: 50,
        berth: berthResult,
        swarm,
        berthOverSwarm: {
          update: ratio('update'),
          rollback: ratio('rollback'),
          failedUpdate: ratio('failedUpdate'),
        },
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(`bench:update: ${(err as Error).message}`);
  process.exit(1);
});
