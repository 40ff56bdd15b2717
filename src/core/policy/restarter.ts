/**
 * The give-up arithmetic of the restarter and replacer (Brooklyn's ServiceRestarter and
 * ServiceReplacer: `failOnRecurringFailuresInThisDuration`) with a Docker-like restart backoff.
 * Pure and deterministic: time is always an input.
 */
import { parseDuration } from '../blueprint/units';
import { formatDurationMs } from './format';

export interface RecoveryConfig {
  /** Brooklyn's failOnRecurringFailuresInThisDuration. Default 300000. */
  windowMs: number;
  /** Failures within windowMs at which the policy gives up. Default 3 (Brooklyn gives up on the 2nd). */
  maxFailures: number;
  /** Delay before the second recovery in a window; doubles after that (Docker's restart backoff). Default 100. */
  backoffInitialMs: number;
  /** Cap on the delay. Default 60000. */
  backoffMaxMs: number;
}

export const RECOVERY_DEFAULTS: Readonly<RecoveryConfig> = Object.freeze({
  windowMs: 300_000,
  maxFailures: 3,
  backoffInitialMs: 100,
  backoffMaxMs: 60_000,
});

/** The most failure times a history keeps (only the count within the window matters). */
export const MAX_FAILURE_HISTORY = 1000;

export interface FailureHistory {
  /** When each failure happened (ms), ascending, pruned to the window. */
  failures: number[];
}

export type RecoveryAction =
  | { action: 'recover'; delayMs: number; failuresInWindow: number }
  | { action: 'give-up'; failuresInWindow: number; reason: string };

type Raw = Record<string, unknown>;

const fail = (message: string): never => {
  throw new Error(`restarter: ${message}`);
};

function readMs(raw: Raw, keys: string[]): number | undefined {
  for (const key of keys) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
    if (typeof v === 'string' && !key.endsWith('Ms')) {
      const parsed = parseDuration(v);
      if (parsed.ok) return parsed.value;
      return fail(`'${key}' must be ${parsed.expected}, got ${JSON.stringify(v)}`);
    }
    return fail(`'${key}' must be a duration of 0 ms or more, got ${JSON.stringify(v)}`);
  }
  return undefined;
}

/**
 * A recovery configuration from a parsed `PolicySpec.config` of a restarter or replacer:
 * `failOnRecurringFailuresInThisDurationMs` (as the blueprint parser writes it; the unsuffixed key is
 * accepted as ms or text like '5m'), or `windowMs`; and `maxFailures`, `backoffInitialMs`,
 * `backoffMaxMs`. Other keys (e.g. `setOnFireOnFailure`) are ignored. Throws a plain Error on
 * invalid or contradictory values.
 */
export function recoveryConfig(raw: Record<string, unknown>): RecoveryConfig {
  const windowMs =
    readMs(raw, [
      'windowMs',
      'failOnRecurringFailuresInThisDurationMs',
      'failOnRecurringFailuresInThisDuration',
    ]) ?? RECOVERY_DEFAULTS.windowMs;
  const maxFailures = raw.maxFailures ?? RECOVERY_DEFAULTS.maxFailures;
  if (typeof maxFailures !== 'number' || !Number.isInteger(maxFailures) || maxFailures < 1) {
    fail(`'maxFailures' must be a whole number of at least 1, got ${JSON.stringify(maxFailures)}`);
  }
  const backoffInitialMs = readMs(raw, ['backoffInitialMs']) ?? RECOVERY_DEFAULTS.backoffInitialMs;
  const backoffMaxMs =
    readMs(raw, ['backoffMaxMs']) ?? Math.max(RECOVERY_DEFAULTS.backoffMaxMs, backoffInitialMs);
  if (backoffInitialMs > backoffMaxMs) {
    fail(`'backoffInitialMs' (${backoffInitialMs}) must not exceed 'backoffMaxMs' (${backoffMaxMs})`);
  }
  return { windowMs, maxFailures: maxFailures as number, backoffInitialMs, backoffMaxMs };
}

/** The delay before recovering from the n-th failure in a window: 0, then initial, doubling, capped. */
export function backoffDelayMs(config: RecoveryConfig, n: number): number {
  if (n <= 1) return 0;
  let delay = config.backoffInitialMs;
  for (let i = 2; i < n && delay < config.backoffMaxMs; i++) delay *= 2;
  return Math.min(delay, config.backoffMaxMs);
}

/**
 * Records a failure at `nowMs` and says what to do. Failures count while they are less than
 * `windowMs` old. The first failure in a window recovers at once (delay 0); the n-th (n >= 2) waits
 * backoffInitialMs * 2^(n-2), capped at backoffMaxMs; once the failures in the window reach
 * maxFailures the policy gives up ("3 failures within 5m0s"). Returns the new history.
 */
export function onFailure(
  config: RecoveryConfig,
  history: FailureHistory,
  nowMs: number,
): { history: FailureHistory; next: RecoveryAction } {
  const recent = history.failures.filter((at) => at <= nowMs && nowMs - at < config.windowMs);
  recent.sort((a, b) => a - b);
  recent.push(nowMs);
  const failures = recent.length > MAX_FAILURE_HISTORY ? recent.slice(-MAX_FAILURE_HISTORY) : recent;
  const n = recent.length;
  const next: RecoveryAction =
    n >= config.maxFailures
      ? {
          action: 'give-up',
          failuresInWindow: n,
          reason: `${n} ${n === 1 ? 'failure' : 'failures'} within ${formatDurationMs(config.windowMs)}`,
        }
      : { action: 'recover', delayMs: backoffDelayMs(config, n), failuresInWindow: n };
  return { history: { failures }, next };
}
