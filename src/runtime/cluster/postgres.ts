import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../../core/errors';
import { isDaemonPid } from '../../adapters/daemon';
import { onPath } from '../../adapters/temporal-cli';
import { markedDaemon, pollUntil } from './processes';

/**
 * Berth's own PostgreSQL cluster: Debian's packaged server, a data directory under
 * `$BERTH_HOME/pg` owned by the `postgres` user (PostgreSQL refuses to run as root), listening on
 * loopback and a socket directory of its own. Started with `pg_ctl`, stopped by the postmaster's
 * PID from `postmaster.pid` (checked against its command line), never by name.
 */

export const PG_USER = 'postgres';

export interface PgLayout {
  dir: string;
  data: string;
  socketDir: string;
  log: string;
  port: number;
}

export function pgLayout(dir: string, port: number): PgLayout {
  return {
    dir,
    data: path.join(dir, 'data'),
    socketDir: path.join(dir, 'run'),
    log: path.join(dir, 'postgres.log'),
    port,
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (bounded in time), feeding `input` on stdin; never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  { input, timeoutMs = 120_000, env }: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command may exit without reading its input (an error): that is its exit code's business.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

async function mustRun(what: string, command: string, args: string[], input?: string): Promise<string> {
  const r = await run(command, args, { input });
  if (r.code !== 0)
    throw new UserError(
      `${what} failed (${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`,
    );
  return r.stdout;
}

/** As the postgres user (runuser keeps root's environment out of PostgreSQL's). */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return ['runuser', ['-u', PG_USER, '--', command, ...args]];
}

/** The newest packaged server (`/usr/lib/postgresql/<major>/bin`), 12 or later. */
export function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  const majors = (fs.existsSync(root) ? fs.readdirSync(root) : [])
    .map(Number)
    .filter(
      (v) => Number.isInteger(v) && v >= 12 && fs.existsSync(path.join(root, String(v), 'bin', 'pg_ctl')),
    )
    .sort((a, b) => b - a);
  return majors.length ? path.join(root, String(majors[0]), 'bin') : undefined;
}

/** Installs Debian packages (root only), running apt-get update once per BERTH_HOME like setup.sh. */
async function aptInstall(packages: string[], home: string, log: (l: string) => void): Promise<void> {
  if (process.getuid?.() !== 0 || !onPath('apt-get'))
    throw new UserError(
      `need root on Debian/Ubuntu to install ${packages.join(', ')} (or install them yourself)`,
    );
  const marker = path.join(home, '.apt-updated');
  if (!fs.existsSync(marker)) {
    log('apt-get update');
    await mustRun('apt-get update', 'apt-get', ['update', '-qq']);
    fs.writeFileSync(marker, '');
  }
  log(`installing ${packages.join(' ')} (Debian packages)`);
  const r = await run('apt-get', ['install', '-y', '-qq', ...packages], {
    timeoutMs: 15 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.code !== 0)
    throw new UserError(`apt-get install ${packages.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
}

/** Debian's PostgreSQL server (it brings the `postgres` user), installed when missing. */
export async function ensurePostgresInstalled(home: string, log: (l: string) => void): Promise<string> {
  if (!pgBinDir()) await aptInstall(['postgresql'], home, log);
  const bin = pgBinDir();
  if (!bin)
    throw new UserError(
      'PostgreSQL >= 12 is not installed under /usr/lib/postgresql after apt-get install postgresql',
    );
  if ((await run('id', ['-u', PG_USER])).code !== 0)
    throw new UserError(`no '${PG_USER}' user: Debian's postgresql package creates it; reinstall it`);
  return bin;
}

async function postgresCanEnter(dir: string): Promise<boolean> {
  return (await run(...asPostgres('test', ['-x', dir]))).code === 0;
}

/**
 * PostgreSQL runs as `postgres`, which must be able to pass through every directory above its data
 * (a home is usually 0700). Each one that stops it gets a search-only ACL entry for that user alone
 * (`setfacl -m u:postgres:x`, from Debian's `acl`); without ACL support, search permission for
 * others (`chmod o+x`: no listing, no reading). Says what it changed.
 */
async function grantPassage(dir: string, home: string, log: (l: string) => void): Promise<void> {
  const ancestors: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    ancestors.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of ancestors) {
    if (await postgresCanEnter(d)) continue;
    if (!onPath('setfacl')) await aptInstall(['acl'], home, log);
    if ((await run('setfacl', ['-m', `u:${PG_USER}:x`, d])).code === 0 && (await postgresCanEnter(d))) {
      log(`granted the ${PG_USER} user passage (search only) through ${d} (ACL)`);
      continue;
    }
    fs.chmodSync(d, fs.statSync(d).mode | 0o001);
    log(`granted others passage (search only, chmod o+x) through ${d}: no ACL support there`);
  }
}

/** `initdb` once: password auth on loopback TCP, peer auth on the socket, settings for Temporal. */
async function initCluster(bin: string, pg: PgLayout): Promise<void> {
  await mustRun(
    'initdb',
    ...asPostgres(path.join(bin, 'initdb'), [
      '-D',
      pg.data,
      '-U',
      PG_USER,
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
    ]),
  );
  fs.appendFileSync(
    path.join(pg.data, 'postgresql.conf'),
    [
      '',
      "# Berth's Temporal cluster (written once by 'berth cluster up')",
      `port = ${pg.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${pg.socketDir}'`,
      // 4 Temporal processes × 30 connections, psql and the schema tool.
      'max_connections = 200',
      '',
    ].join('\n'),
  );
}

/** Creates (once) and prepares the directory tree, owned by the postgres user. */
export async function preparePostgres(
  bin: string,
  pg: PgLayout,
  home: string,
  log: (l: string) => void,
): Promise<void> {
  fs.mkdirSync(pg.dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(pg.socketDir, { recursive: true, mode: 0o700 });
  await mustRun('chown', 'chown', [`${PG_USER}:`, pg.dir, pg.socketDir]);
  await grantPassage(pg.dir, home, log);
  if (!fs.existsSync(path.join(pg.data, 'PG_VERSION'))) {
    log(`initdb ${pg.data}`);
    await initCluster(bin, pg);
  }
}

/** The postmaster: its command line names this data directory (`postgres -D <data>`). */
function postmaster(pg: PgLayout) {
  return markedDaemon('PostgreSQL', path.join(pg.data, 'postmaster.pid'), [pg.data]);
}

/** The postmaster's PID, from the first line of `postmaster.pid`, when that process still runs it. */
export function postgresPid(pg: PgLayout): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return isDaemonPid(postmaster(pg), pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startPostgres(bin: string, pg: PgLayout): Promise<number> {
  const running = postgresPid(pg);
  if (running) return running;
  // pg_ctl -w waits (bounded by -t) until the server accepts connections; it starts it in a session of its own.
  await mustRun(
    'pg_ctl start',
    ...asPostgres(path.join(bin, 'pg_ctl'), ['-D', pg.data, '-l', pg.log, '-w', '-t', '90', 'start']),
  );
  const pid = postgresPid(pg);
  if (!pid)
    throw new UserError(
      `PostgreSQL started but ${pg.data}/postmaster.pid names no live postmaster; see ${pg.log}`,
    );
  return pid;
}

/**
 * Fast shutdown (SIGINT: open transactions roll back, then a checkpoint), bounded; then immediate
 * (SIGQUIT), then SIGKILL. All by the postmaster's PID.
 */
export async function stopPostgres(pg: PgLayout): Promise<number | undefined> {
  const pid = postgresPid(pg);
  if (!pid) return undefined;
  for (const [signal, waitMs] of [
    ['SIGINT', 60_000],
    ['SIGQUIT', 10_000],
    ['SIGKILL', 10_000],
  ] as const) {
    if (!isDaemonPid(postmaster(pg), pid)) break;
    process.kill(pid, signal);
    await pollUntil(() => !isDaemonPid(postmaster(pg), pid), waitMs, 100);
  }
  return pid;
}

/** Runs SQL as the postgres superuser over the socket (peer auth); statements come on stdin. */
export function psql(bin: string, pg: PgLayout, sql: string, database = 'postgres'): Promise<string> {
  return mustRun(
    'psql',
    ...asPostgres(path.join(bin, 'psql'), [
      '-h',
      pg.socketDir,
      '-p',
      String(pg.port),
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-X',
      '-q',
      '-tA',
    ]),
    sql,
  );
}

/** The `temporal` role (it creates its databases with the schema tool), its password kept in step. */
export async function ensureTemporalRole(bin: string, pg: PgLayout, password: string): Promise<void> {
  const literal = `'${password.replace(/'/g, "''")}'`;
  await psql(
    bin,
    pg,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN
         CREATE ROLE temporal LOGIN CREATEDB PASSWORD ${literal};
       ELSE
         ALTER ROLE temporal LOGIN CREATEDB PASSWORD ${literal};
       END IF;
     END $$;`,
  );
}

/** Bytes on disk of each database (what `bench:cluster` reports). */
export async function databaseSizes(
  bin: string,
  pg: PgLayout,
  names: string[],
): Promise<Record<string, number>> {
  const out = await psql(bin, pg, names.map((n) => `SELECT '${n}', pg_database_size('${n}');`).join('\n'));
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, size] = line.split('|');
        return [name, Number(size)];
      }),
  );
}
