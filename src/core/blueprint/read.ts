/**
 * Typed readers for entry values. Each reports `key 'K'<where> must be <expected>, got <actual>` at
 * the value's position and returns `undefined` when the value does not fit.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { at, describe, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import type { Parsed } from './units';

export function expected(ctx: Ctx, e: Entry, where: string, what: string, node: Node | null = e.value): void {
  report(ctx, node ?? e.keyNode, `key '${e.key}'${where} must be ${what}, got ${describe(node)}`, e.key);
}

const DSL_HINT = "Brooklyn DSL ('$brooklyn:...') is only supported in env values, links and dependsOn";

/** A plain string (numbers and booleans are taken as written). */
export function readString(ctx: Ctx, e: Entry, where: string, what = 'a string'): string | undefined {
  const text = textOf(e.value);
  if (text === undefined || text === '') {
    expected(ctx, e, where, what);
    return undefined;
  }
  if (text.startsWith('$brooklyn:')) {
    report(ctx, at(e), `key '${e.key}'${where} must be ${what}; ${DSL_HINT}`, e.key);
    return undefined;
  }
  return text;
}

export function readNumber(
  ctx: Ctx,
  e: Entry,
  where: string,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const v = isScalar(e.value) ? e.value.value : undefined;
  const what = `${opts.integer ? 'a whole number' : 'a number'}${range(opts)}`;
  if (typeof v !== 'number' || (opts.integer && !Number.isInteger(v))) {
    expected(ctx, e, where, what);
    return undefined;
  }
  if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    expected(ctx, e, where, what);
    return undefined;
  }
  return v;
}

function range(opts: { min?: number; max?: number }): string {
  if (opts.min !== undefined && opts.max !== undefined) return ` between ${opts.min} and ${opts.max}`;
  if (opts.min !== undefined) return ` >= ${opts.min}`;
  if (opts.max !== undefined) return ` <= ${opts.max}`;
  return '';
}

export function readBoolean(ctx: Ctx, e: Entry, where: string): boolean | undefined {
  const v = isScalar(e.value) ? e.value.value : undefined;
  if (typeof v !== 'boolean') {
    expected(ctx, e, where, 'true or false');
    return undefined;
  }
  return v;
}

/** A value parsed by a units function (`parseMemory`, `parseDuration`...). */
export function readUnit<T>(
  ctx: Ctx,
  e: Entry,
  where: string,
  parse: (s: string) => Parsed<T>,
): T | undefined {
  const parsed = parse(textOf(e.value) ?? '');
  if (!parsed.ok) {
    expected(ctx, e, where, parsed.expected);
    return undefined;
  }
  return parsed.value;
}

/** A list of strings; a single string is accepted as a list of one. */
export function readStringList(
  ctx: Ctx,
  e: Entry,
  where: string,
  what = 'a list of strings',
): string[] | undefined {
  if (isScalar(e.value)) {
    const s = readString(ctx, e, where, what);
    return s === undefined ? undefined : [s];
  }
  if (!isSeq(e.value)) {
    expected(ctx, e, where, what);
    return undefined;
  }
  const out: string[] = [];
  let bad = false;
  for (const item of items(ctx, e.value)) {
    const s = textOf(item);
    if (s === undefined || s === '') {
      expected(ctx, e, where, what, item);
      bad = true;
    } else out.push(s);
  }
  return bad ? undefined : out;
}

/** The entries of a mapping value, or `undefined` (reported) when it is not a mapping. */
export function readMap(ctx: Ctx, e: Entry, where: string, what = 'a mapping'): Entry[] | undefined {
  if (!isMap(e.value)) {
    expected(ctx, e, where, what);
    return undefined;
  }
  return entries(ctx, e.value);
}

/** A command: a list of arguments, or a string run by `sh -c` (Docker's shell form). */
export function readCommand(ctx: Ctx, e: Entry, where: string): string[] | undefined {
  const what = "a command: a list of arguments, or a string run with 'sh -c'";
  if (isScalar(e.value)) {
    const s = readString(ctx, e, where, what);
    return s === undefined ? undefined : ['sh', '-c', s];
  }
  return readStringList(ctx, e, where, what);
}
