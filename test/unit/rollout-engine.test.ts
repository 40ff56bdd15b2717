/**
 * The rollout's decisions, over recording steps: batches, order, canaries, minReady and the failure
 * actions. The real containers and names are exercised end to end in test/e2e/rollout.test.ts.
 */
import { CancelledFailure } from '@temporalio/common';
import { DEFAULT_UPDATE_POLICY, type UpdatePolicy } from '../../src/core/rollout';
import type { InstanceRecord } from '../../workflows/api/operations';
import type { Answer } from '../../workflows/operations/control';
import {
  RolloutStopped,
  rollOutService,
  type Replacement,
  type RolloutEnv,
  type RolloutSteps,
} from '../../workflows/operations/rollout';

const replacing = (n: number): Replacement[] =>
  Array.from({ length: n }, (_, i) => ({ instance: `web-${i + 1}`, containerId: `old-${i + 1}` }));

const record = (instance: string, id: string): InstanceRecord => ({
  service: 'web',
  instance,
  container: `berth-app-${instance}`,
  id,
  host: 'local',
  ip: '10.0.0.1',
  dnsNames: [],
  action: 'recreated',
});

/** Steps that record what happened, in order; `failing` instances fail to come up. */
function recorder(failing: string[] = [], notReadyLater: string[] = []) {
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const step = async <T>(line: string, fn: () => T): Promise<T> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await Promise.resolve();
    log.push(line);
    inFlight--;
    return fn();
  };
  const steps: RolloutSteps = {
    stopFirst: (r) =>
      step(`stopFirst ${r.instance}`, () => {
        if (failing.includes(r.instance)) throw new Error(`${r.instance} not ready`);
        return record(r.instance, `new-${r.instance}`);
      }),
    surge: (r) =>
      step(`surge ${r.instance}`, () => {
        if (failing.includes(r.instance)) throw new Error(`${r.instance} not ready`);
        return { replacement: r, record: record(r.instance, `surge-${r.instance}`) };
      }),
    retire: (s) => step(`retire ${s.replacement.instance}`, () => s.record),
    withdraw: (s) => step(`withdraw ${s.replacement.instance}`, () => undefined),
    checkReady: (rec) =>
      step(`check ${rec.instance}`, () => {
        if (notReadyLater.includes(rec.instance)) throw new Error('exited');
      }),
  };
  return { steps, log, maxInFlight: () => maxInFlight };
}

function environment(answers: (Answer | undefined)[] = []) {
  const waits: string[] = [];
  const slept: number[] = [];
  const env: RolloutEnv = {
    sleep: async (ms) => void slept.push(ms),
    wait: async (w) => {
      waits.push(w.kind);
      return answers.shift();
    },
    say: () => undefined,
  };
  return { env, waits, slept };
}

const policy = (p: Partial<UpdatePolicy>): UpdatePolicy => ({ ...DEFAULT_UPDATE_POLICY, ...p });

describe('rollOutService', () => {
  test('stop-first, one at a time by default, in instance order', async () => {
    const { steps, log, maxInFlight } = recorder();
    const done = await rollOutService('web', replacing(3), DEFAULT_UPDATE_POLICY, steps, environment().env);
    expect(log).toEqual(['stopFirst web-1', 'stopFirst web-2', 'stopFirst web-3']);
    expect(maxInFlight()).toBe(1);
    expect(done.map((r) => r.id)).toEqual(['new-web-1', 'new-web-2', 'new-web-3']);
  });

  test('start-first in batches of parallelism: each new one beside its old one, then the old one goes', async () => {
    const { steps, log, maxInFlight } = recorder();
    await rollOutService(
      'web',
      replacing(3),
      policy({ order: 'start-first', parallelism: 2 }),
      steps,
      environment().env,
    );
    expect(log.filter((l) => l.startsWith('surge'))).toEqual(['surge web-1', 'surge web-2', 'surge web-3']);
    expect(log.indexOf('retire web-1')).toBeGreaterThan(log.indexOf('surge web-1'));
    expect(log.indexOf('surge web-3')).toBeGreaterThan(log.indexOf('retire web-2'));
    expect(maxInFlight()).toBe(2);
  });

  test('minReady: a new instance that does not stay ready fails the rollout, which is stopped for a rollback', async () => {
    const { steps } = recorder([], ['web-2']);
    const { env, slept } = environment();
    await expect(
      rollOutService('web', replacing(3), policy({ minReadyMs: 500 }), steps, env),
    ).rejects.toEqual(
      new RolloutStopped('rollout of web failed: web-2: not ready after 500 ms: exited', 'failed'),
    );
    expect(slept).toEqual([500, 500]);
  });

  test('maxFailureRatio: failures up to the ratio are tolerated', async () => {
    const { steps, log } = recorder(['web-2']);
    const done = await rollOutService(
      'web',
      replacing(4),
      policy({ maxFailureRatio: 0.25 }),
      steps,
      environment().env,
    );
    expect(log).toHaveLength(4);
    expect(done.map((r) => r.instance)).toEqual(['web-1', 'web-3', 'web-4']);
  });

  test('failureAction continue carries on past any number of failures', async () => {
    const { steps, log } = recorder(['web-1', 'web-2']);
    const done = await rollOutService(
      'web',
      replacing(3),
      policy({ failureAction: 'continue' }),
      steps,
      environment().env,
    );
    expect(log).toHaveLength(3);
    expect(done.map((r) => r.instance)).toEqual(['web-3']);
  });

  test('failureAction pause waits; resume goes on, rollback stops', async () => {
    const resumed = environment(['resume']);
    const a = recorder(['web-1']);
    await rollOutService('web', replacing(2), policy({ failureAction: 'pause' }), a.steps, resumed.env);
    expect(resumed.waits).toEqual(['paused']);
    expect(a.log).toEqual(['stopFirst web-1', 'stopFirst web-2']);

    const rolledBack = environment(['rollback']);
    const b = recorder(['web-1']);
    await expect(
      rollOutService('web', replacing(2), policy({ failureAction: 'pause' }), b.steps, rolledBack.env),
    ).rejects.toBeInstanceOf(RolloutStopped);
    expect(b.log).toEqual(['stopFirst web-1']);
  });

  test('canaries start beside the old ones and wait; promoted, they take their places and the rest roll', async () => {
    const { steps, log } = recorder();
    const { env, waits } = environment(['promote']);
    await rollOutService('web', replacing(3), policy({ canary: 1 }), steps, env);
    expect(waits).toEqual(['canary']);
    expect(log).toEqual(['surge web-1', 'retire web-1', 'stopFirst web-2', 'stopFirst web-3']);
  });

  test('aborted canaries are withdrawn and the old instances stay', async () => {
    const { steps, log } = recorder();
    await expect(
      rollOutService('web', replacing(3), policy({ canary: 2 }), steps, environment(['abort']).env),
    ).rejects.toEqual(new RolloutStopped('canary of web aborted: canaries removed', 'aborted'));
    expect(log).toEqual(['surge web-1', 'surge web-2', 'withdraw web-1', 'withdraw web-2']);
  });

  test('autoPromote: when the wait times out, canaries still ready are promoted; one that is not fails', async () => {
    const ok = recorder();
    await rollOutService(
      'web',
      replacing(2),
      policy({ canary: 1, autoPromoteMs: 1000 }),
      ok.steps,
      environment([undefined]).env,
    );
    expect(ok.log).toEqual(['surge web-1', 'check web-1', 'retire web-1', 'stopFirst web-2']);

    const broken = recorder([], ['web-1']);
    await expect(
      rollOutService(
        'web',
        replacing(2),
        policy({ canary: 1, autoPromoteMs: 1000 }),
        broken.steps,
        environment([undefined]).env,
      ),
    ).rejects.toBeInstanceOf(RolloutStopped);
    expect(broken.log).toEqual(['surge web-1', 'check web-1', 'withdraw web-1']);
  });

  test('a canary that does not come up is withdrawn and fails the rollout without waiting', async () => {
    const { steps, log } = recorder(['web-1']);
    const { env, waits } = environment();
    await expect(
      rollOutService('web', replacing(3), policy({ canary: 2 }), steps, env),
    ).rejects.toBeInstanceOf(RolloutStopped);
    expect(waits).toEqual([]);
    expect(log).toEqual(['surge web-1', 'surge web-2', 'withdraw web-2']);
  });

  test('a cancellation of a step is not a failed instance: it goes on up, with no failure action', async () => {
    for (const order of ['stop-first', 'start-first'] as const) {
      const { steps, log } = recorder();
      const cancelled = { ...steps, stopFirst: () => Promise.reject(new CancelledFailure('cancelled')) };
      cancelled.surge = cancelled.stopFirst;
      const { env, waits } = environment();
      await expect(
        rollOutService('web', replacing(3), policy({ order, failureAction: 'pause' }), cancelled, env),
      ).rejects.toBeInstanceOf(CancelledFailure);
      expect(waits).toEqual([]);
      expect(log).toEqual([]);
    }
  });
});
