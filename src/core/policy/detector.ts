/**
 * Brooklyn's ServiceFailureDetector, as far as it decides whether a failure is acted on: a failure
 * counts once it has lasted `entityFailedStabilizationDelay`; an instance that is running again by
 * then (Docker's restart policy brought it back, or its health check passes again) and has stayed up
 * for `entityRecoveredStabilizationDelay` recovered by itself, and the restarter and replacer leave
 * it alone. Pure: what the engine reported and the time are inputs.
 */
import { formatDurationMs } from './format';

export interface FailureDetectorConfig {
  /** How long a failure must last before it is acted on. Default 0: at once. */
  failedStabilizationMs: number;
  /** How long an instance that came back must have been up to count as recovered. Default 0. */
  recoveredStabilizationMs: number;
}

export const DETECTOR_DEFAULTS: Readonly<FailureDetectorConfig> = Object.freeze({
  failedStabilizationMs: 0,
  recoveredStabilizationMs: 0,
});

/** Looks this many times at most after the failed delay (an instance that keeps flapping is failed). */
export const MAX_DETECTOR_LOOKS = 3;

/** What the engine says of the failed container now. */
export interface InstanceObservation {
  state: 'running' | 'restarting' | 'exited' | 'gone';
  /** false when a health check reports unhealthy; absent when there is none or it is starting. */
  healthy?: boolean;
  /** When the container last started (engine clock, ms). */
  startedAtMs?: number;
}

export type DetectorVerdict =
  | { verdict: 'recovered'; reason: string }
  | { verdict: 'failed'; reason: string }
  | { verdict: 'wait'; ms: number };

function readMs(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = raw[key] ?? raw[key.replace(/Ms$/, '')];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  throw new Error(`failureDetector: '${key}' must be a duration of 0 ms or more, got ${JSON.stringify(v)}`);
}

/**
 * A detector configuration from a parsed `PolicySpec.config` (`entityFailedStabilizationDelayMs`,
 * `entityRecoveredStabilizationDelayMs`, as the blueprint parser writes them). Brooklyn's
 * service-level `serviceOnFireStabilizationDelay` is accepted and has no effect (DECISIONS).
 */
export function failureDetectorConfig(raw: Record<string, unknown>): FailureDetectorConfig {
  return {
    failedStabilizationMs: readMs(
      raw,
      'entityFailedStabilizationDelayMs',
      DETECTOR_DEFAULTS.failedStabilizationMs,
    ),
    recoveredStabilizationMs: readMs(
      raw,
      'entityRecoveredStabilizationDelayMs',
      DETECTOR_DEFAULTS.recoveredStabilizationMs,
    ),
  };
}

/**
 * After the failed delay: a container that runs (and is not unhealthy) and has been up for the
 * recovered delay recovered by itself; one up for less is looked at again when it will have been;
 * anything else is a failure to act on.
 */
export function judge(
  config: FailureDetectorConfig,
  observed: InstanceObservation,
  nowMs: number,
): DetectorVerdict {
  if (observed.state !== 'running') return { verdict: 'failed', reason: observed.state };
  if (observed.healthy === false) return { verdict: 'failed', reason: 'unhealthy' };
  const upMs = observed.startedAtMs === undefined ? Infinity : Math.max(0, nowMs - observed.startedAtMs);
  if (upMs < config.recoveredStabilizationMs) {
    return { verdict: 'wait', ms: config.recoveredStabilizationMs - upMs };
  }
  return {
    verdict: 'recovered',
    reason: `running again within ${formatDurationMs(config.failedStabilizationMs)} (failureDetector)`,
  };
}
