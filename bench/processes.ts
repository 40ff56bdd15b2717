/**
 * CPU time of process groups, from /proc (read only: nothing here signals a process). A bench
 * samples it before and after a phase; the difference is what each part of the system spent.
 */
import * as fs from 'fs';

export interface Cpu {
  workers: number;
  server: number;
  docker: number;
}

interface Stat {
  ppid: number;
  /** utime + stime + cutime + cstime (reaped children, e.g. runc under a shim), in clock ticks (100/s). */
  ticks: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** A process and all its descendants. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = stat(pid);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length && out.length < 100_000) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The local Docker engine: dockerd with its children (containerd), and the container shims of its
 * `moby` containerd namespace, which re-parent themselves to init.
 */
export function dockerPids(): number[] {
  let dockerd: number | undefined;
  try {
    dockerd = Number(fs.readFileSync('/var/run/docker.pid', 'utf8').trim());
  } catch {
    return [];
  }
  const shims = allPids().filter((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0].endsWith('containerd-shim-runc-v2') && argv.includes('moby');
    } catch {
      return false;
    }
  });
  return [...treePids(dockerd), ...shims];
}

export type CpuSnapshot = Record<keyof Cpu, Map<number, number>>;

/** Each group's processes and their CPU ticks now. */
export function cpuSnapshot(groups: Record<keyof Cpu, number[]>): CpuSnapshot {
  const of = (pids: number[]) => new Map(pids.map((pid) => [pid, stat(pid)?.ticks ?? 0]));
  return { workers: of(groups.workers), server: of(groups.server), docker: of(groups.docker) };
}

/**
 * CPU seconds each group spent between two snapshots: per process still there, its ticks now less
 * its ticks then (0 for a new one). A process that exited in between is not counted (a removed
 * container's shim): Docker's share is a lower bound.
 */
export function cpuSecondsBetween(before: CpuSnapshot, after: CpuSnapshot): Cpu {
  const spent = (k: keyof Cpu) => {
    let ticks = 0;
    for (const [pid, t] of after[k]) ticks += t - (before[k].get(pid) ?? 0);
    return +(ticks / 100).toFixed(1);
  };
  return { workers: spent('workers'), server: spent('server'), docker: spent('docker') };
}
