/** Ports, memory sizes, CPU amounts and durations, as written in blueprints. Pure parsing, no I/O. */
import type { PortSpec } from './model';

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

export function isPortNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

export const PORT_EXPECTED =
  "a port like '8080', '8081:80' (host:container) or '0:80/udp' (random host port)";

/**
 * Native port syntax: `8080` (exposed on the app network only), `8081:80` (host port 8081 forwarded
 * to container port 80), `0:80` (a random free host port), each with an optional `/tcp` or `/udp`.
 */
export function parsePort(text: string): Parsed<PortSpec> {
  const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/i.exec(text.trim());
  if (!m) return fail(PORT_EXPECTED);
  const container = Number(m[2]);
  const host = m[1] === undefined ? undefined : Number(m[1]);
  if (!isPortNumber(container) || (host !== undefined && host !== 0 && !isPortNumber(host))) {
    return fail('port numbers between 1 and 65535 (0 for a random host port)');
  }
  const spec: PortSpec = { container, protocol: (m[3]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' };
  if (host !== undefined) spec.host = host;
  return ok(spec);
}

const MEMORY_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  ki: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

export const MEMORY_EXPECTED = "a memory size like '256MiB', '512m' or '2g' (a plain number means MiB)";

/**
 * Memory sizes: `256MiB`, `1GiB`, `512m`, `2g` (Docker and Brooklyn letters are binary), `100MB`
 * (decimal). A plain number means MiB, as Brooklyn's `minRam`.
 */
export function parseMemory(text: string): Parsed<number> {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return fail(MEMORY_EXPECTED);
  const unit = m[2].toLowerCase();
  const factor = unit === '' ? 1024 ** 2 : MEMORY_UNITS[unit];
  if (factor === undefined) return fail(MEMORY_EXPECTED);
  const bytes = Math.round(Number(m[1]) * factor);
  return bytes > 0 ? ok(bytes) : fail(MEMORY_EXPECTED);
}

export const CPU_EXPECTED = "a CPU amount like 0.5, 2 or '500m' (millicores)";

/** CPU amounts in cores: `0.5`, `2`, or millicores `500m`. */
export function parseCpus(text: string): Parsed<number> {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(text.trim());
  if (!m) return fail(CPU_EXPECTED);
  const cpus = m[2] ? Number(m[1]) / 1000 : Number(m[1]);
  return cpus > 0 ? ok(cpus) : fail(CPU_EXPECTED);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  days: 86_400_000,
};

export const DURATION_EXPECTED = "a duration like '500ms', '10s', '5m' or '1h' (a plain number means ms)";

/** Durations: `500ms`, `10s`, `5m`, `1h`, `1d`; a plain number is milliseconds (Brooklyn's rule). */
export function parseDuration(text: string): Parsed<number> {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return fail(DURATION_EXPECTED);
  const factor = m[2] === '' ? 1 : DURATION_UNITS[m[2].toLowerCase()];
  if (factor === undefined) return fail(DURATION_EXPECTED);
  return ok(Math.round(Number(m[1]) * factor));
}
