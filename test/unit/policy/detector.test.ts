import { failureDetectorConfig, judge, DETECTOR_DEFAULTS } from '../../../src/core/policy';

describe('failure detector (ServiceFailureDetector stabilisation)', () => {
  const config = { failedStabilizationMs: 2_000, recoveredStabilizationMs: 1_000 };
  const now = 100_000;

  test('reads the parsed blueprint keys; defaults act at once', () => {
    expect(failureDetectorConfig({})).toEqual(DETECTOR_DEFAULTS);
    expect(
      failureDetectorConfig({
        entityFailedStabilizationDelayMs: 30_000,
        entityRecoveredStabilizationDelayMs: 5,
      }),
    ).toEqual({ failedStabilizationMs: 30_000, recoveredStabilizationMs: 5 });
    expect(() => failureDetectorConfig({ entityFailedStabilizationDelayMs: -1 })).toThrow(
      /failureDetector: 'entityFailedStabilizationDelayMs' must be a duration of 0 ms or more, got -1/,
    );
  });

  test('a container not running, restarting, gone or unhealthy is a failure to act on', () => {
    for (const state of ['exited', 'restarting', 'gone'] as const) {
      expect(judge(config, { state }, now)).toEqual({ verdict: 'failed', reason: state });
    }
    expect(judge(config, { state: 'running', healthy: false, startedAtMs: 0 }, now)).toEqual({
      verdict: 'failed',
      reason: 'unhealthy',
    });
  });

  test('running for the recovered delay is recovered; running for less is looked at again when it will be', () => {
    expect(judge(config, { state: 'running', startedAtMs: now - 1_500 }, now)).toEqual({
      verdict: 'recovered',
      reason: 'running again within 2s (failureDetector)',
    });
    expect(judge(config, { state: 'running', healthy: true, startedAtMs: now - 400 }, now)).toEqual({
      verdict: 'wait',
      ms: 600,
    });
    // An engine clock ahead of the worker's counts as just started, not as negative uptime.
    expect(judge(config, { state: 'running', startedAtMs: now + 5_000 }, now)).toEqual({
      verdict: 'wait',
      ms: 1_000,
    });
    expect(judge(config, { state: 'running' }, now).verdict).toBe('recovered');
  });
});
