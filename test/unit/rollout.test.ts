import {
  DEFAULT_UPDATE_POLICY,
  batches,
  canaryCount,
  rolloutFailed,
  updatePolicyOf,
} from '../../src/core/rollout';

describe('update policy', () => {
  test("the service's keys win over the blueprint's, which win over the defaults", () => {
    expect(updatePolicyOf(undefined, undefined)).toEqual(DEFAULT_UPDATE_POLICY);
    expect(updatePolicyOf({ parallelism: 3 }, { parallelism: 2, order: 'start-first' })).toEqual({
      ...DEFAULT_UPDATE_POLICY,
      parallelism: 3,
      order: 'start-first',
    });
  });

  test('defaults: one at a time, the old one first, roll back on failure, no failure allowed', () => {
    expect(DEFAULT_UPDATE_POLICY).toMatchObject({
      parallelism: 1,
      order: 'stop-first',
      failureAction: 'rollback',
      maxFailureRatio: 0,
      canary: 0,
    });
  });
});

describe('batches', () => {
  test('in order, parallelism at a time, the last one shorter', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([1, 2], 10)).toEqual([[1, 2]]);
    expect(batches([], 2)).toEqual([]);
  });
  test('a parallelism below one still moves one at a time', () => {
    expect(batches([1, 2], 0)).toEqual([[1], [2]]);
  });
});

describe('rolloutFailed', () => {
  test('more than maxFailureRatio of the replaced instances failed', () => {
    expect(rolloutFailed(0, 10, 0)).toBe(false);
    expect(rolloutFailed(1, 10, 0)).toBe(true);
    expect(rolloutFailed(1, 10, 0.1)).toBe(false);
    expect(rolloutFailed(2, 10, 0.1)).toBe(true);
    expect(rolloutFailed(10, 10, 1)).toBe(false);
  });
});

describe('canaryCount', () => {
  test('never more than the instances replaced', () => {
    expect(canaryCount({ ...DEFAULT_UPDATE_POLICY, canary: 2 }, 5)).toBe(2);
    expect(canaryCount({ ...DEFAULT_UPDATE_POLICY, canary: 2 }, 1)).toBe(1);
    expect(canaryCount(DEFAULT_UPDATE_POLICY, 5)).toBe(0);
  });
});
