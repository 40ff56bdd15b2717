import { spawn } from 'child_process';
import * as fs from 'fs';
import { isDaemonPid, readPidFile, type Daemon } from '../../adapters/daemon';

/**
 * The cluster's background processes as daemons of `adapters/daemon.ts`: a pid file names each,
 * and its command line must carry every marker (its config root, its service), so a reused PID is
 * never signalled and nothing is looked up or killed by name. Starting them is `spawnDaemon`; the
 * cluster serialises its starts with its own lock (`index.ts`), held for as long as an `up` lasts.
 */

/** A daemon known by its pid file and the arguments that identify it. */
export function markedDaemon(what: string, pidFile: string, markers: string[]): Daemon {
  return {
    what,
    pidFile,
    lockFile: `${pidFile}.lock`,
    isOurs: (argv) => markers.every((m) => argv.some((a) => a.includes(m))),
  };
}

/** The daemon's PID when the process its pid file names is still it. */
export function runningPid(d: Daemon): number | undefined {
  const pid = readPidFile(d.pidFile);
  return isDaemonPid(d, pid) ? pid : undefined;
}

export interface DaemonSpec {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  cwd?: string;
}

/** Starts a process in its own session (it outlives the CLI that started it) and records its PID. */
export function spawnDaemon(spec: DaemonSpec): number {
  const log = fs.openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: spec.cwd,
      env: process.env,
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    fs.writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    fs.closeSync(log);
  }
}

/** Polls `check` every `everyMs` until it holds or `timeoutMs` passes. */
export async function pollUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
