import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { UserError } from '../../core/errors';
import { projectRoot } from '../../adapters/paths';
import { writeClusterConfig } from './config';
import { SERVICES, frontendAddress, uiUrl, type ClusterLayout, type TemporalService } from './layout';
import {
  ensurePostgresInstalled,
  ensureTemporalRole,
  pgLayout,
  postgresPid,
  preparePostgres,
  startPostgres,
  stopPostgres,
  type PgLayout,
} from './postgres';
import { procArgv, stopDaemon, type Daemon } from '../../adapters/daemon';
import { markedDaemon, pollUntil, runningPid, spawnDaemon } from './processes';
import { clusterMetadataWritten, ensureSchemas } from './schema';
import { ensureClusterTools, TEMPORAL_SERVER_VERSION, type ClusterTools } from './tools';
import { ensureNamespace, frontendAnswers, waitUntilUsable } from './readiness';

/**
 * A real Temporal cluster on this machine, from Berth's own scripts: PostgreSQL (default and
 * advanced-visibility stores), the four Temporal services as separate processes, the Temporal UI
 * server and Berth's codec server beside it. `clusterUp` converges: it starts what is not running
 * (a second up is a few probes), so it also brings back one component stopped by `clusterDown`.
 */

export const COMPONENTS = ['postgres', ...SERVICES, 'codec', 'ui'] as const;
export type Component = (typeof COMPONENTS)[number];

export const DEFAULT_SHARDS = 16;

/** What `up` created, kept in `cluster.json`: the shard count is fixed for the database's life. */
interface ClusterState {
  shards: number;
  schemaVersion?: string;
  createdAt: string;
}

export interface UpOptions {
  log: (line: string) => void;
  /** Also the UI server and the codec server (default true). */
  ui?: boolean;
  /** History shards, for a new database only. */
  shards?: number;
}

export interface UpResult {
  address: string;
  namespace: string;
  uiUrl?: string;
  started: Component[];
  ms: number;
}

function readState(layout: ClusterLayout): ClusterState | undefined {
  try {
    return JSON.parse(fs.readFileSync(layout.stateFile, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(layout: ClusterLayout, state: ClusterState): void {
  fs.writeFileSync(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** The `temporal` role's password: made once, root-readable only. */
function pgPassword(layout: ClusterLayout): string {
  if (!fs.existsSync(layout.pgPasswordFile))
    fs.writeFileSync(layout.pgPasswordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return fs.readFileSync(layout.pgPasswordFile, 'utf8').trim();
}

export function pgOf(layout: ClusterLayout): PgLayout {
  return pgLayout(layout.pgDir, layout.ports.postgres);
}

/** How each background component is started and recognised (pid file + command-line markers). */
interface ComponentProcess {
  daemon: Daemon;
  command: string;
  args: string[];
  cwd?: string;
}

function processOf(
  layout: ClusterLayout,
  tools: Partial<ClusterTools>,
  c: Exclude<Component, 'postgres'>,
): ComponentProcess {
  const pidFile = path.join(layout.pidDir, `${c}.pid`);
  if (c === 'ui') {
    const root = path.dirname(layout.uiConfigDir);
    return {
      daemon: markedDaemon('the Temporal UI server', pidFile, [`--root=${root}`]),
      command: tools.uiServer ?? '',
      args: [`--root=${root}`, '--config=config', '--env=berth', 'start'],
    };
  }
  if (c === 'codec') {
    const port = `--port=${layout.ports.codec}`;
    return {
      daemon: markedDaemon("Berth's codec server", pidFile, ['codec-server', port]),
      command: process.execPath,
      args: [path.join(projectRoot(), 'bin', 'berth'), 'codec-server', port, `--origin=${uiUrl(layout)}`],
    };
  }
  return {
    daemon: markedDaemon(`Temporal ${c}`, pidFile, [`--root=${layout.dir}`, `--service=${c}`]),
    command: tools.server ?? '',
    args: [
      `--root=${layout.dir}`,
      '--config=config',
      `--env=${c}`,
      '--allow-no-auth',
      'start',
      `--service=${c}`,
    ],
    cwd: layout.dir,
  };
}

export function componentPid(layout: ClusterLayout, c: Component): number | undefined {
  if (c === 'postgres') return postgresPid(pgOf(layout));
  return runningPid(processOf(layout, {}, c).daemon);
}

function startDaemon(layout: ClusterLayout, tools: ClusterTools, c: Exclude<Component, 'postgres'>): number {
  const p = processOf(layout, tools, c);
  return spawnDaemon({ ...p, pidFile: p.daemon.pidFile, logFile: path.join(layout.logDir, `${c}.log`) });
}

function logTail(layout: ClusterLayout, c: Component): string {
  const file = c === 'postgres' ? pgOf(layout).log : path.join(layout.logDir, `${c}.log`);
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(-600);
  } catch {
    return '(no log)';
  }
}

/** Nothing of ours answers there, but something else might: refuse rather than fight over a port. */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** One `up` (or `down`) at a time per home; a stale lock (its process gone) is taken over. */
async function withLock<T>(layout: ClusterLayout, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(layout.dir, 'up.lock');
  // Bounded: another up may be building the server (minutes).
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch {
      const holder = Number(fs.readFileSync(lock, 'utf8').trim());
      if (!Number.isInteger(holder) || holder <= 1 || !procArgv(holder)) fs.rmSync(lock, { force: true });
      else if (i >= 2400) throw new UserError(`another 'berth cluster' (pid ${holder}) holds ${lock}`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** PostgreSQL running, the temporal role and both schemas current; returns whether it was started. */
async function upPostgres(
  layout: ClusterLayout,
  tools: ClusterTools,
  bin: string,
  opts: UpOptions,
): Promise<boolean> {
  const pg = pgOf(layout);
  const fresh = !fs.existsSync(path.join(pg.data, 'PG_VERSION'));
  let state = fresh ? undefined : readState(layout);
  const shards = opts.shards ?? state?.shards ?? DEFAULT_SHARDS;
  if (state && opts.shards !== undefined && opts.shards !== state.shards)
    throw new UserError(
      `this cluster's database has ${state.shards} history shards; it cannot change (down --purge to start over)`,
    );
  let started = false;
  if (!postgresPid(pg)) {
    if (await portTaken(pg.port))
      throw new UserError(`port ${pg.port} (PostgreSQL) is taken by another process`);
    await preparePostgres(bin, pg, layout.home, opts.log);
    await startPostgres(bin, pg);
    started = true;
  }
  const password = pgPassword(layout);
  if (started || state?.schemaVersion !== TEMPORAL_SERVER_VERSION) {
    await ensureTemporalRole(bin, pg, password);
    await ensureSchemas(tools.sqlTool, bin, pg, password, opts.log);
    state = {
      shards,
      schemaVersion: TEMPORAL_SERVER_VERSION,
      createdAt: state?.createdAt ?? new Date().toISOString(),
    };
    writeState(layout, state);
  }
  writeClusterConfig(layout, shards, password);
  return started;
}

/** Starts the Temporal services that are not running and waits until the cluster serves workflows. */
async function upServices(
  layout: ClusterLayout,
  tools: ClusterTools,
  pgBin: string,
  opts: UpOptions,
): Promise<TemporalService[]> {
  const missing = SERVICES.filter((s) => !componentPid(layout, s));
  for (const s of missing) {
    const port = layout.ports.services[s].grpc;
    if (await portTaken(port))
      throw new UserError(
        `port ${port} (Temporal ${s}) is taken by another process ('berth server' running?)`,
      );
  }
  const started: TemporalService[] = [];
  const start = (s: TemporalService) => (startDaemon(layout, tools, s), started.push(s));
  const died = () => started.find((s) => !componentPid(layout, s));
  const pg = pgOf(layout);
  if (missing.length && !(await clusterMetadataWritten(pgBin, pg))) {
    // A new database: one service writes the cluster metadata before the others start.
    start(missing[0]);
    await pollUntil(async () => !!died() || (await clusterMetadataWritten(pgBin, pg)), 120_000, 300);
  }
  for (const s of missing) if (!started.includes(s) && !died()) start(s);
  const address = frontendAddress(layout);
  const answered = await pollUntil(async () => !!died() || (await frontendAnswers(address)), 120_000, 300);
  const dead = died();
  if (dead) throw new UserError(`Temporal ${dead} exited: ${logTail(layout, dead)}`);
  if (!answered)
    throw new UserError(
      `the Temporal frontend did not answer at ${address} within 120 s: ${logTail(layout, 'frontend')}`,
    );
  await ensureNamespace(address, layout.namespace, opts.log);
  await waitUntilUsable(address, layout.namespace, 120_000);
  return missing;
}

async function upUi(layout: ClusterLayout, tools: ClusterTools): Promise<Component[]> {
  const started: Component[] = [];
  for (const c of ['codec', 'ui'] as const) {
    if (componentPid(layout, c)) continue;
    const port = c === 'ui' ? layout.ports.ui : layout.ports.codec;
    if (await portTaken(port)) throw new UserError(`port ${port} (${c}) is taken by another process`);
    startDaemon(layout, tools, c);
    const up = await pollUntil(async () => !componentPid(layout, c) || (await portTaken(port)), 60_000, 200);
    if (!up || !componentPid(layout, c))
      throw new UserError(`the ${c} server did not start: ${logTail(layout, c)}`);
    started.push(c);
  }
  return started;
}

export async function clusterUp(layout: ClusterLayout, opts: UpOptions): Promise<UpResult> {
  const t0 = Date.now();
  for (const d of [layout.dir, layout.logDir, layout.pidDir]) fs.mkdirSync(d, { recursive: true });
  return withLock(layout, async () => {
    const tools = await ensureClusterTools(opts.log);
    const pgBin = await ensurePostgresInstalled(layout.home, opts.log);
    const started: Component[] = [];
    if (await upPostgres(layout, tools, pgBin, opts)) started.push('postgres');
    started.push(...(await upServices(layout, tools, pgBin, opts)));
    if (opts.ui !== false) started.push(...(await upUi(layout, tools)));
    return {
      address: frontendAddress(layout),
      namespace: layout.namespace,
      uiUrl: opts.ui !== false ? uiUrl(layout) : undefined,
      started,
      ms: Date.now() - t0,
    };
  });
}

export interface ComponentStatus {
  component: Component;
  pid?: number;
  running: boolean;
  port: number;
  log: string;
}

export function clusterStatus(layout: ClusterLayout): ComponentStatus[] {
  return COMPONENTS.map((c) => {
    const pid = componentPid(layout, c);
    const port =
      c === 'postgres'
        ? layout.ports.postgres
        : c === 'ui'
          ? layout.ports.ui
          : c === 'codec'
            ? layout.ports.codec
            : layout.ports.services[c].grpc;
    const log = c === 'postgres' ? pgOf(layout).log : path.join(layout.logDir, `${c}.log`);
    return { component: c, pid, running: pid !== undefined, port, log };
  });
}

/**
 * Stops the named components (all by default), front to back: the UI, the codec server, the Temporal
 * services, PostgreSQL last (fast shutdown). `purge` (all components only) also deletes the data.
 */
export async function clusterDown(
  layout: ClusterLayout,
  components: Component[] = [...COMPONENTS],
  { purge = false } = {},
): Promise<{ stopped: Component[]; stuck: Component[] }> {
  const order: Component[] = ['ui', 'codec', 'worker', 'frontend', 'matching', 'history', 'postgres'];
  const stopped: Component[] = [];
  const stuck: Component[] = [];
  if (purge && components.length !== COMPONENTS.length)
    throw new UserError('--purge removes the whole cluster: name no components');
  if (!fs.existsSync(layout.dir) && !fs.existsSync(layout.pgDir)) return { stopped, stuck };
  fs.mkdirSync(layout.dir, { recursive: true });
  await withLock(layout, async () => {
    for (const c of order.filter((x) => components.includes(x))) {
      const pid = componentPid(layout, c);
      if (pid === undefined) continue;
      stopped.push(c);
      if (c === 'postgres') await stopPostgres(pgOf(layout));
      // Temporal services drain (shards handed over, pollers answered): up to 20 s.
      else if (!(await stopDaemon(processOf(layout, {}, c).daemon, pid, 20_000))) stuck.push(c);
    }
  });
  if (purge) {
    fs.rmSync(layout.pgDir, { recursive: true, force: true });
    fs.rmSync(layout.dir, { recursive: true, force: true });
  }
  return { stopped, stuck };
}
