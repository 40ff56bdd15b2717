/**
 * What the end-to-end benches (deploy, heal, autoscale) share: a temporary BERTH_HOME with the
 * bench's own ports and DNS network (so it never meets a user's Berth), the `berth` CLI run against
 * it, and starting, waiting for and stopping its embedded server.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { findTemporalCli } from '../src/adapters/temporal-cli';

/** The checkout: two levels above `dist/bench/` when compiled, one above `bench/` when run from source (a test). */
export const ROOT = path.resolve(
  __dirname,
  '..',
  path.basename(path.dirname(__dirname)) === 'dist' ? '..' : '.',
);
export const BERTH = path.join(ROOT, 'bin', 'berth');

export interface BenchPorts {
  temporal: number;
  ui: number;
  codec: number;
  /** Unset: BERTH_SENSOR_PORT is inherited from this process's environment. */
  sensor?: number;
}

export interface BenchDns {
  network: string;
  subnet: string;
}

/** A fresh `$TMPDIR/<stem>-XXXXXX` home and the environment that points Berth at it. */
export function benchHome(
  stem: string,
  ports: BenchPorts,
  dns: BenchDns,
): { home: string; env: NodeJS.ProcessEnv } {
  // Found before BERTH_HOME moves: the CLI is cached in the user's ~/.berth/bin, not the bench's home.
  const temporalCli = findTemporalCli();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `${stem}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BERTH_TEMPORAL_CLI: temporalCli,
    BERTH_HOME: home,
    BERTH_PORT: String(ports.temporal),
    BERTH_UI_PORT: String(ports.ui),
    BERTH_CODEC_PORT: String(ports.codec),
    ...(ports.sensor !== undefined ? { BERTH_SENSOR_PORT: String(ports.sensor) } : {}),
    BERTH_DNS_NETWORK: dns.network,
    BERTH_DNS_SUBNET: dns.subnet,
  };
  delete env.TEMPORAL_ADDRESS;
  return { home, env };
}

/** Makes this process's own Temporal client (`temporalTarget()`) talk to the bench's server. */
export function targetBenchServer(env: NodeJS.ProcessEnv): void {
  Object.assign(process.env, { BERTH_HOME: env.BERTH_HOME, BERTH_PORT: env.BERTH_PORT });
  delete process.env.TEMPORAL_ADDRESS;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The spread of samples: the fastest and the slowest, rounded to whole units. */
export function spread(xs: number[]): { min: number; max: number } {
  return { min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) };
}

/** `berth <args>` in `home` with `env`: its stdout, or an error with its stderr (or stdout). */
export function berthCli(
  env: NodeJS.ProcessEnv,
  home: string,
  timeoutMs = 300_000,
): (args: string[]) => string {
  return (args) => {
    const r = spawnSync(process.execPath, [BERTH, ...args], {
      env,
      encoding: 'utf8',
      cwd: home,
      timeout: timeoutMs,
    });
    if (r.status !== 0)
      throw new Error(`berth ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
}

/** Does something accept a TCP connection on `host:port` within `timeoutMs`? */
export function tcpAnswers(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(timeoutMs, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** `berth server` for this home, in the background. */
export function startServer(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BERTH, 'server'], { env, stdio: 'ignore' });
}

/** Waits (bounded: 240 tries, 250 ms apart) for `$home/server.pid` and the Temporal port. */
export async function waitForServer(home: string, temporalPort: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (fs.existsSync(path.join(home, 'server.pid')) && (await tcpAnswers(temporalPort))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const log = (name: string) => {
    try {
      return fs.readFileSync(path.join(home, name), 'utf8').trim().split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  };
  throw new Error(
    `embedded server did not start; the last lines of its logs:\n${log('temporal.log')}\n${log('server.log')}`,
  );
}

/** Destroys the app, stops the server (and Berth's DNS server of this home), removes the home. */
export async function stopServer(
  server: ChildProcess,
  env: NodeJS.ProcessEnv,
  home: string,
  app: string,
): Promise<void> {
  spawnSync(process.execPath, [BERTH, 'destroy', app], { env });
  spawnSync(process.execPath, [BERTH, 'server', 'stop'], { env });
  if (server.exitCode === null) await new Promise((r) => server.once('exit', r));
  fs.rmSync(home, { recursive: true, force: true });
}

/**
 * Runs `cleanup` once when the bench is interrupted (Ctrl-C, or the time bound of `npm run bench`,
 * which sends SIGINT), then exits; a second signal ends it at once. Returns what unregisters it, for
 * a cleanup that is no longer wanted once the bench has done it itself.
 */
export function cleanupOnInterrupt(cleanup: () => Promise<unknown>): () => void {
  const handler = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: cleaning up\n`);
    void cleanup()
      .catch(() => undefined)
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
