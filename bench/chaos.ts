/**
 * `npm run chaos [-- --seed N --rounds N --minutes N]`: a pool of 4 netns hosts running 3 apps (one
 * of 6 replicas spread over the hosts) meets a fault each round, drawn from a fixed list by the seed
 * (`chaos-plan.ts`): the swarm's leader, the registry's host or another host has its dockerd killed,
 * its engine stopped, or its network cut; or a host's engine stops while the Berth worker or the
 * Temporal server is killed in the middle of the heal. Each round waits for the heal, brings the
 * host back, waits until it rejoined, and checks (`chaos-checks.ts`): every app whole and answering,
 * no instance with two containers, every name and address kept, no orphan container, a registry
 * with every image. Prints JSON (the seed, each round's fault, heal time and findings, median and
 * worst); stops after its rounds or its time, whichever first, and removes everything it made.
 * Exit code 1 when a round broke an invariant: `--seed` runs the same rounds again.
 */
import * as os from 'os';
import * as path from 'path';
import { FAULTS, median, planFaults, prng, type FaultKind, type PlannedFault } from './chaos-plan';
import {
  ID_SERVER_COMMAND,
  allContainers,
  appsHealth,
  duplicates,
  nameProblems,
  orphans,
  registryGaps,
  type AppsView,
} from './chaos-checks';
import { PoolRig, lastLines } from './pool-rig';

interface Args {
  /** Rounds as written (`--faults kind@target,...`) instead of drawn from the seed: to look at one. */
  faults?: PlannedFault[];
  seed: number;
  rounds: number;
  minutes: number;
  prefix: string;
  lan: string;
  port: number;
  /** Saves the inventory's and the first heal's histories here as replay fixtures (`--record DIR`). */
  record?: string;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined
      ? argv[i + 1]
      : (process.env[`BERTH_CHAOS_${name.toUpperCase()}`] ?? fallback);
  };
  const number = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name, String(fallback));
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
    return n;
  };
  const args = {
    seed: number('seed', Math.floor(Date.now() % 1_000_000), 0, 2 ** 31 - 1),
    rounds: number('rounds', 12, 1, 200),
    minutes: number('minutes', 60, 1, 24 * 60),
    prefix: get('prefix', 'chaos'),
    lan: get('lan', '10.213.250'),
    port: number('port', 17633, 1024, 64000),
  };
  const record = get('record', '');
  if (record) (args as Args).record = record;
  const faults = get('faults', '');
  if (faults)
    (args as Args).faults = faults.split(',').map((f) => {
      const [kind, target = 'other'] = f.split('@');
      const known =
        FAULTS.find((x) => x.kind === kind && x.target === target) ?? FAULTS.find((x) => x.kind === kind);
      if (!known || !['leader', 'registry', 'other'].includes(target))
        throw new Error(
          `--faults: '${f}' is not KIND@TARGET (kinds: ${[...new Set(FAULTS.map((x) => x.kind))].join(', ')}; targets: leader, registry, other)`,
        );
      return { kind: known.kind, target: target as PlannedFault['target'] };
    });
  if (!/^[a-z][a-z0-9]{0,7}$/.test(args.prefix)) throw new Error(`--prefix must match ^[a-z][a-z0-9]{0,7}$`);
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(args.lan))
    throw new Error(`--lan must be three octets like 10.213.250`);
  return args;
}

const log = (line: string) =>
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const APPS = ['web', 'shop', 'solo'];

/** The three apps: `web` (6 replicas spread, a built image, restart always), `shop` (db + 2 api), `solo`. */
function blueprints(): Record<string, string> {
  const cmd = JSON.stringify(ID_SERVER_COMMAND);
  return {
    web: `id: web
services:
  - id: web
    replicas: 6
    restart: always
    ports: ["0:8080"]
    placement: [breadthFirst]
    dockerfile: |
      FROM berth/busybox:1
      RUN mkdir -p /www && echo chaos > /www/index.html
      CMD ["sh", "-c", ${cmd}]
`,
    shop: `id: shop
services:
  - id: db
    image: berth/busybox:1
    command: ${cmd}
    ports: ["0:8080"]
  - id: api
    image: berth/busybox:1
    replicas: 2
    placement: [breadthFirst]
    env: {DB: "\${db.host}"}
    command: ${cmd}
    ports: ["0:8080"]
`,
    solo: `id: solo
services:
  - id: app
    image: berth/busybox:1
    command: ${cmd}
    ports: ["0:8080"]
`,
  };
}

interface RoundResult {
  round: number;
  fault: FaultKind;
  target: string;
  /** What the target was when it was hit. */
  roles: string[];
  /** Fault → the inventory failed the host. */
  declaredMs?: number;
  /** The failure declared → every app whole and answering again. */
  healMs?: number;
  /** Fault → the host back in the pool (after it was started again or reconnected). */
  rejoinedMs?: number;
  /** Broken invariants (an instance twice, a lost name or address, an orphan, not healed at all). */
  problems: string[];
  /** Healed, but later than `HEAL_LIMIT_MS` after the failure was declared (a time, not an invariant). */
  slow?: string;
  ok: boolean;
}

/** Heal bound of the invariants, from the failure being declared. */
const HEAL_LIMIT_MS = 60_000;

async function settle(rig: PoolRig, limitMs: number): Promise<{ problems: string[]; view?: AppsView }> {
  const deadline = Date.now() + limitMs;
  let last: string[] = ['not checked'];
  let view: AppsView | undefined;
  while (Date.now() < deadline) {
    try {
      const hosts = await rig.hosts();
      const down = hosts.filter((h) => h.status !== 'ready').map((h) => `${h.id} ${h.status}`);
      const health = await appsHealth(rig, APPS);
      view = health.view;
      last = [...down.map((d) => `host ${d}`), ...health.problems];
      if (last.length === 0) return { problems: [], view };
    } catch (err) {
      last = [(err as Error).message.split('\n')[0]];
    }
    await sleep(1_000);
  }
  return { problems: last, view };
}

function snapshot(view: AppsView): Map<string, string | undefined> {
  return new Map(
    [...view.records].flatMap(([app, is]) => is.map((i) => [`${app}/${i.instance}`, i.ip] as const)),
  );
}

async function runRound(
  rig: PoolRig,
  round: number,
  planned: PlannedFault,
  random: () => number,
): Promise<RoundResult> {
  const result: RoundResult = { round, fault: planned.kind, target: '', roles: [], problems: [], ok: false };
  const before = await settle(rig, 240_000);
  if (before.problems.length > 0 || !before.view) {
    result.problems.push(...before.problems.map((p) => `before the fault: ${p}`));
    return result;
  }
  const hosts = await rig.hosts();
  const leader = await rig.leader();
  const registryHost = hosts.find((h) => h.registry)?.id;
  // Of the other hosts, one that runs the most instances (a host that rejoined runs none yet).
  const placed = before.view;
  const load = (id: string) => [...placed.records.values()].flat().filter((i) => i.host === id).length;
  const candidates = hosts.map((h) => h.id).filter((id) => id !== leader && id !== registryHost);
  const most = Math.max(0, ...candidates.map(load));
  const others = candidates.filter((id) => load(id) === most);
  const target =
    planned.target === 'leader'
      ? leader
      : planned.target === 'registry'
        ? registryHost
        : others[Math.floor(random() * others.length)];
  if (!target) {
    result.problems.push(`no ${planned.target} host to hit (leader ${leader}, registry ${registryHost})`);
    return result;
  }
  result.target = target;
  result.roles = [target === leader && 'leader', target === registryHost && 'registry'].filter(
    Boolean,
  ) as string[];
  log(`round ${round}: ${planned.kind} on ${target} (${result.roles.join(', ') || 'other'})`);
  const addresses = snapshot(before.view);

  const t0 = Date.now();
  if (planned.kind === 'kill-dockerd') await rig.killDockerd(target);
  else if (planned.kind === 'cut') await rig.cut(target);
  else await rig.stopEngine(target);

  let declaredAt: number | undefined;
  let healedAt: number | undefined;
  let interrupted = planned.kind !== 'worker-restart' && planned.kind !== 'server-restart';
  let lastProblems: string[] = [];
  while (Date.now() - t0 < 180_000 && healedAt === undefined) {
    await sleep(250);
    try {
      const now = await rig.hosts();
      if (declaredAt === undefined && now.find((h) => h.id === target)?.status === 'failed') {
        declaredAt = Date.now();
        log(`  ${target} failed after ${declaredAt - t0} ms`);
      }
      if (declaredAt === undefined) continue;
      if (!interrupted && (Date.now() - declaredAt > 2_000 || (await healing(rig)))) {
        interrupted = true;
        log(
          `  ${planned.kind === 'worker-restart' ? 'killing the worker' : 'restarting the Temporal server'} mid-heal`,
        );
        if (planned.kind === 'worker-restart') await rig.restartWorker();
        else await rig.restartServer();
        continue;
      }
      const health = await appsHealth(rig, APPS);
      const stillThere = [...health.view.records.values()].flat().filter((i) => i.host === target);
      lastProblems = [...health.problems, ...stillThere.map((i) => `${i.instance} still on ${target}`)];
      if (lastProblems.length === 0) healedAt = Date.now();
    } catch (err) {
      lastProblems = [(err as Error).message.split('\n')[0]]; // the server restarting, say
    }
  }
  if (declaredAt !== undefined) result.declaredMs = declaredAt - t0;
  if (declaredAt !== undefined && healedAt !== undefined) {
    result.healMs = healedAt - declaredAt;
    log(`  healed ${result.healMs} ms after the failure was declared`);
    if (result.healMs > HEAL_LIMIT_MS) result.slow = `healed only after ${result.healMs} ms`;
  } else {
    result.problems.push(
      declaredAt === undefined
        ? `${target} was never declared failed`
        : `not healed: ${lastProblems.slice(0, 5).join('; ')}`,
    );
  }

  // The host comes back: its engine starts again (with its old containers), or its network returns.
  if (planned.kind === 'cut') await rig.restore(target);
  else await rig.startEngine(target);
  const back = Date.now();
  let rejoined = false;
  const partitionProblems = new Set<string>();
  while (Date.now() - back < 240_000) {
    await sleep(1_000);
    try {
      const row = (await rig.hosts()).find((h) => h.id === target);
      if (row?.status !== 'failed') {
        rejoined = true;
        break;
      }
      // Until Berth has taken it back, the old copies on a returning host must stay out of every name.
      if (planned.kind === 'cut' && Date.now() - back < 60_000) {
        const health = await appsHealth(rig, APPS);
        for (const p of await nameProblems(rig, health.view))
          partitionProblems.add(`after the partition: ${p}`);
      }
    } catch {
      // the server may still be starting
    }
  }
  result.problems.push(...partitionProblems);
  if (rejoined) result.rejoinedMs = Date.now() - t0;
  else result.problems.push(`${target} did not rejoin within 240 s of coming back`);

  const after = await settle(rig, 120_000);
  result.problems.push(...after.problems);
  if (after.view) {
    const containers = await allContainers(rig, APPS);
    result.problems.push(...duplicates(containers, after.view).map((d) => `two containers: ${d}`));
    result.problems.push(...orphans(containers, after.view).map((o) => `orphan: ${o}`));
    result.problems.push(...(await nameProblems(rig, after.view)));
    const state = await rig.inventory.state();
    result.problems.push(...(await registryGaps(state?.registry, containers)));
    for (const [key, ip] of snapshot(after.view))
      if (addresses.has(key) && addresses.get(key) !== ip)
        result.problems.push(`address lost: ${key} ${addresses.get(key)} -> ${ip}`);
  }
  result.ok = result.problems.length === 0 && !result.slow;
  const said = [...(result.slow ? [result.slow] : []), ...result.problems].slice(0, 3).join('; ');
  log(`  round ${round} ${result.ok ? 'ok' : `FAILED: ${said}`}`);
  return result;
}

/** Is a heal of some app running? */
async function healing(rig: PoolRig): Promise<boolean> {
  for (const app of APPS) {
    const state = await rig.appState(app).catch(() => undefined);
    if (state?.operations.some((o) => o.type === 'heal' && o.status === 'running')) return true;
  }
  return false;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const plan = args.faults ?? planFaults(prng(args.seed), args.rounds);
  // Targets among "other" hosts come from a stream of their own, so the plan alone fixes the faults.
  const targets = prng(args.seed ^ 0x5eed);
  const rig = new PoolRig({
    prefix: args.prefix,
    lan: args.lan,
    hosts: 4,
    temporalPort: args.port,
    senseEveryMs: 1_000,
    failureThreshold: 3,
    log,
  });
  rig.closeOnSignals();
  const startedAt = Date.now();
  const rounds: RoundResult[] = [];
  let setupError: string | undefined;
  try {
    await rig.start();
    log(`deploying ${APPS.join(', ')}`);
    await rig.deploy(blueprints());
    for (let i = 0; i < plan.length; i++) {
      if (Date.now() - startedAt > args.minutes * 60_000) {
        log(`time is up after ${i} rounds`);
        break;
      }
      const result = await runRound(rig, i + 1, plan[i], targets);
      rounds.push(result);
      if (result.problems.some((p) => p.startsWith('before the fault'))) break; // the pool never settled
    }
  } catch (err) {
    setupError = (err as Error).message;
    log(`failed: ${setupError}`);
    log(`worker log ends:\n${lastLines(rig.workerLog, 30)}`);
  } finally {
    if (args.record && rounds.length > 0) {
      try {
        // The first round's heal of the built app runs after the registry moved off its host.
        rig.saveHistory(args.record, 'berth-chaos-inventory', `berth-inventory-${rig.taskQueue}`);
        rig.saveHistory(args.record, 'berth-chaos-heal-web', 'berth-heal-web-2');
        log(`recorded the inventory's and the first heal's histories in ${args.record}`);
      } catch (err) {
        log(`could not record the histories: ${(err as Error).message}`);
      }
    }
    if (rounds.some((r) => !r.ok) || setupError) {
      log(`worker log ends:\n${lastLines(rig.workerLog, 20)}`);
      const dir = path.join(os.tmpdir(), `berth-chaos-${args.seed}-${process.pid}`);
      try {
        rig.dumpHistories(dir);
        log(`workflow histories and the worker's log: ${dir}`);
      } catch (err) {
        log(`could not keep the histories: ${(err as Error).message}`);
      }
    }
    await rig.close();
  }
  const heals = rounds.flatMap((r) => (r.healMs !== undefined ? [r.healMs] : []));
  const report = {
    benchmark: 'chaos',
    seed: args.seed,
    faults: FAULTS.length,
    roundsPlanned: args.rounds,
    rounds,
    healMs: { median: median(heals), worst: heals.length ? Math.max(...heals) : undefined },
    declaredMs: { median: median(rounds.flatMap((r) => (r.declaredMs !== undefined ? [r.declaredMs] : []))) },
    healedWithin30s: heals.filter((h) => h <= 30_000).length,
    failedRounds: rounds.filter((r) => !r.ok).map((r) => r.round),
    /** Every round kept every invariant (healed at all, nothing twice, nothing lost), however slow. */
    invariantsKept: !setupError && rounds.length > 0 && rounds.every((r) => r.problems.length === 0),
    ...(setupError ? { error: setupError } : {}),
    ok: !setupError && rounds.length > 0 && rounds.every((r) => r.ok),
    rerun: `npm run chaos -- --seed ${args.seed} --rounds ${args.rounds}`,
    minutes: Math.round((Date.now() - startedAt) / 6_000) / 10,
  };
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`chaos: ${(err as Error).message}`);
  process.exit(1);
});
