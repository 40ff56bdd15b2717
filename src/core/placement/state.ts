/**
 * Per-host counters the strategies read, kept in typed arrays and updated incrementally after each
 * placement, so a placement costs O(hosts × strategies) with no allocation per host.
 *
 * Hosts are indexed 0..n-1 in ascending id order (then provisioned hosts, in the order they were
 * added): ties broken "by lowest index" are therefore ties broken by host id.
 */
import type { ContainerDemand, HostContainer, HostSupply } from './types';

export type GroupKind = 'service' | 'app' | 'image';

/** The key of a counter group: containers of one service (`app/service`), one app, or one image. */
export function groupKey(kind: GroupKind, app: string, name: string): string {
  if (kind === 'service') return `s\u0000${app}\u0000${name}`;
  if (kind === 'app') return `a\u0000${name}`;
  return `i\u0000${name}`;
}

export class ClusterState {
  /** Number of hosts. */
  n = 0;
  /** Bumped when a host is removed, so strategies drop caches indexed by host. */
  epoch = 0;
  ids: string[] = [];
  labels: Record<string, string>[] = [];
  profiles: (string | undefined)[] = [];
  /** True for hosts added by provisioning in this run. */
  provisioned: boolean[] = [];
  cpuCap: Float64Array;
  memCap: Float64Array;
  cpuUsed: Float64Array;
  memUsed: Float64Array;
  /** Observed load (0..1) plus the CPU requested by this run's placements, as a fraction. */
  load: Float64Array;
  containers: Int32Array;
  /** Bumped (to a run-unique value) whenever a host's counters change: a key for per-host caches. */
  version: Int32Array;
  private versionCounter = 0;
  private groups = new Map<string, Int32Array>();
  /** Group keys already made, so a placement's counting builds no strings. */
  private keys = new Map<string, Map<string, string>>();
  private capacity: number;

  constructor(hosts: readonly HostSupply[]) {
    this.capacity = Math.max(16, hosts.length + 8);
    this.cpuCap = new Float64Array(this.capacity);
    this.memCap = new Float64Array(this.capacity);
    this.cpuUsed = new Float64Array(this.capacity);
    this.memUsed = new Float64Array(this.capacity);
    this.load = new Float64Array(this.capacity);
    this.containers = new Int32Array(this.capacity);
    this.version = new Int32Array(this.capacity);
    const sorted = [...hosts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].id === sorted[i - 1].id) throw new Error(`duplicate host id '${sorted[i].id}'`);
    }
    for (const h of sorted) this.addHost(h, false);
  }

  /** `groupKey`, remembered: the same string each time for the same names. */
  keyOf(kind: GroupKind, app: string, name: string): string {
    const head = kind === 'service' ? app : kind === 'app' ? '\u0000a' : `\u0000i${app}`;
    let byName = this.keys.get(head);
    if (!byName) this.keys.set(head, (byName = new Map()));
    let key = byName.get(name);
    if (key === undefined) byName.set(name, (key = groupKey(kind, app, name)));
    return key;
  }

  /** The counter array of a group, by host index (created on first use, all zeros). */
  group(key: string): Int32Array {
    let g = this.groups.get(key);
    if (!g) {
      g = new Int32Array(this.capacity);
      this.groups.set(key, g);
    }
    return g;
  }

  /** How many containers of `app/service` (or app, or image) a host runs. */
  countOf(kind: GroupKind, app: string, name: string, host: number): number {
    return this.groups.get(groupKey(kind, app, name))?.[host] ?? 0;
  }

  freeCpus(host: number): number {
    return this.cpuCap[host] - this.cpuUsed[host];
  }

  freeMemory(host: number): number {
    return this.memCap[host] - this.memUsed[host];
  }

  indexOf(id: string): number {
    return this.ids.indexOf(id);
  }

  addHost(h: HostSupply, provisioned: boolean): number {
    if (this.n === this.capacity) this.grow();
    const i = this.n++;
    this.ids.push(h.id);
    this.labels.push(h.labels);
    this.profiles.push(h.profile);
    this.provisioned.push(provisioned);
    this.cpuCap[i] = h.cpus;
    this.memCap[i] = h.memoryBytes;
    this.cpuUsed[i] = 0;
    this.memUsed[i] = 0;
    this.containers[i] = 0;
    this.load[i] = h.cpuUsage ?? 0;
    this.version[i] = ++this.versionCounter;
    for (const c of h.containers) this.account(i, c, false);
    for (const c of h.reservations ?? []) this.account(i, c, false);
    return i;
  }

  /** Undoes the last `addHost` (a provisioning attempt whose new host would not fit). */
  removeLastHost(): void {
    const i = --this.n;
    this.ids.pop();
    this.labels.pop();
    this.profiles.pop();
    this.provisioned.pop();
    for (const g of this.groups.values()) g[i] = 0;
    this.epoch++;
  }

  /** Counts a container on a host; `inRun` containers also add their CPU request to the load. */
  account(host: number, c: HostContainer | ContainerDemand, inRun: boolean): void {
    const cpus = c.cpus ?? 0;
    this.cpuUsed[host] += cpus;
    this.memUsed[host] += c.memoryBytes ?? 0;
    this.containers[host]++;
    this.version[host] = ++this.versionCounter;
    if (inRun && this.cpuCap[host] > 0) this.load[host] += cpus / this.cpuCap[host];
    if (c.service) this.group(this.keyOf('service', c.app, c.service))[host]++;
    if (c.app) this.group(this.keyOf('app', c.app, c.app))[host]++;
    if (c.image) this.group(this.keyOf('image', c.app, c.image))[host]++;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const f = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.cpuCap = f(this.cpuCap);
    this.memCap = f(this.memCap);
    this.cpuUsed = f(this.cpuUsed);
    this.memUsed = f(this.memUsed);
    this.load = f(this.load);
    const c = new Int32Array(cap);
    c.set(this.containers);
    this.containers = c;
    const v = new Int32Array(cap);
    v.set(this.version);
    this.version = v;
    for (const [k, g] of this.groups) {
      const b = new Int32Array(cap);
      b.set(g);
      this.groups.set(k, b);
    }
    this.capacity = cap;
  }
}
