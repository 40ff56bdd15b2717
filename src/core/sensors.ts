/**
 * What the HTTP sensor endpoint and `berth sensor` accept, checked before anything reaches
 * Temporal: names by Berth's rules, and values as plain decimal numbers.
 */
import { isDnsLabel } from './names';
import { printable } from './errors';

/**
 * A plain decimal number: an optional '-', up to 15 digits, optionally '.' and up to 15 digits
 * (`42`, `-1.5`, `0.25`). Not `0x10`, `0b101`, `1e3`, `5e-324`, `Infinity`, `+1` or `.5`: `Number()`
 * reads those too, with meanings a metric seldom intends, and 15 digits is what a double keeps.
 */
const DECIMAL = /^-?\d{1,15}(\.\d{1,15})?$/;

export const SENSOR_VALUE_EXPECTED = 'a plain decimal number like 42 or -1.5';

/** The number written as `text`, or undefined when it is not a plain decimal. */
export function parseDecimal(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** A JSON number is accepted when its shortest decimal form is plain (`1e3` is 1000; `5e-324` is not). */
export function isPlainDecimal(value: number): boolean {
  return Number.isFinite(value) && DECIMAL.test(String(value));
}

/** Metric names: letters, digits, '_', '.', ':' and '-', starting with a letter, digit or '_'. */
const METRIC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Why an app, service and metric name cannot be a sensor's target, or undefined when they can. */
export function sensorTargetProblem(app: string, service: string, name: string): string | undefined {
  const shown = (s: string) => printable(JSON.stringify(s.length > 70 ? `${s.slice(0, 67)}...` : s));
  if (!isDnsLabel(app))
    return `APP must be a DNS label (a-z, 0-9, '-'; at most 63 characters), got ${shown(app)}`;
  if (!isDnsLabel(service))
    return `SERVICE must be a DNS label (a-z, 0-9, '-'; at most 63 characters), got ${shown(service)}`;
  if (!isMetricName(name))
    return `NAME must be a metric name (letters, digits, '_', '.', ':', '-'; at most 128 characters), got ${shown(name)}`;
  return undefined;
}
