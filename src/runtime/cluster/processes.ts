import { spawn } from 'child_process';
import * as fs from 'fs';
import { readPidFile } from '../../adapters/pid-file';

/**
 * Background processes of the cluster, known by PID only: a pid file names the process and its
 * command line must still carry a marker (its config path), so a reused PID is never signalled and
 * nothing is ever looked up or killed by name.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The argv of a live (non-zombie) process, or undefined. */
export function procArgv(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** What identifies a process of ours: every marker is (part of) one of its arguments. */
export type Markers = string | string[];

/** A process is ours when it is alive and its arguments carry every marker. */
export function isOurs(pid: number | undefined, markers: Markers): pid is number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return false;
  const argv = procArgv(pid);
  if (!argv) return false;
  return (Array.isArray(markers) ? markers : [markers]).every((m) => argv.some((a) => a.includes(m)));
}

export function runningPid(pidFile: string, marker: Markers): number | undefined {
  const pid = readPidFile(pidFile);
  return isOurs(pid, marker) ? pid : undefined;
}

export interface DaemonSpec {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a process in its own session (it outlives the CLI that started it) and records its PID. */
export function spawnDaemon(spec: DaemonSpec): number {
  const log = fs.openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: spec.cwd,
      env: spec.env ?? process.env,
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    fs.writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    fs.closeSync(log);
  }
}

/**
 * Signals the process (if it is still ours) and waits, bounded, for it to go; then SIGKILL.
 * Returns whether it had to be killed.
 */
export async function stopPid(
  pid: number,
  marker: Markers,
  { signal = 'SIGTERM' as NodeJS.Signals, graceMs = 20_000 } = {},
): Promise<boolean> {
  if (!isOurs(pid, marker)) return false;
  process.kill(pid, signal);
  for (let waited = 0; waited < graceMs && isOurs(pid, marker); waited += 100) await sleep(100);
  if (!isOurs(pid, marker)) return false;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isOurs(pid, marker); i++) await sleep(100);
  return true;
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
    await sleep(everyMs);
  }
}
