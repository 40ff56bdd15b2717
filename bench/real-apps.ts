/**
 * `npm run bench:real-apps`: what running a real app through Berth costs against Docker's own
 * commands, measured in the same run on the same engine. Prints one JSON object of ratios.
 *
 * - pull: an image of a few MB (a layer of random bytes over the base image) in a local
 *   docker-registry; Berth's deploy pulls it (the pull step's own time, as the deploy prints it, and
 *   the whole deploy) vs `docker pull` of the same reference. The image is removed before each pull.
 * - stop: a container whose TERM handler exits at once; `berth scale` down by one (leave DNS, the
 *   default 1 s drain, the stop signal, the removal) vs `docker stop` of the same image and command.
 * - logs: `berth logs APP` of a 2-instance app (2,000 lines each) vs `docker logs` of each of its
 *   two containers one after the other; time to the first line with `--follow` vs `docker logs -f`.
 *   `berth status APP` in the same rounds is what any berth command costs (Node's start, the
 *   connection, one query): `beyondStatusRatio` is the logs' own share against Docker.
 *
 * Runs its own embedded server (temporary BERTH_HOME, ports and DNS network) and registry; removes
 * the app, the peer containers (by label) and the images it made. Every loop is bounded.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createDockerClient } from '../src/adapters/docker';
import { buildFromDockerfile, pushImage } from '../src/adapters/images';
import { ensureRegistry, stopRegistry } from '../src/adapters/registry';
import { BERTH, benchHome, berthCli, median, startServer, stopServer, waitForServer } from './support';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES = 2_000;
const APP = 'benchreal';
const TEMPORAL_PORT = 17493;
const REGISTRY_PORT = Number(process.env.BENCH_REGISTRY_PORT ?? 18496);
const LABEL = 'berth.bench';
const LABEL_VALUE = 'real-apps';

const { home, env } = benchHome(
  'berth-bench-real-apps',
  { temporal: TEMPORAL_PORT, ui: 18493, codec: 18494, sensor: 18495 },
  { network: 'berth-dns-bench-real', subnet: '10.207.9.0/24' },
);
const berth = berthCli(env, home);
const docker = createDockerClient();
const registryHome = path.join(home, 'peer-registry');
const LOCAL = 'berth-bench/real-apps:1';
const repository = `127.0.0.1:${REGISTRY_PORT}/berth-bench/real-apps`;
const image = `${repository}:1`;

/** Prints LINES lines, then waits; TERM ends it at once (`wait` returns when the trap runs). */
const COMMAND = `trap 'echo stopping; exit 0' TERM; i=0; while [ $i -lt ${LINES} ]; do echo "line $i of $(hostname)"; i=$((i+1)); done; while :; do sleep 3600 & wait $!; done`;

function blueprint(): string {
  const file = path.join(home, 'real-apps.yaml');
  fs.writeFileSync(
    file,
    [
      `id: ${APP}`,
      'network: 10.207.10.0/24',
      'services:',
      '  - id: db',
      '    type: cluster',
      '    replicas: 2',
      `    image: ${image}`,
      '    stopGracePeriod: 10s',
      `    command: ${JSON.stringify(COMMAND)}`,
      '',
    ].join('\n'),
  );
  return file;
}

function timed<T>(run: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = run();
  return { ms: performance.now() - t0, value };
}

function dockerCli(args: string[]): string {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

async function removeImage(ref: string): Promise<void> {
  await docker
    .getImage(ref)
    .remove({ force: true })
    .catch(() => undefined);
}

/** Followers that had to be killed after SIGTERM (reported: `berth logs -f` must leave on it). */
const hung: string[] = [];

/** Milliseconds from spawning `command` to its first line on stdout (bounded: 60 s), then kills it. */
function firstLineMs(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} ${args.join(' ')}: no line within 60 s`));
    }, 60_000);
    child.stdout.once('data', () => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      // Bounded: a follower that does not leave on SIGTERM within 10 s is killed (and it counts).
      const kill = setTimeout(() => {
        hung.push(`${path.basename(command)} ${args.join(' ')}`);
        child.kill('SIGKILL');
      }, 10_000);
      child.once('exit', () => (clearTimeout(kill), resolve(ms)));
      child.kill('SIGTERM');
    });
    child.once('error', (err) => (clearTimeout(timer), reject(err)));
  });
}

async function appContainerIds(): Promise<string[]> {
  const list = await docker.listContainers({
    filters: { label: [`berth.app=${APP}`, 'berth.kind=container'] },
  });
  return list.map((c) => c.Id);
}

/** Waits (bounded: 30 s) until every container of the app has printed its LINES lines. */
async function waitForLines(ids: string[]): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const counts = ids.map((id) => dockerCli(['logs', id]).split('\n').filter(Boolean).length);
    if (counts.every((n) => n >= LINES)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the app's containers did not print ${LINES} lines within 30 s`);
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const round = (xs: number[]) => xs.map(Math.round);

async function pullRounds(file: string) {
  const berthPull: number[] = [];
  const berthDeploy: number[] = [];
  const dockerPull: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Berth: nothing of the image's own layer on the engine; the deploy pins and pulls it.
    await removeImage(image);
    await removeImage(`${repository}@${digest}`);
    const deploy = timed(() => berth(['deploy', file]));
    const line = /pulled \S+ on local: \d+ of \d+ layers, [\d.]+ MB in ([\d.]+) s/.exec(deploy.value);
    if (!line) throw new Error(`the deploy pulled nothing:\n${deploy.value}`);
    berthPull.push(Number(line[1]) * 1000);
    berthDeploy.push(deploy.ms);
    if (r < ROUNDS - 1) berth(['destroy', APP]);
    // Docker: the same reference, the same state of the engine.
    const keep = r === ROUNDS - 1; // the last round's app stays for the stop and logs rounds
    if (!keep) {
      await removeImage(image);
      await removeImage(`${repository}@${digest}`);
      dockerPull.push(timed(() => dockerCli(['pull', `${repository}@${digest}`])).ms);
    }
  }
  // The last round's Docker pull needs the image gone, which the app running now holds: it comes
  // after the logs and stop rounds (see main).
  return { berthPull, berthDeploy, dockerPull };
}

let digest = '';

async function main(): Promise<void> {
  const server = startServer(env);
  try {
    await waitForServer(home, TEMPORAL_PORT);
    await ensureRegistry({ home: registryHome, port: REGISTRY_PORT });
    // A layer of its own each run (the pid is in the step), so the engine's cache holds none of it.
    await buildFromDockerfile(docker, {
      dockerfile: `FROM berth/busybox:1\nRUN head -c 4000000 /dev/urandom > /payload && echo ${process.pid} > /bench-build\n`,
      tag: LOCAL,
      labels: { [LABEL]: LABEL_VALUE },
    });
    digest = (await pushImage(docker, LOCAL, `127.0.0.1:${REGISTRY_PORT}`)).digest ?? '';
    if (!digest) throw new Error('the push gave no digest');
    await removeImage(LOCAL);

    const file = blueprint();
    const pull = await pullRounds(file);

    // Logs: the last round's app (2 instances) has printed its lines.
    const ids = await appContainerIds();
    if (ids.length !== 2) throw new Error(`expected 2 containers, found ${ids.length}`);
    await waitForLines(ids);
    const berthLogs: number[] = [];
    const berthStatus: number[] = [];
    const dockerLogs: number[] = [];
    const berthFirst: number[] = [];
    const dockerFirst: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const out = timed(() => berth(['logs', APP]));
      if (out.value.split('\n').filter(Boolean).length < 2 * LINES)
        throw new Error('berth logs printed fewer lines than the containers wrote');
      berthLogs.push(out.ms);
      // The CLI's own cost (Node start, connection, one query), which every berth command pays.
      berthStatus.push(timed(() => berth(['status', APP])).ms);
      dockerLogs.push(timed(() => ids.map((id) => dockerCli(['logs', id]))).ms);
      berthFirst.push(await firstLineMs(process.execPath, [BERTH, 'logs', APP, '--follow'], { env }));
      dockerFirst.push(await firstLineMs('docker', ['logs', '--follow', ids[0]]));
    }

    // Stop: Berth's scale-down by one vs `docker stop` of a container with the same command.
    const berthStop: number[] = [];
    const dockerStop: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      berthStop.push(timed(() => berth(['scale', APP, 'db', '1'])).ms);
      berth(['scale', APP, 'db', '2']);
      const id = dockerCli([
        'run',
        '-d',
        '--label',
        `${LABEL}=${LABEL_VALUE}`,
        '--stop-timeout',
        '10',
        `${repository}@${digest}`,
        'sh',
        '-c',
        COMMAND,
      ]).trim();
      await waitForLines([id]);
      dockerStop.push(timed(() => dockerCli(['stop', id])).ms);
      dockerCli(['rm', '-f', id]);
    }

    // The last Docker pull round, now that the app can go.
    berth(['destroy', APP]);
    await removeImage(image);
    await removeImage(`${repository}@${digest}`);
    pull.dockerPull.push(timed(() => dockerCli(['pull', `${repository}@${digest}`])).ms);

    const m = (xs: number[]) => Math.round(median(xs));
    console.log(
      JSON.stringify({
        benchmark: 'real-apps',
        rounds: ROUNDS,
        imageMB: 4,
        pull: {
          berthPullStepMs: m(pull.berthPull),
          berthDeployMs: m(pull.berthDeploy),
          dockerPullMs: m(pull.dockerPull),
          pullStepRatio: ratio(median(pull.berthPull), median(pull.dockerPull)),
          deployToDockerPullRatio: ratio(median(pull.berthDeploy), median(pull.dockerPull)),
          samples: {
            berthPullStep: round(pull.berthPull),
            berthDeploy: round(pull.berthDeploy),
            dockerPull: round(pull.dockerPull),
          },
        },
        stop: {
          berthScaleDownMs: m(berthStop),
          dockerStopMs: m(dockerStop),
          ratio: ratio(median(berthStop), median(dockerStop)),
          samples: { berthScaleDown: round(berthStop), dockerStop: round(dockerStop) },
        },
        logs: {
          lines: 2 * LINES,
          berthLogsMs: m(berthLogs),
          dockerLogsTwiceMs: m(dockerLogs),
          ratio: ratio(median(berthLogs), median(dockerLogs)),
          berthStatusMs: m(berthStatus),
          beyondStatusRatio: ratio(Math.max(0, median(berthLogs) - median(berthStatus)), median(dockerLogs)),
          followFirstLine: {
            berthMs: m(berthFirst),
            dockerMs: m(dockerFirst),
            ratio: ratio(median(berthFirst), median(dockerFirst)),
            killedAfterSigterm: hung,
          },
          samples: {
            berthLogs: round(berthLogs),
            berthStatus: round(berthStatus),
            dockerLogsTwice: round(dockerLogs),
            berthFirst: round(berthFirst),
            dockerFirst: round(dockerFirst),
          },
        },
      }),
    );
  } finally {
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL}=${LABEL_VALUE}`] },
    }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    // The registry's home is inside the bench's, which stopServer removes: the registry goes first.
    await stopRegistry({ home: registryHome }).catch(() => undefined);
    await stopServer(server, env, home, APP);
    for (const ref of [LOCAL, image, ...(digest ? [`${repository}@${digest}`] : [])]) await removeImage(ref);
  }
}

main().catch((err) => {
  console.error(`bench:real-apps: ${(err as Error).message}`);
  process.exit(1);
});
