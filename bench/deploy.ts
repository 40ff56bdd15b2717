/**
 * `npm run bench:deploy`: the same 50-container app (busybox httpd, one forwarded port each, one
 * bridge network) deployed with Berth and with Debian's docker-compose, alternating, several rounds.
 * Berth's time is `berth deploy` end to end (it returns when every instance answers on its port);
 * for compose we report `up -d` alone and `up -d` plus the wait until every port answers.
 * Runs its own embedded server (temporary BERTH_HOME and ports) and removes everything it made.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const BERTH = path.join(ROOT, 'bin', 'berth');
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const APP = 'benchberth';
const PROJECT = 'benchcompose';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  BERTH_HOME: home,
  BERTH_PORT: '17433',
  BERTH_UI_PORT: '18433',
  BERTH_CODEC_PORT: '18434',
  // Its own DNS network and subnet, so it never meets a user's Berth.
  BERTH_DNS_NETWORK: 'berth-dns-bench',
  BERTH_DNS_SUBNET: '10.207.0.0/24',
};
delete env.TEMPORAL_ADDRESS;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function run(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env: extraEnv, encoding: 'utf8', cwd: home, timeout: 600_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return performance.now() - t0;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
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
    const ok = await Promise.all(pending.map(answers));
    pending = pending.filter((_, i) => !ok[i]);
  }
  if (pending.length) throw new Error(`${pending.length} compose containers never answered`);
}

async function waitForServer(): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (fs.existsSync(path.join(home, 'server.pid')) && (await answers(17433))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('embedded server did not start');
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
  const server = spawn(process.execPath, [BERTH, 'server'], { env, stdio: 'ignore' });
  const results = { berth: [] as number[], composeUp: [] as number[], composeReady: [] as number[] };
  try {
    await waitForServer();
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
    spawnSync(process.execPath, [BERTH, 'destroy', APP], { env });
    // `server stop` ends the server and Berth's DNS server of this home.
    spawnSync(process.execPath, [BERTH, 'server', 'stop'], { env });
    if (server.exitCode === null) await new Promise((r) => server.once('exit', r));
    fs.rmSync(home, { recursive: true, force: true });
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
