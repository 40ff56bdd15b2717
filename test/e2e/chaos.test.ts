import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import Docker from 'dockerode';
import { destroyAllNetnsHosts, netnsHostSocket } from '../../src/adapters/netns';
import { LABEL } from '../../src/core/names';
import { ROOT, stopProcess } from '../support/cli';
import { FIXTURE_KEY, HISTORIES_DIR, RECORDING } from '../support/histories';

/**
 * The chaos bench's short, fixed-seed run: 4 netns hosts in a swarm, 3 apps (one of 6 replicas), and
 * 3 rounds of seed 77: the engine of the swarm's leader (which holds the registry) killed, the
 * dockerd of the registry's new host killed, another host cut off with iptables and restored. After
 * each round every app must be whole and answering, with no instance twice, no name or address
 * lost and no orphan container (the bench's invariants, see bench/chaos.ts). Heal times are printed,
 * not asserted: the bench's 60 s bound is a benchmark figure, and this machine is shared. It runs its own
 * Temporal dev server and worker (the bench restarts them); everything it made is removed by the
 * bench, and again here by name and label if it did not get to it.
 */

const PREFIX = 'ce2e';
const LAN = '10.213.251';
const PORT = '17933';
const SEED = '77';

interface ChaosReport {
  seed: number;
  /** Every invariant kept in every round; heal times are reported, not asserted (no timed assertions). */
  invariantsKept: boolean;
  rounds: {
    round: number;
    fault: string;
    roles: string[];
    healMs?: number;
    problems: string[];
    slow?: string;
  }[];
  error?: string;
}

/** Berth's containers on the bench's hosts (by label), if the bench did not get to remove them. */
async function removeLeftovers(): Promise<void> {
  for (let index = 1; index <= 4; index++) {
    const docker = new Docker({ socketPath: netnsHostSocket(PREFIX, index), timeout: 10_000 });
    const listed = await docker
      .listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
      .catch(() => [] as Docker.ContainerInfo[]);
    for (const c of listed)
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
  }
}

describe('chaos: the pool survives losing any host (seed 77, 3 rounds)', () => {
  let bench: ChildProcess | undefined;

  afterAll(async () => {
    await stopProcess(bench); // SIGTERM: the bench removes what it made
    await removeLeftovers();
    await destroyAllNetnsHosts(PREFIX);
  }, 240_000);

  test(
    'the leader and the registry host die, another host is cut off: every round heals, nothing twice, nothing lost',
    async () => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      bench = spawn(
        process.execPath,
        [
          path.join(ROOT, 'dist', 'bench', 'chaos.js'),
          ...['--seed', SEED, '--rounds', '3', '--minutes', '12'],
          ...['--prefix', PREFIX, '--lan', LAN, '--port', PORT],
          // BERTH_RECORD_HISTORIES=1: the inventory's and a heal's histories become replay fixtures.
          ...(RECORDING ? ['--record', HISTORIES_DIR] : []),
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: RECORDING ? { ...process.env, BERTH_CODEC_KEY: FIXTURE_KEY } : process.env,
        },
      );
      bench.stdout!.on('data', (d: Buffer) => stdout.push(d.toString()));
      bench.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
      const code = await new Promise<number | null>((resolve) => bench!.once('exit', resolve));
      const log = stderr.join('');
      let report: ChaosReport;
      try {
        report = JSON.parse(stdout.join('')) as ChaosReport;
      } catch {
        throw new Error(`the chaos bench printed no report (exit ${code}); it said:\n${log.slice(-4000)}`);
      }
      console.log(
        `chaos seed ${SEED}: ${JSON.stringify(report.rounds.map((r) => ({ fault: r.fault, roles: r.roles, healMs: r.healMs })))}`,
      );
      if (!report.invariantsKept)
        throw new Error(`chaos failed:\n${JSON.stringify(report, null, 2)}\n${log.slice(-4000)}`);
      expect(report.seed).toBe(Number(SEED));
      expect(report.rounds).toHaveLength(3);
      expect(report.rounds.map((r) => r.problems)).toEqual([[], [], []]);
      expect(report.rounds.every((r) => r.healMs !== undefined)).toBe(true);
      // The seed's first round kills the leader's engine: the case the e2e tests did not reach before.
      expect(report.rounds[0]).toMatchObject({ fault: 'stop-engine' });
      expect(report.rounds[0].roles).toContain('leader');
      expect(report.rounds.map((r) => r.fault)).toContain('cut');
    },
    20 * 60_000,
  );
});
