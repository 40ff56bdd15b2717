/** Human-readable numbers and durations for policy decisions. Pure. */

/**
 * A duration in Go's style: `0s`, `250ms`, `1.5s`, `30s`, `2m0s`, `5m0s`, `1h0m0s`. Sub-second
 * amounts keep milliseconds; longer ones show hours, minutes and (possibly fractional) seconds.
 */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDurationMs(-ms)}`;
  const rounded = Math.round(ms);
  if (rounded === 0) return '0s';
  if (rounded < 1000) return `${rounded}ms`;
  const h = Math.floor(rounded / 3_600_000);
  const m = Math.floor((rounded % 3_600_000) / 60_000);
  const s = `${(rounded % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}

/** A metric value with at most two decimals: `93.1`, `0.25`, `80`. */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Math.round(value * 100) / 100);
}
