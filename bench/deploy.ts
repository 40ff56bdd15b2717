/**
 * `npm run bench:deploy`: the same 50-container app (busybox httpd, one forwarded port each, one
 * bridge network) deployed with Berth and with Debian's docker-compose, alternating, several rounds.
 * Berth's time is `berth deploy` end to end (it returns when every instance answers on its port);
 * for compose we report `up -d` alone and `up -d` plus the wait until every port answers.
 * Runs its own embedded server (temporary BERTH_HOME and ports) and removes everything it made.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BERTH, benchHome, median, startServer, stopServer, tcpAnswers, waitForServer } from './support';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const APP = 'benchberth';
const PROJECT = 'benchcompose';
const TEMPORAL_PORT = 17433;

// Its own DNS network and subnet, so it never meets a user's Berth.
const { home, env } = benchHome(
  'berth-bench',
  { temporal: TEMPORAL_PORT, ui: 18433, codec: 18434 },
  { network: 'berth-dns-bench', subnet: '10.207.0.0/24' },
);

function run(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env: extraEnv, encoding: 'utf8', cwd: home, timeout: 600_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return performance.now() - t0;
}

/** Waits (bounded: 60 s) until every published port of the compose project answers over loopback. */
async function composeReady(): Promise<void> {
  const ids = execFileSync(
    'docker',
    ['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
  const ports = ids.map((id) =>
    Number(execFileSync('docker', ['port', id, '8080/tcp'], { encoding: 'utf8' }).trim().split(':').pop()),
  );
  const deadline = Date.now() + 60_000;
  let pending = ports;
  while (pending.length && Date.now() < deadline) {
    const ok = await Promise.all(pending.map((port) => tcpAnswers(port)));
    pending = pending.filter((_, i) => !ok[i]);
  }
  if (pending.length) throw new Error(`${pending.length} compose containers never answered`);
}

async function main(): Promise<void> {
  const composeBin = ['/usr/bin/docker-compose'].find(fs.existsSync);
  if (!composeBin) throw new Error('docker-compose is missing: apt-get install docker-compose');
  fs.writeFileSync(
    path.join(home, 'app.yaml'),
    `id: ${APP}\nservices:\n  - id: web\n    type: cluster\n    initialSize: ${INSTANCES}\n    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n    ports: ["0:8080"]\n`,
  );
  fs.writeFileSync(
    path.join(home, 'docker-compose.yml'),
    `version: "2.4"\nservices:\n  web:\n    image: berth/busybox:1\n    command: [httpd, -f, -p, "8080", -h, /www]\n    ports: ["127.0.0.1::8080"]\n`,
  );
  const server = startServer(env);
  const results = { berth: [] as number[], composeUp: [] as number[], composeReady: [] as number[] };
  try {
    await waitForServer(home, TEMPORAL_PORT);
    // A warm-up deploy, so the first measured round does not pay for worker and network set-up.
    run(process.execPath, [BERTH, 'deploy', path.join(home, 'app.yaml'), '--json']);
    run(process.execPath, [BERTH, 'destroy', APP]);
    for (let round = 0; round < ROUNDS; round++) {
      results.berth.push(run(process.execPath, [BERTH, 'deploy', path.join(home, 'app.yaml'), '--json']));
      run(process.execPath, [BERTH, 'destroy', APP]);
      const t0 = performance.now();
      run(composeBin, ['-p', PROJECT, 'up', '-d', '--scale', `web=${INSTANCES}`]);
      results.composeUp.push(performance.now() - t0);
      await composeReady();
      results.composeReady.push(performance.now() - t0);
      run(composeBin, ['-p', PROJECT, 'down', '-v']);
    }
  } finally {
    spawnSync(composeBin, ['-p', PROJECT, 'down', '-v'], { cwd: home, env });
    await stopServer(server, env, home, APP);
  }
  const berth = median(results.berth);
  const up = median(results.composeUp);
  const ready = median(results.composeReady);
  console.log(
    JSON.stringify({
      benchmark: 'deploy',
      instances: INSTANCES,
      rounds: ROUNDS,
      berthMs: Math.round(berth),
      composeUpMs: Math.round(up),
      composeUpAndReadyMs: Math.round(ready),
      ratioBerthToComposeUp: +(berth / up).toFixed(2),
      ratioBerthToComposeReady: +(berth / ready).toFixed(2),
      runs: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map(Math.round)])),
    }),
  );
}

main().catch((err) => {
  console.error(`bench:deploy: ${(err as Error).message}`);
  process.exit(1);
});
