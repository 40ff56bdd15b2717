import {
  RECOVERY_DEFAULTS,
  backoffDelayMs,
  formatDurationMs,
  onFailure,
  recoveryConfig,
  type FailureHistory,
  type RecoveryAction,
  type RecoveryConfig,
} from '../../../src/core/policy';

/** Fails at each time in order, threading the history; returns every action. */
function failAt(
  config: RecoveryConfig,
  times: number[],
): { actions: RecoveryAction[]; history: FailureHistory } {
  let history: FailureHistory = { failures: [] };
  const actions: RecoveryAction[] = [];
  for (const t of times) {
    const r = onFailure(config, history, t);
    history = r.history;
    actions.push(r.next);
  }
  return { actions, history };
}

describe('recoveryConfig', () => {
  it('applies the defaults', () => {
    expect(recoveryConfig({})).toEqual({
      windowMs: 300_000,
      maxFailures: 3,
      backoffInitialMs: 100,
      backoffMaxMs: 60_000,
    });
    expect(recoveryConfig({})).toEqual(RECOVERY_DEFAULTS);
  });

  it("reads the blueprint parser's failOnRecurringFailuresInThisDurationMs and ignores other keys", () => {
    expect(
      recoveryConfig({ failOnRecurringFailuresInThisDurationMs: 60_000, setOnFireOnFailure: true }),
    ).toEqual({
      ...RECOVERY_DEFAULTS,
      windowMs: 60_000,
    });
  });

  it('accepts the unsuffixed Brooklyn key as text, and its own names', () => {
    expect(recoveryConfig({ failOnRecurringFailuresInThisDuration: '10m' }).windowMs).toBe(600_000);
    const own = { windowMs: 1000, maxFailures: 5, backoffInitialMs: 10, backoffMaxMs: 50 };
    expect(recoveryConfig(own)).toEqual(own);
    expect(recoveryConfig({ ...recoveryConfig(own) })).toEqual(own);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['maxFailures of 0', { maxFailures: 0 }, /'maxFailures' must be a whole number of at least 1, got 0/],
    ['fractional maxFailures', { maxFailures: 2.5 }, /'maxFailures' must be a whole number/],
    ['a negative window', { windowMs: -1 }, /'windowMs' must be a duration of 0 ms or more, got -1/],
    [
      'text in an ms key',
      { failOnRecurringFailuresInThisDurationMs: '5m' },
      /'failOnRecurringFailuresInThisDurationMs' must be/,
    ],
    ['bad duration text', { failOnRecurringFailuresInThisDuration: 'often' }, /must be a duration like/],
    [
      'initial backoff above the cap',
      { backoffInitialMs: 5000, backoffMaxMs: 1000 },
      /'backoffInitialMs' \(5000\) must not exceed 'backoffMaxMs' \(1000\)/,
    ],
  ])('refuses %s with a plain Error', (_name, raw, message) => {
    expect(() => recoveryConfig(raw)).toThrow(Error);
    expect(() => recoveryConfig(raw)).toThrow(/^restarter: /);
    expect(() => recoveryConfig(raw)).toThrow(message);
  });
});

describe('onFailure', () => {
  it('recovers at once, then after the initial backoff, and gives up at the 3rd failure (defaults)', () => {
    const { actions } = failAt(RECOVERY_DEFAULTS, [1_000, 2_000, 3_000]);
    expect(actions).toEqual([
      { action: 'recover', delayMs: 0, failuresInWindow: 1 },
      { action: 'recover', delayMs: 100, failuresInWindow: 2 },
      { action: 'give-up', failuresInWindow: 3, reason: '3 failures within 5m0s' },
    ]);
  });

  it('doubles the delay from the 2nd failure on, up to the cap', () => {
    const c = recoveryConfig({ maxFailures: 10, backoffInitialMs: 100, backoffMaxMs: 1000 });
    const { actions } = failAt(c, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(actions.slice(0, 9).map((a) => (a.action === 'recover' ? a.delayMs : a.action))).toEqual([
      0, 100, 200, 400, 800, 1000, 1000, 1000, 1000,
    ]);
    expect(actions[9]).toEqual({
      action: 'give-up',
      failuresInWindow: 10,
      reason: '10 failures within 5m0s',
    });
  });

  it('backoffDelayMs never overflows, even from an initial delay of 0', () => {
    const c = { windowMs: 1000, maxFailures: 5000, backoffInitialMs: 100, backoffMaxMs: 60_000 };
    expect(backoffDelayMs(c, 4000)).toBe(60_000);
    expect(backoffDelayMs({ ...c, backoffInitialMs: 0 }, 4000)).toBe(0);
    expect(backoffDelayMs(c, 1)).toBe(0);
    expect(backoffDelayMs(c, 2)).toBe(100);
  });

  it('counts only failures less than windowMs old: old failures expire and the count resets', () => {
    const c = recoveryConfig({ failOnRecurringFailuresInThisDurationMs: 60_000 });
    // 0 and 30 s count together; at 90 s the failure at 0 is exactly 90 s old and the one at 30 s exactly 60 s: both expired.
    const { actions, history } = failAt(c, [0, 30_000, 90_000, 100_000]);
    expect(actions.map((a) => a.failuresInWindow)).toEqual([1, 2, 1, 2]);
    expect(actions[2]).toEqual({ action: 'recover', delayMs: 0, failuresInWindow: 1 });
    expect(actions[3]).toEqual({ action: 'recover', delayMs: 100, failuresInWindow: 2 });
    expect(history.failures).toEqual([90_000, 100_000]);
    // A failure 59.999 s after the first still counts with it: the third gives up; at 60 s it does not.
    expect(failAt(c, [0, 30_000, 60_000]).actions[2]).toMatchObject({
      action: 'recover',
      failuresInWindow: 2,
    });
    expect(failAt(c, [0, 30_000, 59_999]).actions[2]).toEqual({
      action: 'give-up',
      failuresInWindow: 3,
      reason: '3 failures within 1m0s',
    });
  });

  it("Brooklyn's behaviour is maxFailures 2: the second failure within the window gives up", () => {
    const c = recoveryConfig({ maxFailures: 2, failOnRecurringFailuresInThisDuration: '3m' });
    const { actions } = failAt(c, [0, 179_999]);
    expect(actions[1]).toEqual({ action: 'give-up', failuresInWindow: 2, reason: '2 failures within 3m0s' });
    expect(failAt(c, [0, 180_000]).actions[1]).toEqual({
      action: 'recover',
      delayMs: 0,
      failuresInWindow: 1,
    });
  });

  it('gives up on the first failure when maxFailures is 1', () => {
    const c = recoveryConfig({ maxFailures: 1 });
    expect(onFailure(c, { failures: [] }, 0).next).toEqual({
      action: 'give-up',
      failuresInWindow: 1,
      reason: '1 failure within 5m0s',
    });
  });

  it('does not modify the history it is given, prunes it and keeps it ascending', () => {
    const history: FailureHistory = Object.freeze({
      failures: Object.freeze([250_000, 10_000, 200_000]) as number[],
    });
    const r = onFailure(RECOVERY_DEFAULTS, history, 320_000);
    expect(history.failures).toEqual([250_000, 10_000, 200_000]);
    expect(r.history.failures).toEqual([200_000, 250_000, 320_000]);
    expect(r.next).toEqual({ action: 'give-up', failuresInWindow: 3, reason: '3 failures within 5m0s' });
  });

  it('ignores failures recorded later than now', () => {
    const r = onFailure(RECOVERY_DEFAULTS, { failures: [5_000, 900_000] }, 10_000);
    expect(r.history.failures).toEqual([5_000, 10_000]);
    expect(r.next).toEqual({ action: 'recover', delayMs: 100, failuresInWindow: 2 });
  });
});

describe('formatDurationMs', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [250, '250ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [120_000, '2m0s'],
    [300_000, '5m0s'],
    [3_600_000, '1h0m0s'],
    [5_430_000, '1h30m30s'],
    [-2_000, '-2s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
  });
});
