import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SEARCH_ATTRIBUTES } from '../core/names';
import { MAX_IN_FLIGHT_UPDATES } from './cluster/config';
import { UserError } from '../core/errors';
import { findTemporalCli } from '../adapters/temporal-cli';
import { ensureBerthHome } from '../adapters/paths';
import { isDaemonPid, readPidFile, type Daemon } from '../adapters/daemon';
import { embeddedUiPort, isTemporalReachable, type TemporalTarget } from '../adapters/temporal';

export interface DevServer {
  process: ChildProcess;
  uiUrl: string;
  stop(): Promise<void>;
}

export function devServerArgs(
  dbFile: string,
  port: number,
  uiPort: number,
  codecEndpoint?: string,
): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    dbFile,
    '--log-level',
    'warn',
    // Timers fire on time: by default they may run up to 1 s late, too coarse for policies that
    // evaluate every few hundred milliseconds (and for back-off delays of 100 ms).
    '--dynamic-config-value',
    'history.timerProcessorMaxTimeShift="10ms"',
    // As Berth's cluster: a pool's inventory takes every operation's reservations as updates.
    '--dynamic-config-value',
    `history.maxInFlightUpdates=${MAX_IN_FLIGHT_UPDATES}`,
    ...Object.values(SEARCH_ATTRIBUTES).flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    // The Web UI asks Berth's codec server to decrypt payloads (in the browser of whoever has the key).
    ...(codecEndpoint ? ['--ui-codec-endpoint', codecEndpoint] : []),
  ];
}

/**
 * Starts `temporal server start-dev` with its history in ~/.berth/temporal.db (it survives restarts)
 * and waits, bounded, until its frontend answers.
 */
export async function startDevServer(
  target: TemporalTarget,
  logFile: string,
  options: { codecEndpoint?: string } = {},
): Promise<DevServer> {
  const home = ensureBerthHome();
  const cli = findTemporalCli();
  const port = Number(target.address.split(':').pop());
  const log = fs.openSync(logFile, 'a');
  const args = devServerArgs(path.join(home, 'temporal.db'), port, embeddedUiPort(), options.codecEndpoint);
  const child = spawn(cli, args, { stdio: ['ignore', log, log] });
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && exited === null) {
    if (await isTemporalReachable(target, 1000)) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  if (exited !== null || !(await isTemporalReachable(target, 1000))) {
    child.kill('SIGTERM');
    throw new UserError(
      `the Temporal dev server did not start (exit ${exited ?? 'timeout'}); see ${logFile}`,
    );
  }
  return {
    process: child,
    uiUrl: `http://localhost:${embeddedUiPort()}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** The dev server `berth server` runs for a Berth home: its command line names that home's database. */
export function devServerDaemon(home: string): Daemon {
  const db = path.join(home, 'temporal.db');
  return {
    what: 'the Temporal dev server',
    pidFile: path.join(home, 'temporal.pid'),
    lockFile: path.join(home, 'temporal.lock'),
    isOurs: (argv) => argv.includes('start-dev') && argv.includes(db),
  };
}

/** A home's `berth server` process (`node .../bin/berth server`). */
export function berthServerDaemon(home: string): Daemon {
  return {
    what: 'the Berth server',
    pidFile: path.join(home, 'server.pid'),
    lockFile: path.join(home, 'server.lock'),
    isOurs: (argv) => argv.includes('server') && argv.some((a) => /(^|\/)bin\/berth$/.test(a)),
  };
}

/**
 * The PID of a home's dev server whose `berth server` has died: it still answers, but runs with no
 * worker and no codec server, so every operation would wait forever.
 */
export function leftoverDevServer(home: string): number | undefined {
  const dev = readPidFile(devServerDaemon(home).pidFile);
  if (!isDaemonPid(devServerDaemon(home), dev)) return undefined;
  return isDaemonPid(berthServerDaemon(home), readPidFile(berthServerDaemon(home).pidFile)) ? undefined : dev;
}
