/** Typed, validated access to a strategy's configuration, with one-line error messages. */
import { UserError } from '../errors';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `8GiB`, `512Mi`, `1.5G`, `1000` (bytes) or a number of bytes; undefined when malformed. */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

export function formatBytes(bytes: number): string {
  for (const [u, f] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= f && bytes % (f / 1024) === 0) return `${+(bytes / f).toFixed(2)}${u}`;
  }
  return `${bytes}B`;
}

/**
 * A strategy's configuration is wrong. `key` names the config key at fault (a path such as
 * `constraints[0].label` for nested values), `problem` says what is wrong without the prefix, so a
 * blueprint can report it at that key's line and column.
 */
export class StrategyConfigError extends UserError {
  constructor(
    message: string,
    readonly problem = message,
    readonly key?: string,
  ) {
    super(message);
    this.name = 'StrategyConfigError';
  }
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * Reads one strategy's config. Every key a strategy reads is marked as used; `done()` rejects
 * unknown plain keys (typos) but ignores dotted Brooklyn keys (`docker.…`) it does not understand.
 * A key may have aliases: the first name is the native one, the others Clocker's.
 */
export class ConfigReader {
  private used = new Set<string>();
  /** Written key → the strategy's native name for it (the first of the names it reads). */
  private native = new Map<string, string>();

  constructor(
    readonly strategy: string,
    readonly config: Record<string, unknown>,
    /** Prefix naming where the chain came from, e.g. `bp.yaml:3:5: service 'web'`. */
    readonly where = '',
    /** Reject unknown dotted (Brooklyn) keys too, as a blueprint does; code and inventories skip them. */
    readonly strictKeys = false,
  ) {}

  fail(key: string, expected: string, got: unknown): never {
    this.raise(`key '${key}' must be ${expected}, got ${show(got)}`, key);
  }

  failMessage(message: string, key?: string): never {
    this.raise(message, key);
  }

  private raise(problem: string, key?: string): never {
    const prefix = this.where ? `${this.where}: ` : '';
    throw new StrategyConfigError(`${prefix}placement strategy '${this.strategy}': ${problem}`, problem, key);
  }

  /** The value of the first present key among `keys`, and its name. */
  raw(keys: string | string[]): { key: string; value: unknown } | undefined {
    const names = typeof keys === 'string' ? [keys] : keys;
    for (const k of names) {
      this.used.add(k);
      this.native.set(k, names[0]);
      if (this.config[k] !== undefined && this.config[k] !== null) return { key: k, value: this.config[k] };
    }
    return undefined;
  }

  /** The configuration with every key the strategy read under its native name (Clocker aliases renamed). */
  normalized(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.config).map(([k, v]) => [this.native.get(k) ?? k, v]));
  }

  number(
    keys: string | string[],
    def: number,
    opts: { min?: number; max?: number; integer?: boolean } = {},
  ): number {
    return this.optionalNumber(keys, opts) ?? def;
  }

  optionalNumber(
    keys: string | string[],
    opts: { min?: number; max?: number; integer?: boolean } = {},
  ): number | undefined {
    const r = this.raw(keys);
    if (!r) return undefined;
    let v = r.value;
    if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) v = Number(v);
    const what = `${opts.integer ? 'an integer' : 'a number'}${
      opts.min !== undefined && opts.max !== undefined
        ? ` between ${opts.min} and ${opts.max}`
        : opts.min !== undefined
          ? ` >= ${opts.min}`
          : ''
    }`;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(r.key, what, r.value);
    if (opts.integer && !Number.isInteger(v)) this.fail(r.key, what, r.value);
    if (opts.min !== undefined && v < opts.min) this.fail(r.key, what, r.value);
    if (opts.max !== undefined && v > opts.max) this.fail(r.key, what, r.value);
    return v;
  }

  string(keys: string | string[], def: string): string;
  string(keys: string | string[]): string | undefined;
  string(keys: string | string[], def?: string): string | undefined {
    const r = this.raw(keys);
    if (!r) return def;
    if (typeof r.value === 'number' || typeof r.value === 'boolean') return String(r.value);
    if (typeof r.value !== 'string') this.fail(r.key, 'a string', r.value);
    return r.value;
  }

  boolean(keys: string | string[], def: boolean): boolean {
    const r = this.raw(keys);
    if (!r) return def;
    if (r.value === 'true' || r.value === 'false') return r.value === 'true';
    if (typeof r.value !== 'boolean') this.fail(r.key, 'true or false', r.value);
    return r.value;
  }

  /** A list of strings; a single string is split on commas. */
  stringList(keys: string | string[]): string[] | undefined {
    const r = this.raw(keys);
    if (!r) return undefined;
    if (typeof r.value === 'string')
      return r.value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    if (!Array.isArray(r.value) || r.value.some((x) => typeof x !== 'string' && typeof x !== 'number'))
      this.fail(r.key, 'a list of strings', r.value);
    return r.value.map(String);
  }

  bytes(keys: string | string[], def: number): number {
    const r = this.raw(keys);
    if (!r) return def;
    const b = parseBytes(r.value);
    if (b === undefined) this.fail(r.key, 'a size like 8GiB or a number of bytes', r.value);
    return b;
  }

  stringMap(keys: string | string[]): Record<string, string> | undefined {
    const r = this.raw(keys);
    if (!r) return undefined;
    const v = r.value;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(r.key, 'a mapping of strings', v);
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
  }

  list(keys: string | string[]): unknown[] | undefined {
    const r = this.raw(keys);
    if (!r) return undefined;
    if (!Array.isArray(r.value)) this.fail(r.key, 'a list', r.value);
    return r.value;
  }

  /** The plain (native) keys this strategy reads, once every key has been read. */
  knownKeys(): string[] {
    return [...this.used].filter((u) => !u.includes('.'));
  }

  /** Rejects unknown keys (call after reading every key the strategy understands). */
  done(): void {
    for (const k of Object.keys(this.config)) {
      if (!this.used.has(k) && (this.strictKeys || !k.includes('.'))) {
        const known = this.knownKeys();
        this.failMessage(
          `unknown key '${k}'${known.length ? ` (known: ${known.join(', ')})` : ' (it takes no parameters)'}`,
          k,
        );
      }
    }
  }
}
