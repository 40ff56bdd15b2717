import { UserError } from '../core/errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `250ms`, `2s`, `1.5m`, or a bare number of milliseconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UserError(`${option}: '${text}' is not a duration (examples: 500ms, 2s, 1m)`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']);
}

/** A whole number >= 1. */
export function parseCount(text: string, option: string): number {
  if (!/^[1-9]\d*$/.test(text.trim())) throw new UserError(`${option}: '${text}' is not a whole number >= 1`);
  return Number(text);
}
