/**
 * The chaos run's faults: a fixed list, shuffled by a seed (so a failing run can be run again
 * exactly). Every block of rounds is one permutation of the whole list, which names the swarm's
 * leader and the registry's host as targets of every kind of host fault.
 */

import { prng } from '../src/core/prng';

export { prng };

export type FaultKind =
  /** kill -9 of the host's dockerd alone (containerd and the containers run on); started again later. */
  | 'kill-dockerd'
  /** kill -9 of the whole engine (dockerd, containerd, shims, containers); started again later. */
  | 'stop-engine'
  /** iptables drops everything on the host's LAN leg (a partition; its containers keep running); restored later. */
  | 'cut'
  /** The host's engine is stopped, and the Berth worker is killed (kill -9) in the middle of the heal. */
  | 'worker-restart'
  /** The host's engine is stopped, and the Temporal dev server is killed and started in the middle of the heal. */
  | 'server-restart';

/** Which host a fault hits, decided when the round starts (the leader moves). */
export type FaultTarget = 'leader' | 'registry' | 'other';

export interface PlannedFault {
  kind: FaultKind;
  target: FaultTarget;
}

export const FAULTS: readonly PlannedFault[] = [
  { kind: 'kill-dockerd', target: 'leader' },
  { kind: 'kill-dockerd', target: 'registry' },
  { kind: 'stop-engine', target: 'leader' },
  { kind: 'stop-engine', target: 'registry' },
  { kind: 'cut', target: 'leader' },
  { kind: 'cut', target: 'registry' },
  { kind: 'kill-dockerd', target: 'other' },
  { kind: 'stop-engine', target: 'other' },
  { kind: 'cut', target: 'other' },
  { kind: 'worker-restart', target: 'leader' },
  { kind: 'worker-restart', target: 'other' },
  { kind: 'server-restart', target: 'registry' },
];

/** `rounds` faults: consecutive shuffles of `FAULTS` (Fisher–Yates) drawn from `random`. */
export function planFaults(random: () => number, rounds: number): PlannedFault[] {
  const out: PlannedFault[] = [];
  while (out.length < rounds) {
    const block = [...FAULTS];
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [block[i], block[j]] = [block[j], block[i]];
    }
    out.push(...block.slice(0, rounds - out.length));
  }
  return out;
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}
