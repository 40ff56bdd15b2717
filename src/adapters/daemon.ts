/**
 * Local daemons Berth starts and owns (its dnsmasq, its registry): found by pid file, confirmed in
 * /proc by their command line (never by process name, which another user's daemon shares), started
 * one at a time under a lock file, and stopped with SIGTERM, then SIGKILL, each verified.
 */
import * as fs from 'fs';

export interface Daemon {
  /** What it is, for messages (`dnsmasq`, `the registry`). */
  what: string;
  pidFile: string;
  /** Held while one caller starts it (several activities may ensure it at once). */
  lockFile: string;
  /** Whether a live process's argv is this daemon (of this Berth home). */
  isOurs(argv: string[]): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The PID a pid file names, or undefined (missing, garbage, or 0/1: never a process of ours). */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A live process's argv; undefined when it is gone or a zombie. */
export function procArgv(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain ') '.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** True when `pid` is a live process that is this daemon. */
export function isDaemonPid(d: Daemon, pid: number | undefined): pid is number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return false;
  const argv = procArgv(pid);
  return !!argv && argv.length > 0 && d.isOurs(argv);
}

/** The running daemon: the one in the pid file, else (pid file lost, or a concurrent start won) a scan of /proc. */
export function findDaemon(d: Daemon): number | undefined {
  const recorded = readPidFile(d.pidFile);
  if (isDaemonPid(d, recorded)) return recorded;
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  const pid = entries.map(Number).find((n) => isDaemonPid(d, n));
  if (pid !== undefined) fs.writeFileSync(d.pidFile, `${pid}\n`);
  return pid;
}

/** A stale lock (its holder gone) is broken; so is one older than this, whatever its holder. */
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 50;
const LOCK_ATTEMPTS = 600;

/**
 * Runs `fn` holding the daemon's start lock: an exclusive file naming its holder's PID. Waits
 * (bounded) while a live holder has it.
 */
export async function withStartLock<T>(d: Daemon, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(d.lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (attempt >= LOCK_ATTEMPTS)
        throw new Error(`${d.lockFile} is held by another start of ${d.what} for too long`);
      const holder = readPidFile(d.lockFile);
      let age = 0;
      try {
        age = Date.now() - fs.statSync(d.lockFile).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      const alive = holder !== undefined && (holder === process.pid || procArgv(holder) !== undefined);
      if (!alive || age > LOCK_STALE_MS) fs.rmSync(d.lockFile, { force: true });
      else await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(d.lockFile, { force: true });
  }
}

/**
 * Stops `pid` if it is this daemon: SIGTERM, up to `graceMs` for it to go, then SIGKILL. Returns
 * whether it is gone.
 */
export async function stopDaemon(d: Daemon, pid: number, graceMs = 3_000): Promise<boolean> {
  if (!isDaemonPid(d, pid)) return true;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < graceMs && isDaemonPid(d, pid); waited += 20) await sleep(20);
  if (!isDaemonPid(d, pid)) return true;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && isDaemonPid(d, pid); i++) await sleep(20);
  return !isDaemonPid(d, pid);
}
