/**
 * Berth's own registry on one machine (`BERTH_REGISTRY=local`): Debian's `docker-registry`
 * (Distribution 2.8) serving 127.0.0.1 from `$BERTH_HOME/registry/`, started detached, found and
 * stopped by its PID. (A pool's registry runs on one of its hosts: `provision.ts`.)
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { UserError } from '../core/errors';
import { findDaemon, isDaemonPid, stopDaemon, withStartLock, type Daemon } from './daemon';
import { berthHome } from './paths';
export const DEFAULT_REGISTRY_PORT = 5000;
export const DEFAULT_REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** Berth home holding `registry/` (config, storage, pid, log). Default `berthHome()`. */
  home?: string;
  /** Loopback port. Default: the running registry's, else 5000. */
  port?: number;
  /** Default `BERTH_REGISTRY_BINARY` or /usr/bin/docker-registry. */
  binary?: string;
  /** How long to wait for `/v2/` to answer after starting. Default 10 s. */
  startTimeoutMs?: number;
}

export interface RegistryServer {
  /** `127.0.0.1:<port>`: what image references start with. */
  address: string;
  port: number;
  pid: number;
  /** False when a live registry was reused. */
  started: boolean;
}

export interface RegistryPaths {
  dir: string;
  config: string;
  storage: string;
  pidFile: string;
  logFile: string;
  lockFile: string;
}

export function registryPaths(home = berthHome()): RegistryPaths {
  const dir = path.join(home, 'registry');
  return {
    dir,
    config: path.join(dir, 'config.yml'),
    storage: path.join(dir, 'storage'),
    pidFile: path.join(dir, 'registry.pid'),
    logFile: path.join(dir, 'registry.log'),
    lockFile: path.join(dir, 'start.lock'),
  };
}

/** Distribution 2.8's configuration: loopback only, filesystem storage under the Berth home. */
export function registryConfig(port: number, storage: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    '',
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** This home's registry, as a daemon Berth owns: `docker-registry serve <this home's config>`. */
function registryDaemon(home: string): Daemon {
  const p = registryPaths(home);
  return {
    what: 'the registry',
    pidFile: p.pidFile,
    lockFile: p.lockFile,
    isOurs: (argv) => argv.includes('serve') && argv.includes(p.config),
  };
}

/** True when `pid` is a live `docker-registry serve <this home's config>`. */
export function isOurRegistry(pid: number, home = berthHome()): boolean {
  return isDaemonPid(registryDaemon(home), pid);
}

/** The port a registry's config file names. */
function configuredPort(config: string): number | undefined {
  try {
    const m = /addr:\s*127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(config, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `http://127.0.0.1:<port>/v2/` answers as a registry (200, or 401 when it wants credentials). */
export function registryAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/v2/', agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        const api = String(res.headers['docker-distribution-api-version'] ?? '');
        resolve((res.statusCode === 200 || res.statusCode === 401) && api.startsWith('registry/2'));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

function logTail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Makes sure this Berth home's registry runs on 127.0.0.1:<port> and answers `/v2/`. Idempotent: a
 * live registry from the pid file (checked in /proc to serve this home's config) is reused when it
 * answers on the asked port; otherwise it is stopped and a new one started, detached (it outlives the
 * worker), its PID recorded in `$BERTH_HOME/registry/registry.pid`.
 */
export async function ensureRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const home = options.home ?? berthHome();
  const p = registryPaths(home);
  const binary = options.binary ?? process.env.BERTH_REGISTRY_BINARY ?? DEFAULT_REGISTRY_BINARY;
  fs.mkdirSync(p.storage, { recursive: true });
  return withStartLock(registryDaemon(home), async () => {
    const running = findDaemon(registryDaemon(home));
    const live = running !== undefined;
    const livePort = live ? configuredPort(p.config) : undefined;
    const port = options.port ?? livePort ?? DEFAULT_REGISTRY_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UserError(`invalid registry port ${port}`);
    if (live && livePort === port && (await registryAnswers(port, 2000)))
      return { address: `127.0.0.1:${port}`, port, pid: running, started: false };
    if (live) await stopDaemon(registryDaemon(home), running); // another port, or hung
    if (!fs.existsSync(binary))
      throw new UserError(
        `${binary} is missing: apt-get install docker-registry (or set BERTH_REGISTRY_BINARY)`,
      );
    fs.writeFileSync(p.config, registryConfig(port, p.storage));
    fs.rmSync(p.pidFile, { force: true });
    // REGISTRY_* variables would override the config file (e.g. REGISTRY_HTTP_ADDR): leave them out.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    const log = fs.openSync(p.logFile, 'a');
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(binary, ['serve', p.config], { detached: true, stdio: ['ignore', log, log], env });
    } finally {
      fs.closeSync(log);
    }
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let exited = false;
    child.once('exit', () => (exited = true));
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${binary}: ${(await spawnError).message}`);
    fs.writeFileSync(p.pidFile, `${pid}\n`);
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline && !exited) {
      if (await registryAnswers(port, 500)) return { address: `127.0.0.1:${port}`, port, pid, started: true };
      await sleep(50);
    }
    const why = logTail(p.logFile);
    await stopDaemon(registryDaemon(home), pid).catch(() => undefined);
    fs.rmSync(p.pidFile, { force: true });
    if (/address already in use/i.test(why))
      throw new UserError(`cannot start the registry: 127.0.0.1:${port} is taken by another process`);
    throw new Error(
      `the registry did not answer on 127.0.0.1:${port}${exited ? ' (it exited)' : ''}: ${why || `see ${p.logFile}`}`,
    );
  });
}

/** Stops this home's registry by its recorded PID (and only if /proc shows it is ours). */
export async function stopRegistry(
  options: { home?: string } = {},
): Promise<{ stopped: boolean; pid?: number }> {
  const home = options.home ?? berthHome();
  const p = registryPaths(home);
  const pid = findDaemon(registryDaemon(home));
  if (pid === undefined) {
    fs.rmSync(p.pidFile, { force: true });
    return { stopped: false };
  }
  if (!(await stopDaemon(registryDaemon(home), pid))) throw new Error(`registry ${pid} did not stop`);
  fs.rmSync(p.pidFile, { force: true });
  return { stopped: true, pid };
}

/** The running registry of this home, if any. */
export function registryStatus(home = berthHome()): RegistryServer | undefined {
  const p = registryPaths(home);
  const pid = findDaemon(registryDaemon(home));
  const port = configuredPort(p.config);
  if (pid === undefined || port === undefined) return undefined;
  return { address: `127.0.0.1:${port}`, port, pid, started: false };
}
