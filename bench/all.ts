/**
 * `npm run bench`: every bench, one after the other (each a child process with its own time bound,
 * each cleaning up after itself), then `docs/BENCHMARKS.md`: the machine (cores, memory, Docker
 * version, load), a table of the headline figures of this run with their peer, ratio and target, what
 * each figure means, and every bench's JSON. A bench that fails or runs out of time is listed with
 * the last line of its error; the others still run. `BENCH_ONLY=deploy,heal` runs a subset: the
 * others keep their figures from the last run that had them (`docs/benchmarks.json`), with its date.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './support';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Row {
  figure: string;
  berth: string;
  peer: string;
  ratio?: number;
  target?: string;
  /** Does the ratio or figure meet the target? undefined: no target. */
  meets?: boolean;
}

/** One bench's outcome, as kept in docs/benchmarks.json. */
interface Result {
  json?: Json;
  error?: string;
  seconds: number;
  /** When it started, `YYYY-MM-DD HH:MM` UTC. */
  date: string;
  /** The 1-minute load average when it started and ended (absent: not recorded). */
  load?: [number, number];
}

interface Bench {
  name: string;
  script: string;
  timeoutMin: number;
  meaning: string;
  rows(j: Json): Row[];
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const atMost = (ratio: number, target: number): Pick<Row, 'ratio' | 'target' | 'meets'> => ({
  ratio,
  target: `≤ ${target.toFixed(1)}×`,
  meets: ratio <= target,
});

const BENCHES: Bench[] = [
  {
    name: 'parse',
    script: 'blueprint-parse',
    timeoutMin: 5,
    meaning: 'Median time to parse and validate a generated 1,000-service blueprint. No peer.',
    rows: (j) => [{ figure: `parse ${j.services} services`, berth: `${j.ms} ms`, peer: '—' }],
  },
  {
    name: 'placement',
    script: 'placement',
    timeoutMin: 15,
    meaning:
      "Placements per second of wall time, median (slowest–fastest) of 7 samples after one untimed run of the same request, of 10,000 mixed-size, partly constrained containers with the seven-strategy chain, every host considered; and per second of the process's CPU time, which the target is checked against (on a shared machine wall time includes waiting for a core). In brackets, one run of the full scan (every host judged anew for every container; the engine keeps verdicts and re-judges only changed hosts): the same machine's reference. No peer; the targets are absolute.",
    rows: (j) =>
      (j.results as Json[]).map((r) => {
        const target = r.hosts === 1000 ? 60_000 : r.hosts === 10_000 ? 8_000 : undefined;
        return {
          figure: `placements/s at ${r.hosts.toLocaleString('en')} hosts`,
          berth: `${r.placementsPerSecond.toLocaleString('en')} (${r.placementsPerSecondSpread.min.toLocaleString('en')}–${r.placementsPerSecondSpread.max.toLocaleString('en')}); per CPU-second ${r.placementsPerCpuSecond.toLocaleString('en')}${r.fullScanPlacementsPerCpuSecond ? ` (full scan ${r.fullScanPlacementsPerCpuSecond.toLocaleString('en')})` : ''}`,
          peer: '—',
          ...(target
            ? { target: `≥ ${target.toLocaleString('en')}/s`, meets: r.placementsPerCpuSecond >= target }
            : {}),
        };
      }),
  },
  {
    name: 'deploy',
    script: 'deploy',
    timeoutMin: 45,
    meaning:
      "A 50-container app, from the command (`berth deploy` / `docker-compose up -d`) until the bench sees exactly 50 running and each accepting TCP on its own address:8080; same warm-up, rotating order, median (min–max) of the rounds. The engine's floor: the bench's own 50 bare create + start calls (10 at a time, no orchestration), timed the same way: what neither tool can go below on this engine.",
    rows: (j) => [
      {
        figure: `deploy ${j.instances} + ready (${j.rounds} rounds)`,
        berth: `${s(j.berthMs)} (${s(j.berthSpreadMs.min)}–${s(j.berthSpreadMs.max)})`,
        peer: `compose ${s(j.composeUpAndReadyMs)} (${s(j.composeSpreadMs.min)}–${s(j.composeSpreadMs.max)})`,
        ...atMost(j.ratioBerthToCompose, 0.9),
      },
      ...(j.engineFloorMs
        ? [
            {
              figure: `deploy ${j.instances}: the engine's floor`,
              berth: `${s(j.berthMs)} = ${j.ratioBerthToEngine}× the floor`,
              peer: `floor ${s(j.engineFloorMs)} (${s(j.engineSpreadMs.min)}–${s(j.engineSpreadMs.max)}); compose ${j.ratioComposeToEngine}× it`,
              ratio: j.ratioBerthToEngine,
            },
          ]
        : []),
    ],
  },
  {
    name: 'heal',
    script: 'heal',
    timeoutMin: 20,
    meaning:
      "Kill → the container's own address answers HTTP again, median (min–max) over first failures of several instances. Berth: restarter with its defaults; peer: Docker's restart manager (`restart: always`), same engine, alternating. The tuned row (no backoff, no give-up, the same instance killed repeatedly) is Berth's best case and has no peer.",
    rows: (j) => [
      {
        figure: `heal, defaults (${j.instances} kills each)`,
        berth: `${j.berthDefaults.medianMs} ms (${j.berthDefaults.spreadMs.min}–${j.berthDefaults.spreadMs.max})`,
        peer: `restart: always ${j.dockerRestartAlways.medianMs} ms (${j.dockerRestartAlways.spreadMs.min}–${j.dockerRestartAlways.spreadMs.max})`,
        ...atMost(j.ratioBerthToDocker, 1.2),
      },
      {
        figure: `heal, tuned: no backoff or give-up (${j.tunedNoBackoffNoGiveUp.kills} kills)`,
        berth: `${j.tunedNoBackoffNoGiveUp.medianMs} ms`,
        peer: '—',
      },
    ],
  },
  {
    name: 'autoscale',
    script: 'autoscale',
    timeoutMin: 20,
    meaning: 'A metric above the bound → the new instance running and ready (policy every 250 ms). No peer.',
    rows: (j) => [
      { figure: `autoscale one step (${j.rounds} rounds)`, berth: `${j.medianMs} ms`, peer: '—' },
    ],
  },
  {
    name: 'update',
    script: 'update',
    timeoutMin: 45,
    meaning:
      "A 10-replica rolling update, rollback and failed update (parallelism 2, start-first), Berth on the local engine vs `docker service update` in a one-node swarm on a netns host; wall seconds of each tool's command.",
    rows: (j) =>
      (['update', 'rollback', 'failedUpdate'] as const).map((k) => ({
        figure: `rollout: ${k}`,
        berth: `${j.berth[k].seconds} s (${j.berth[k].failed}/${j.berth[k].requests} failed requests)`,
        peer: `swarm ${j.swarm[k].seconds} s (${j.swarm[k].failed}/${j.swarm[k].requests})`,
        // Issue 12's target: no slower than Swarm, and no failed request.
        ...atMost(j.berthOverSwarm[k], 1.0),
        ...(j.berth[k].failed > 0 ? { meets: false } : {}),
      })),
  },
  {
    name: 'swarm',
    script: 'swarm',
    timeoutMin: 60,
    meaning:
      'Three netns hosts in one swarm: deploy 60 spread replicas until running and ready, scale 60→90 and 90→30, kill a non-leader host and wait until all 30 run on the others; Berth vs `docker service` on fresh hosts, both with their default failure detection.',
    rows: (j) =>
      (['deploy', 'scaleUp', 'scaleDown', 'hostDown'] as const).map((k) => ({
        figure: `swarm hosts: ${k}`,
        berth: `${j.berthSeconds[k]} s`,
        peer:
          j.swarmSeconds[k] === null
            ? `swarm not done within the bound (${j.swarmNotDone?.[k] ?? ''})`
            : `swarm ${j.swarmSeconds[k]} s`,
        ...(j.berthOverSwarm[k] === null ? {} : atMost(j.berthOverSwarm[k], 1.0)),
      })),
  },
  {
    name: 'cluster',
    script: 'cluster',
    timeoutMin: 45,
    meaning:
      'Many operations at once through two workers, on a real Temporal cluster (PostgreSQL) vs the dev server (SQLite): operations per second (the ratio is cluster/dev, higher is better).',
    rows: (j) =>
      (['deploy', 'scale', 'destroy'] as const).map((k) => ({
        figure: `cluster ${k} ops/s (${j.apps} apps)`,
        berth: `cluster ${j.cluster[k].opsPerSec}`,
        peer: `dev server ${j.devServer[k].opsPerSec}`,
        ratio: j.ratioClusterToDevServer[`${k}OpsPerSec`],
      })),
  },
  {
    name: 'real-apps',
    script: 'real-apps',
    timeoutMin: 30,
    meaning:
      "A real app's daily steps against Docker's own commands, median of the rounds: a 4 MB image pulled from a local registry (Berth's pull step of a deploy vs `docker pull`), a graceful scale-down by one vs `docker stop`, and `berth logs` of two instances vs `docker logs` of each (the CLI's fixed start-up, a `berth status`, is shown apart).",
    rows: (j) => [
      {
        figure: 'pull step (4 MB image)',
        berth: `${j.pull.berthPullStepMs} ms`,
        peer: `docker pull ${j.pull.dockerPullMs} ms`,
        ratio: j.pull.pullStepRatio,
      },
      {
        figure: 'graceful stop (scale down by one)',
        berth: `${j.stop.berthScaleDownMs} ms`,
        peer: `docker stop ${j.stop.dockerStopMs} ms`,
        ratio: j.stop.ratio,
      },
      {
        figure: `logs (${j.logs.lines} lines)`,
        berth: `${j.logs.berthLogsMs} ms (berth status alone ${j.logs.berthStatusMs} ms)`,
        peer: `docker logs ×2 ${j.logs.dockerLogsTwiceMs} ms`,
        ratio: j.logs.ratio,
      },
    ],
  },
  {
    name: 'failover',
    script: 'failover',
    timeoutMin: 45,
    meaning:
      "Four netns hosts; a 6-replica Berth app and a 6-replica Swarm service side by side; a non-leader host killed, then the leader: time from the kill until every replica answers again on the hosts left (Berth: a sensing round every 1 s, failed after 3 missed; Swarm: its 5 s heartbeat). Side by side, Berth's eviction of the failed node also makes Swarm reschedule, so Swarm's time there is partly Berth's; the 'Swarm alone' row kills another non-leader host while Berth is blind (a failure threshold it never reaches), so Swarm detects by itself. The ratio here is Berth/Swarm.",
    rows: (j) =>
      ((j.phases ?? []) as Json[])
        .map((p) => ({
          figure: `host down: ${p.phase} (${p.host})`,
          berth:
            (p.berthMs !== undefined ? s(p.berthMs) : `— (${p.problems.join('; ')})`) +
            (p.berthDeclaredMs !== undefined ? `; declared failed at ${s(p.berthDeclaredMs)}` : ''),
          peer:
            p.swarmMs !== undefined
              ? `swarm ${s(p.swarmMs)}` +
                (p.swarmDownMs !== undefined ? `; node down at ${s(p.swarmDownMs)}` : '') +
                (p.nodeRemovedMs !== undefined &&
                (p.swarmDownMs === undefined || p.nodeRemovedMs < p.swarmDownMs)
                  ? `; node removed by Berth's eviction at ${s(p.nodeRemovedMs)}, before Swarm marked it down`
                  : '')
              : `swarm did not recover within the bound (${(p.problems as string[]).filter((x) => x.startsWith('Swarm')).join('; ') || 'no time'})`,
          ...(p.berthMs !== undefined && p.swarmMs !== undefined
            ? atMost(+(p.berthMs / p.swarmMs).toFixed(2), 1.0)
            : {}),
        }))
        .concat(
          j.swarmAlone
            ? [
                {
                  figure: `host down: non-leader, Swarm alone (${j.swarmAlone.host})`,
                  berth:
                    j.phases?.[0]?.berthMs !== undefined
                      ? `${s(j.phases[0].berthMs)} (the non-leader row)`
                      : '—',
                  peer:
                    j.swarmAlone.swarmMs !== undefined
                      ? `swarm ${s(j.swarmAlone.swarmMs)}` +
                        (j.swarmAlone.swarmDownMs !== undefined
                          ? `; node down at ${s(j.swarmAlone.swarmDownMs)}`
                          : '')
                      : `swarm did not recover within the bound (${(j.swarmAlone.problems as string[]).join('; ')})`,
                  ...(j.berthOverSwarmAlone !== undefined ? atMost(j.berthOverSwarmAlone, 1.0) : {}),
                },
              ]
            : [],
        ),
  },
];

/** The bench's JSON: its whole stdout, or else its last line that parses. */
function jsonOf(stdout: string): Json | undefined {
  try {
    return JSON.parse(stdout);
  } catch {
    for (const line of stdout.trim().split('\n').reverse()) {
      try {
        return JSON.parse(line);
      } catch {
        /* not this line */
      }
    }
  }
  return undefined;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function main(): void {
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
  // In BENCH_ONLY's order when given (a bench most in doubt can go first).
  const chosen = only ? only.flatMap((n) => BENCHES.filter((b) => b.name === n)) : BENCHES;
  const dockerVersion = (() => {
    try {
      return execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const saved = path.join(ROOT, 'docs', 'benchmarks.json');
  const earlier: Record<string, Result> = fs.existsSync(saved)
    ? JSON.parse(fs.readFileSync(saved, 'utf8'))
    : {};
  const latest: Record<string, Result> = { ...earlier };
  for (const bench of chosen) {
    const loadBefore = os.loadavg()[0];
    const date = new Date().toISOString().replace('T', ' ').slice(0, 16);
    process.stderr.write(`bench ${bench.name}: running (at most ${bench.timeoutMin} min)\n`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', `${bench.script}.js`)], {
      encoding: 'utf8',
      timeout: bench.timeoutMin * 60_000,
      killSignal: 'SIGINT',
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const seconds = Math.round((performance.now() - t0) / 1000);
    // A bench that printed its report and then failed (failover: a replica not back) keeps its figures.
    const printed = jsonOf(r.stdout);
    const json = r.status === 0 || printed?.benchmark ? printed : undefined;
    const error = json
      ? undefined
      : r.error?.message.includes('ETIMEDOUT')
        ? `did not finish within ${bench.timeoutMin} min`
        : (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-1)[0];
    process.stderr.write(`bench ${bench.name}: ${error ?? 'done'} (${seconds} s)\n`);
    if (json) process.stdout.write(`${JSON.stringify(json)}\n`);
    latest[bench.name] = {
      json,
      error,
      seconds,
      date,
      load: [+loadBefore.toFixed(1), +os.loadavg()[0].toFixed(1)],
    };
    // Written after every bench, so a run cut short still leaves its figures.
    fs.writeFileSync(saved, `${JSON.stringify(latest, null, 1)}\n`);
    writeReport(latest, dockerVersion);
  }
  if (!chosen.length) writeReport(latest, dockerVersion);
}

/** docs/BENCHMARKS.md from the latest figures of every bench. */
function writeReport(latest: Record<string, Result>, dockerVersion: string): void {
  const results = BENCHES.filter((b) => latest[b.name]).map((bench) => ({ bench, ...latest[bench.name] }));
  const dates = results.map((r) => r.date).sort();
  const loads = results.flatMap((r) => r.load ?? []);
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`bench/all.ts`); do not edit by hand. Absolute times differ a lot from',
    'machine to machine (and with what else runs), so every headline is a ratio against a peer measured',
    'in the same run, on the same engine. Targets are from issue 15.',
    '',
    '## The latest run',
    '',
    `| machine | |`,
    '|---|---|',
    `| date | ${dates[0]} – ${dates.at(-1)} UTC |`,
    `| cores | ${os.cpus().length} (${cell(os.cpus()[0]?.model ?? 'unknown')}) |`,
    `| memory | ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB |`,
    `| Docker engine | ${dockerVersion} |`,
    `| Node.js | ${process.version} |`,
    `| load average (1 min) | ${loads.length ? `${Math.min(...loads)} – ${Math.max(...loads)}` : 'not recorded'}, at each bench's start and end (other work shares the machine) |`,
    '',
    '| benchmark | figure | Berth | peer | ratio Berth/peer | target | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const { bench, json, error: failed } of results) {
    let rows: Row[] = [];
    let error = failed;
    try {
      rows = json ? bench.rows(json) : [];
    } catch (err) {
      error = `its JSON lacks a figure: ${(err as Error).message}`;
    }
    if (!rows.length) lines.push(`| ${bench.name} | failed: ${cell(error ?? 'no figures')} | | | | | |`);
    for (const r of rows)
      lines.push(
        `| ${bench.name} | ${cell(r.figure)} | ${cell(r.berth)} | ${cell(r.peer)} | ${r.ratio ?? '—'} | ${r.target ?? '—'} | ${r.meets === undefined ? '—' : r.meets ? 'yes' : 'no'} |`,
      );
  }
  lines.push('', '## What each figure means', '');
  for (const { bench, seconds, load, date } of results)
    lines.push(
      `- **${bench.name}** (\`npm run bench:${bench.name}\`; run ${date} UTC, ${seconds} s, load ${load ? `${load[0]} → ${load[1]}` : 'not recorded'}): ${bench.meaning}`,
    );
  lines.push('', '## Raw output of the latest run', '');
  for (const { bench, json, error } of results)
    lines.push(
      `### ${bench.name}`,
      '',
      '```json',
      json ? JSON.stringify(json, null, 1) : JSON.stringify({ error }),
      '```',
      '',
    );
  const out = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  fs.writeFileSync(out, `${lines.join('\n').trimEnd()}\n`);
  process.stderr.write(`wrote ${path.relative(ROOT, out)}\n`);
}

main();
