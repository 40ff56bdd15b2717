/**
 * The autoscaler's arithmetic: Brooklyn's AutoScalerPolicy (metric kept between a lower and an upper
 * bound) and Kubernetes' HPA target tracking (desired = ceil(current * metric / target)), both with
 * Brooklyn's/HPA's stabilisation windows. Pure and deterministic: time is always an input.
 */
import { parseDuration } from '../blueprint/units';
import { formatDurationMs, formatMetric } from './format';

export interface AutoscalerConfig {
  /** e.g. 'cpu' (percent of one core, averaged per instance), 'memory', or a custom metric name. */
  metric: string;
  /** Brooklyn's AutoScalerPolicy bounds, or Kubernetes HPA target tracking. */
  mode: 'bounds' | 'target';
  /** Bounds mode: below it (and above 0) the pool shrinks; absent, it never shrinks on the metric. */
  metricLowerBound?: number;
  /** Bounds mode: above it the pool grows. */
  metricUpperBound?: number;
  /** Target mode: desired = ceil(current * metric / target). */
  target?: number;
  /** Target mode: no change while |metric/target - 1| <= tolerance. Default 0.1. */
  tolerance: number;
  /** Default 1. */
  minPoolSize: number;
  /** Default 1000. */
  maxPoolSize: number;
  /** Default 0. */
  resizeUpStabilizationDelayMs: number;
  /** Default 0 in bounds mode (Brooklyn), 300000 in target mode (HPA). */
  resizeDownStabilizationDelayMs: number;
  /** Brooklyn's resizeUpIterationIncrement: a growth is rounded up to a multiple of this. Default 1. */
  resizeUpIncrement: number;
  /** Brooklyn's resizeUpIterationMax: a single decision grows by at most this. Default 1000. */
  resizeUpMax: number;
  /** Brooklyn's resizeDownIterationIncrement. Default 1. */
  resizeDownIncrement: number;
  /** Brooklyn's resizeDownIterationMax. Default 1000. */
  resizeDownMax: number;
}

export interface Recommendation {
  atMs: number;
  size: number;
}

export interface AutoscalerDecision {
  atMs: number;
  metric: number;
  current: number;
  /** This sample's recommendation (within [minPoolSize, maxPoolSize]), before stabilisation. */
  recommended: number;
  /** The size to resize to (equal to `current` when nothing should change). */
  desired: number;
  /** Human-readable, e.g. "cpu 93.1 above 80 for 30s: 2 → 3". */
  reason: string;
}

/** The most recommendations a window keeps; older ones go first (which only delays scaling). */
export const MAX_WINDOW_ENTRIES = 500;

export const AUTOSCALER_DEFAULTS = {
  tolerance: 0.1,
  minPoolSize: 1,
  maxPoolSize: 1000,
  resizeUpStabilizationDelayMs: 0,
  resizeDownStabilizationDelayMsBounds: 0,
  resizeDownStabilizationDelayMsTarget: 300_000,
  resizeUpIncrement: 1,
  resizeUpMax: 1000,
  resizeDownIncrement: 1,
  resizeDownMax: 1000,
} as const;

type Raw = Record<string, unknown>;

const fail = (message: string): never => {
  throw new Error(`autoscaler: ${message}`);
};

/** The first of `keys` present in `raw` (not undefined or null). */
function pick(raw: Raw, keys: string[]): [string, unknown] | undefined {
  for (const k of keys) if (raw[k] !== undefined && raw[k] !== null) return [k, raw[k]];
  return undefined;
}

function readNumber(
  raw: Raw,
  keys: string[],
  opts: { integer?: boolean; min?: number; positive?: boolean } = {},
): number | undefined {
  const found = pick(raw, keys);
  if (!found) return undefined;
  const [key, v] = found;
  const what = opts.integer ? 'a whole number' : 'a number';
  if (typeof v !== 'number' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
    return fail(`'${key}' must be ${what}, got ${JSON.stringify(v)}`);
  }
  if (opts.positive && v <= 0) return fail(`'${key}' must be greater than 0, got ${v}`);
  if (opts.min !== undefined && v < opts.min) return fail(`'${key}' must be at least ${opts.min}, got ${v}`);
  return v;
}

/** `<base>Ms` (milliseconds, as the blueprint parser writes it) or `<base>` (ms, or text like '30s'). */
function readDuration(raw: Raw, base: string): number | undefined {
  const ms = readNumber(raw, [`${base}Ms`], { min: 0 });
  if (ms !== undefined) return ms;
  const found = pick(raw, [base]);
  if (!found) return undefined;
  const v = found[1];
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const parsed = parseDuration(v);
    if (parsed.ok) return parsed.value;
    return fail(`'${base}' must be ${parsed.expected}, got ${JSON.stringify(v)}`);
  }
  return fail(`'${base}' must be a duration, got ${JSON.stringify(v)}`);
}

/**
 * An autoscaler configuration from a parsed `PolicySpec.config` (the blueprint parser's keys, e.g.
 * `resizeUpStabilizationDelayMs`, `resizeUpIterationIncrement`; this interface's own names are
 * accepted too, so the function is idempotent). Applies defaults; mode is 'target' when `target` is
 * set. Throws a plain Error on missing or contradictory settings.
 */
export function autoscalerConfig(raw: Record<string, unknown>): AutoscalerConfig {
  const metric = raw.metric;
  if (typeof metric !== 'string' || metric.trim() === '') {
    fail(`needs 'metric' (e.g. cpu), got ${JSON.stringify(metric)}`);
  }
  const target = readNumber(raw, ['target'], { positive: true });
  const lower = readNumber(raw, ['metricLowerBound'], { min: 0 });
  const upper = readNumber(raw, ['metricUpperBound'], { positive: true });
  const tolerance = readNumber(raw, ['tolerance'], { min: 0 }) ?? AUTOSCALER_DEFAULTS.tolerance;

  if (raw.mode !== undefined && raw.mode !== 'bounds' && raw.mode !== 'target') {
    fail(`'mode' must be 'bounds' or 'target', got ${JSON.stringify(raw.mode)}`);
  }
  const mode: 'bounds' | 'target' =
    (raw.mode as 'bounds' | 'target' | undefined) ?? (target !== undefined ? 'target' : 'bounds');
  if (target !== undefined && (lower !== undefined || upper !== undefined)) {
    fail("set either 'target' (target tracking) or 'metricLowerBound'/'metricUpperBound' (bounds), not both");
  }
  if (mode === 'target' && target === undefined) fail("mode 'target' needs 'target'");
  if (mode === 'bounds' && upper === undefined) {
    fail("needs 'metricUpperBound' (with an optional 'metricLowerBound') or 'target'");
  }
  if (lower !== undefined && upper !== undefined && lower >= upper) {
    fail(`'metricLowerBound' (${lower}) must be below 'metricUpperBound' (${upper})`);
  }

  const minPoolSize =
    readNumber(raw, ['minPoolSize'], { integer: true, min: 0 }) ?? AUTOSCALER_DEFAULTS.minPoolSize;
  const maxPoolSize =
    readNumber(raw, ['maxPoolSize'], { integer: true, min: 0 }) ?? AUTOSCALER_DEFAULTS.maxPoolSize;
  if (minPoolSize > maxPoolSize) {
    fail(`'minPoolSize' (${minPoolSize}) must not exceed 'maxPoolSize' (${maxPoolSize})`);
  }

  const step = (keys: string[], fallback: number): number =>
    readNumber(raw, keys, { integer: true, min: 1 }) ?? fallback;
  const resizeUpIncrement = step(['resizeUpIncrement', 'resizeUpIterationIncrement'], 1);
  const resizeUpMax = step(['resizeUpMax', 'resizeUpIterationMax'], AUTOSCALER_DEFAULTS.resizeUpMax);
  const resizeDownIncrement = step(['resizeDownIncrement', 'resizeDownIterationIncrement'], 1);
  const resizeDownMax = step(['resizeDownMax', 'resizeDownIterationMax'], AUTOSCALER_DEFAULTS.resizeDownMax);
  if (resizeUpIncrement > resizeUpMax) {
    fail(
      `'resizeUpIterationIncrement' (${resizeUpIncrement}) must not exceed 'resizeUpIterationMax' (${resizeUpMax})`,
    );
  }
  if (resizeDownIncrement > resizeDownMax) {
    fail(
      `'resizeDownIterationIncrement' (${resizeDownIncrement}) must not exceed 'resizeDownIterationMax' (${resizeDownMax})`,
    );
  }

  const config: AutoscalerConfig = {
    metric: (metric as string).trim(),
    mode,
    tolerance,
    minPoolSize,
    maxPoolSize,
    resizeUpStabilizationDelayMs:
      readDuration(raw, 'resizeUpStabilizationDelay') ?? AUTOSCALER_DEFAULTS.resizeUpStabilizationDelayMs,
    resizeDownStabilizationDelayMs:
      readDuration(raw, 'resizeDownStabilizationDelay') ??
      (mode === 'target'
        ? AUTOSCALER_DEFAULTS.resizeDownStabilizationDelayMsTarget
        : AUTOSCALER_DEFAULTS.resizeDownStabilizationDelayMsBounds),
    resizeUpIncrement,
    resizeUpMax,
    resizeDownIncrement,
    resizeDownMax,
  };
  if (lower !== undefined) config.metricLowerBound = lower;
  if (upper !== undefined) config.metricUpperBound = upper;
  if (target !== undefined) config.target = target;
  return config;
}

// Floating-point slack so that e.g. 3 * 0.9 / 0.45 (6.000000000000001) needs 6 instances, not 7.
const EPS = 1e-9;
const ceil = (x: number): number => Math.ceil(x - EPS);
const floor = (x: number): number => Math.floor(x + EPS);
const roundUpTo = (n: number, multiple: number): number => Math.ceil(n / multiple) * multiple;

function clamp(c: AutoscalerConfig, size: number): number {
  return Math.min(c.maxPoolSize, Math.max(c.minPoolSize, size));
}

type State = 'above' | 'below' | 'within' | 'no-metric';
interface Assessment {
  state: State;
  /** Why an out-of-range metric leaves the size unchanged. */
  blocked?: 'at-max' | 'at-min' | 'anti-thrash' | 'rounding';
  size: number;
}

function assess(c: AutoscalerConfig, current: number, metric: number): Assessment {
  const n = current > 0 ? current : c.minPoolSize;
  if (!Number.isFinite(metric)) return { state: 'no-metric', size: clamp(c, n) };
  const total = n * metric;
  let state: State;
  let ideal: number;
  if (c.mode === 'target') {
    const ratio = metric / (c.target as number);
    if (Math.abs(ratio - 1) <= c.tolerance + EPS) return { state: 'within', size: clamp(c, n) };
    state = ratio > 1 ? 'above' : 'below';
    ideal = ceil(n * ratio);
  } else {
    const upper = c.metricUpperBound as number;
    const lower = c.metricLowerBound;
    if (metric > upper) {
      // The smallest size that brings the per-instance metric to the upper bound.
      state = 'above';
      ideal = ceil(total / upper);
    } else if (lower !== undefined && lower > 0 && metric < lower) {
      // The largest size that keeps the per-instance metric at or above the lower bound.
      state = 'below';
      ideal = floor(total / lower);
    } else {
      return { state: 'within', size: clamp(c, n) };
    }
  }

  let size = clamp(c, ideal);
  if (state === 'above') {
    if (size <= n) return { state, blocked: n >= c.maxPoolSize ? 'at-max' : 'rounding', size: clamp(c, n) };
    const delta = size - n;
    size = clamp(c, n + (delta > c.resizeUpMax ? c.resizeUpMax : roundUpTo(delta, c.resizeUpIncrement)));
    return { state, size };
  }
  if (size >= n) return { state, blocked: n <= c.minPoolSize ? 'at-min' : 'rounding', size: clamp(c, n) };
  const delta = n - size;
  size = n - (delta > c.resizeDownMax ? c.resizeDownMax : roundUpTo(delta, c.resizeDownIncrement));
  if (c.mode === 'bounds') {
    // Brooklyn's anti-thrashing: never shrink so far that the next sample is above the upper bound.
    const upper = c.metricUpperBound as number;
    while (size < n && total > upper * size * (1 + EPS)) size += c.resizeDownIncrement;
  }
  size = clamp(c, size);
  if (size >= n) return { state, blocked: 'anti-thrash', size: clamp(c, n) };
  return { state, size };
}

/**
 * The unconstrained (unstabilised) recommendation for one sample, always within
 * [minPoolSize, maxPoolSize]. A current size of 0 counts as minPoolSize.
 *
 * Bounds mode (Brooklyn's AutoScalerPolicy): metric above the upper bound → ceil(current * metric /
 * upper); below the lower bound → floor(current * metric / lower), but never so small that the
 * per-instance metric would exceed the upper bound; inside the bounds → current. A change is rounded
 * up to a multiple of resizeUp/DownIncrement and capped at resizeUp/DownMax per decision.
 *
 * Target mode (HPA): ratio = metric / target; |ratio - 1| <= tolerance → current; else
 * ceil(current * ratio), with the same per-decision increments and caps.
 *
 * A non-finite metric (no data) recommends the current size.
 */
export function recommend(config: AutoscalerConfig, current: number, metric: number): number {
  return assess(config, current, metric).size;
}

/** Drops what can no longer matter: runs of equal sizes keep their first entry (a recommendation holds
 * until the next one), and entries that ended before the longest delay go, except the one in effect
 * when that delay began. */
function prune(c: AutoscalerConfig, window: Recommendation[], nowMs: number): Recommendation[] {
  const runs: Recommendation[] = [];
  for (const r of window) {
    if (runs.length === 0 || runs[runs.length - 1].size !== r.size) runs.push({ atMs: r.atMs, size: r.size });
  }
  const start = nowMs - Math.max(c.resizeUpStabilizationDelayMs, c.resizeDownStabilizationDelayMs);
  let first = 0;
  for (let i = 0; i < runs.length; i++) if (runs[i].atMs <= start) first = i;
  const kept = runs.slice(first);
  return kept.length > MAX_WINDOW_ENTRIES ? kept.slice(kept.length - MAX_WINDOW_ENTRIES) : kept;
}

/**
 * The recommendations in effect during the last `delayMs`: the one in effect when it began and all
 * later ones; undefined while the window does not yet cover the whole delay.
 */
function inEffect(window: Recommendation[], nowMs: number, delayMs: number): Recommendation[] | undefined {
  if (delayMs <= 0) return window.slice(-1);
  const start = nowMs - delayMs;
  let first = -1;
  for (let i = 0; i < window.length; i++) if (window[i].atMs <= start) first = i;
  return first < 0 ? undefined : window.slice(first);
}

/** When the trailing run of recommendations matching `pred` began. */
function runStart(window: Recommendation[], pred: (size: number) => boolean, nowMs: number): number {
  let since = nowMs;
  for (let i = window.length - 1; i >= 0 && pred(window[i].size); i--) since = window[i].atMs;
  return since;
}

function describe(c: AutoscalerConfig, a: Assessment, metric: number): string {
  const m = `${c.metric} ${formatMetric(metric)}`;
  if (a.state === 'no-metric') return `no value for ${c.metric}`;
  if (c.mode === 'target') {
    if (a.state === 'within') return `${m} within ${formatMetric(c.tolerance * 100)}% of target ${c.target}`;
    return `${m} ${a.state} target ${c.target}`;
  }
  if (a.state === 'above') return `${m} above ${c.metricUpperBound}`;
  if (a.state === 'below') return `${m} below ${c.metricLowerBound}`;
  return c.metricLowerBound !== undefined && c.metricLowerBound > 0
    ? `${m} within bounds ${c.metricLowerBound}..${c.metricUpperBound}`
    : `${m} not above ${c.metricUpperBound}`;
}

function blockedBecause(c: AutoscalerConfig, a: Assessment, current: number): string {
  switch (a.blocked) {
    case 'at-max':
      return ` but already at maxPoolSize ${c.maxPoolSize}`;
    case 'at-min':
      return ` but already at minPoolSize ${c.minPoolSize}`;
    case 'anti-thrash':
      return ` but a smaller pool would go above ${c.metricUpperBound}`;
    case 'rounding':
      return ` but the recommended size is still ${current}`;
    default:
      return '';
  }
}

/**
 * One autoscaling decision with stabilisation (Brooklyn's and HPA's semantics alike). Each sample's
 * recommendation is kept in `window` and holds until the next one. The pool grows to the smallest
 * recommendation in effect over the last resizeUpStabilizationDelayMs (only a sustained rise grows it)
 * and shrinks to the largest over the last resizeDownStabilizationDelayMs (a spike inside that delay
 * prevents the shrink); until the window covers a whole delay, nothing moves that way. A current size
 * outside [minPoolSize, maxPoolSize] moves inside at once, whatever the metric.
 *
 * Pass the returned window to the next call (it is pruned to what can still matter and at most
 * MAX_WINDOW_ENTRIES long). Entries later than `nowMs` are dropped.
 */
export function decide(
  config: AutoscalerConfig,
  window: Recommendation[],
  nowMs: number,
  current: number,
  metric: number,
): { window: Recommendation[]; decision: AutoscalerDecision } {
  const c = config;
  const a = assess(c, current, metric);
  const past = window.filter((r) => r.atMs <= nowMs).sort((x, y) => x.atMs - y.atMs);
  const next = prune(c, [...past, { atMs: nowMs, size: a.size }], nowMs);
  const what = describe(c, a, metric);

  let desired = current;
  let reason: string;
  if (current < c.minPoolSize) {
    desired = c.minPoolSize;
    reason = `size ${current} below minPoolSize ${c.minPoolSize}: ${current} → ${desired}`;
  } else if (current > c.maxPoolSize) {
    desired = c.maxPoolSize;
    reason = `size ${current} above maxPoolSize ${c.maxPoolSize}: ${current} → ${desired}`;
  } else {
    const up = inEffect(next, nowMs, c.resizeUpStabilizationDelayMs);
    const down = inEffect(next, nowMs, c.resizeDownStabilizationDelayMs);
    const growTo = up ? Math.min(...up.map((r) => r.size)) : current;
    const shrinkTo = down ? Math.max(...down.map((r) => r.size)) : current;
    if (growTo > current) desired = growTo;
    else if (shrinkTo < current) desired = shrinkTo;
    desired = clamp(c, desired);

    if (desired !== current) {
      const since = runStart(next, (s) => (desired > current ? s > current : s < current), nowMs);
      reason = `${what} for ${formatDurationMs(nowMs - since)}: ${current} → ${desired}`;
    } else if (a.size !== current) {
      const growing = a.size > current;
      const since = runStart(next, (s) => (growing ? s > current : s < current), nowMs);
      const delay = growing ? c.resizeUpStabilizationDelayMs : c.resizeDownStabilizationDelayMs;
      reason =
        `waiting: scale-${growing ? 'up' : 'down'} stabilisation ` +
        `(${formatDurationMs(nowMs - since)} of ${formatDurationMs(delay)}); ${what}`;
    } else {
      reason = what + blockedBecause(c, a, current);
    }
  }

  return {
    window: next,
    decision: { atMs: nowMs, metric, current, recommended: a.size, desired, reason },
  };
}
