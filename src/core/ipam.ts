import * as ipaddr from 'ipaddr.js';
import { UserError } from './errors';

/**
 * IP address management, pure and deterministic: app subnets carved from a pool, instance
 * addresses inside a subnet. IPv4 only (Docker bridge networks, Clocker's "apps segmented by CIDR").
 * Everything works on 32-bit integers; ipaddr.js only parses and validates.
 */

/** Apps get `/24`s out of `10.201.0.0/16` unless configured otherwise. */
export const DEFAULT_POOL_CIDR = '10.201.0.0/16';
export const DEFAULT_SUBNET_PREFIX = 24;

/**
 * Berth's DNS server listens on the gateway of its own bridge network, `berth-dns`, in this subnet.
 * It sits at the top of the default pool, so `allocateSubnet` treats it as taken by default.
 */
export const DEFAULT_DNS_SUBNET = '10.201.255.0/24';
export const DEFAULT_DNS_NETWORK = 'berth-dns';

/** Subnets with no room for a network address, a gateway, one instance and a broadcast address. */
const MAX_SUBNET_PREFIX = 30;

interface Range {
  /** Network address as an unsigned 32-bit integer. */
  start: number;
  prefix: number;
  cidr: string;
}

const size = (prefix: number) => 2 ** (32 - prefix);

function toInt(address: ipaddr.IPv4): number {
  return address.octets.reduce((n, o) => n * 256 + o, 0);
}

function toAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n` strictly: four decimal parts, a prefix, no host bits set. */
export function parseCidr(cidr: string, what = 'subnet'): Range {
  const text = String(cidr).trim();
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[1]) || Number(m[2]) > 32) {
    throw new UserError(`${what} '${cidr}' is not an IPv4 CIDR such as 10.201.3.0/24`);
  }
  const prefix = Number(m[2]);
  const address = toInt(ipaddr.IPv4.parse(m[1]));
  const start = prefix === 0 ? 0 : address - (address % size(prefix));
  if (start !== address) {
    throw new UserError(`${what} '${cidr}' has host bits set; did you mean '${toAddress(start)}/${prefix}'?`);
  }
  return { start, prefix, cidr: `${toAddress(start)}/${prefix}` };
}

function parseAddress(address: string, what = 'address'): number {
  const text = String(address).trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
    throw new UserError(`${what} '${address}' is not an IPv4 address such as 10.201.3.2`);
  }
  return toInt(ipaddr.IPv4.parse(text));
}

function overlaps(a: Range, b: Range): boolean {
  return a.start < b.start + size(b.prefix) && b.start < a.start + size(a.prefix);
}

/** Taken entries may be CIDRs or single addresses (a bare address is its own /32). */
function parseTaken(taken: string[]): Range[] {
  return taken.map((t) =>
    t.includes('/') ? parseCidr(t, 'taken subnet') : parseCidr(`${t}/32`, 'taken address'),
  );
}

/**
 * The app's subnet. Without `requested`: the lowest `/prefixLength` of `pool` that overlaps none of
 * `taken` (and none of `reserved`, by default Berth's DNS subnet). With `requested` (a blueprint's
 * `network.cidr`, inside or outside the pool): that CIDR, if it overlaps nothing taken.
 * Returns the normalised CIDR; throws a UserError on malformed input, overlap or exhaustion.
 */
export function allocateSubnet(
  pool: string,
  prefixLength: number,
  taken: string[],
  requested?: string,
  reserved: string[] = [DEFAULT_DNS_SUBNET],
): string {
  const reservedRanges = parseTaken(reserved);
  const used = [...parseTaken(taken), ...reservedRanges];
  if (requested !== undefined && requested !== '') {
    const want = parseCidr(requested, 'requested subnet');
    if (want.prefix > MAX_SUBNET_PREFIX) {
      throw new UserError(
        `requested subnet '${requested}' is too small: a subnet needs at least a /${MAX_SUBNET_PREFIX}`,
      );
    }
    const clash = used.find((u) => overlaps(want, u));
    if (clash) {
      const why = reservedRanges.includes(clash) ? "reserved for Berth's DNS server" : 'already in use';
      throw new UserError(`requested subnet ${want.cidr} overlaps ${clash.cidr}, ${why}`);
    }
    return want.cidr;
  }
  const range = parseCidr(pool, 'subnet pool');
  if (!Number.isInteger(prefixLength) || prefixLength < range.prefix || prefixLength > MAX_SUBNET_PREFIX) {
    throw new UserError(
      `subnet prefix length ${prefixLength} does not fit pool ${range.cidr}: use /${range.prefix} to /${MAX_SUBNET_PREFIX}`,
    );
  }
  const step = size(prefixLength);
  const end = range.start + size(range.prefix);
  // One pass over the taken ranges sorted by start: the candidate only moves up, past each one it
  // overlaps, so a /8 pool of /30s costs O(taken log taken), not a walk over every subnet.
  const blockers = used.filter((u) => overlaps(range, u)).sort((a, b) => a.start - b.start);
  let candidate = range.start;
  for (const b of blockers) {
    if (candidate + step > end) break;
    if (overlaps({ start: candidate, prefix: prefixLength, cidr: '' }, b)) {
      candidate = Math.ceil((b.start + size(b.prefix)) / step) * step;
    }
  }
  if (candidate + step > end) {
    throw new UserError(
      `no free /${prefixLength} subnet left in pool ${range.cidr} (${blockers.length} taken): destroy an app or configure a larger pool`,
    );
  }
  return `${toAddress(candidate)}/${prefixLength}`;
}

/** The gateway of a subnet: its first host address (Docker's default, and where the host answers). */
export function gatewayOf(subnet: string): string {
  const s = parseCidr(subnet);
  if (s.prefix > MAX_SUBNET_PREFIX) throw new UserError(`subnet ${s.cidr} has no room for a gateway`);
  return toAddress(s.start + 1);
}

/**
 * The part of a subnet Docker may hand out by itself (`IPRange`): its top quarter. A swarm overlay
 * gives every node's load-balancer endpoint an address, lowest free first, which would otherwise
 * take the very addresses Berth assigns to instances. Undefined for subnets too small to split.
 */
export function dynamicRangeOf(subnet: string): string | undefined {
  const s = parseCidr(subnet);
  if (s.prefix > 28) return undefined;
  return `${toAddress(s.start + (size(s.prefix) / 4) * 3)}/${s.prefix + 2}`;
}

/** True when `address` is a usable instance address of `subnet` (not network, gateway or broadcast). */
export function isAssignable(subnet: string, address: string): boolean {
  const s = parseCidr(subnet);
  const a = parseAddress(address);
  return a > s.start + 1 && a < s.start + size(s.prefix) - 1;
}

/**
 * An instance address in `subnet`: `preferred` when it is assignable and free (a replaced container
 * keeps its address), otherwise the lowest free one after the gateway. `taken` lists the addresses
 * other instances hold (entries outside the subnet are ignored); a released address is simply no
 * longer in it. Throws a UserError when the subnet is full.
 */
export function assignAddress(subnet: string, taken: string[], preferred?: string, avoid?: string): string {
  const s = parseCidr(subnet);
  if (s.prefix > MAX_SUBNET_PREFIX)
    throw new UserError(`subnet ${s.cidr} has no room for instance addresses`);
  const first = s.start + 2;
  let last = s.start + size(s.prefix) - 2;
  if (avoid) {
    const a = parseCidr(avoid, 'dynamic range');
    // The dynamic range sits at the top of the subnet: instance addresses stop below it.
    if (a.start > first && a.start <= last + 1) last = a.start - 1;
  }
  const used = new Set<number>();
  for (const t of taken) {
    const n = parseAddress(t.includes('/') ? t.slice(0, t.indexOf('/')) : t, 'taken address');
    if (n >= first && n <= last) used.add(n);
  }
  if (preferred !== undefined && preferred !== '') {
    const p = parseAddress(preferred, 'preferred address');
    if (p >= first && p <= last && !used.has(p)) return toAddress(p);
  }
  // At most used.size + 1 steps: the first gap is within that many addresses of `first`.
  for (let n = first; n <= last; n++) if (!used.has(n)) return toAddress(n);
  throw new UserError(
    `subnet ${s.cidr} is full: all ${last - first + 1} instance addresses are taken (use a larger network.cidr)`,
  );
}
