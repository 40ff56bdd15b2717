/**
 * How much CPU and memory a host's containers use, as its engine reports it: one-shot stats of each
 * running container (`one-shot=true`: one read of its cgroup, without the second frame a plain
 * `stats({stream: false})` waits a second for), summed. CPU is a rate, so each container's
 * cumulative CPU time is compared with the previous reading of the same container, which the meter
 * keeps (one meter per worker; a host read for the first time is read twice, 300 ms apart). The
 * engine's numbers rather than the kernel's: netns hosts share the machine's /proc, and on any host
 * they are what Berth places.
 */
import type Docker from 'dockerode';
import { memoryUsage } from './stats';

interface OneShotFrame {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

interface Sample {
  /** Cumulative CPU time, ns. */
  usageNs: number;
  /** Engine time of the read, ms. */
  atMs: number;
}

export interface ContainersLoad {
  /** CPU time per second of wall time over the containers sampled twice, in cores. */
  cpuCores?: number;
  /** Their memory, without the inactive page cache. */
  memoryBytes: number;
  /** Containers read. */
  sampled: number;
}

/** Past this many containers on a host, the rest are not read (their share is left out). */
const MAX_CONTAINERS = 200;
const CONCURRENCY = 8;
const FIRST_GAP_MS = 300;

export class HostLoadMeter {
  /** Last sample of each container, by host. */
  private readonly last = new Map<string, Map<string, Sample>>();

  /** The running containers' load on a host; containers gone since the last reading are forgotten. */
  async read(
    hostId: string,
    docker: Docker,
    containerIds: string[],
    deadlineMs: number,
  ): Promise<ContainersLoad> {
    const ids = containerIds.slice(0, MAX_CONTAINERS);
    const before = this.last.get(hostId);
    let first = await readAll(docker, ids, deadlineMs);
    let previous = before;
    if (!before || before.size === 0) {
      // Nothing to compare with: a second read shortly after gives this round a rate too.
      if (Date.now() + FIRST_GAP_MS + 500 < deadlineMs && first.size > 0) {
        await new Promise((r) => setTimeout(r, FIRST_GAP_MS));
        previous = samplesOf(first);
        first = await readAll(docker, [...first.keys()], deadlineMs);
      }
    }
    let cores = 0;
    let rated = 0;
    let memory = 0;
    for (const [id, frame] of first) {
      memory += memoryUsage(frame.memory_stats);
      const now = sampleOf(frame);
      const then = previous?.get(id);
      if (!now || !then || now.atMs <= then.atMs || now.usageNs < then.usageNs) continue;
      cores += (now.usageNs - then.usageNs) / 1e6 / (now.atMs - then.atMs);
      rated++;
    }
    this.last.set(hostId, samplesOf(first));
    return {
      ...(rated > 0 || first.size === 0 ? { cpuCores: cores } : {}),
      memoryBytes: memory,
      sampled: first.size,
    };
  }

  /** Forgets a host (failed or removed): its next reading starts afresh. */
  forget(hostId: string): void {
    this.last.delete(hostId);
  }
}

function sampleOf(frame: OneShotFrame): Sample | undefined {
  const usageNs = frame.cpu_stats?.cpu_usage?.total_usage;
  const atMs = frame.read ? Date.parse(frame.read) : NaN;
  if (typeof usageNs !== 'number' || !Number.isFinite(atMs) || atMs <= 0) return undefined;
  return { usageNs, atMs };
}

function samplesOf(frames: Map<string, OneShotFrame>): Map<string, Sample> {
  const out = new Map<string, Sample>();
  for (const [id, f] of frames) {
    const s = sampleOf(f);
    if (s) out.set(id, s);
  }
  return out;
}

/** One-shot stats of each container, `CONCURRENCY` at a time, until the deadline; gone ones are skipped. */
async function readAll(
  docker: Docker,
  ids: string[],
  deadlineMs: number,
): Promise<Map<string, OneShotFrame>> {
  const out = new Map<string, OneShotFrame>();
  let next = 0;
  const lane = async () => {
    while (next < ids.length && Date.now() < deadlineMs) {
      const id = ids[next++];
      try {
        const frame = (await docker
          .getContainer(id)
          .stats({ stream: false, 'one-shot': true } as { stream: false })) as OneShotFrame;
        if (sampleOf(frame)) out.set(id, frame); // a stopped container reads as zeros
      } catch {
        // removed or stopped meanwhile
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, lane));
  // A call in flight can outlive the deadline by far: on a host cut off mid-read it waits until the
  // SSH connection is given up (~20 s), and held the whole sensing round (every host's reading) with
  // it. The reading ends at the deadline with what it has; later answers do not change it.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadlineMs - Date.now()))));
  await Promise.race([lanes, deadline]);
  clearTimeout(timer);
  return new Map(out);
}
