/**
 * The contract of the host pool's entity workflow (`berth-inventory[-<queue>]`, see
 * `inventoryWorkflowId`): its state, the updates that reserve, release and change hosts, the
 * queries and signals. Implementation: `workflows/inventory.ts`; clients: `src/clients/inventory.ts`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { HostConnection } from '../../src/core/hosts';
import type { ContainerDemand, HostContainer, HostSupply, Unplaced } from '../../src/core/placement';

/** The workflow type, for clients that start it (update-with-start). */
export const INVENTORY_WORKFLOW_TYPE = 'inventory';

export interface Reservation extends HostContainer {
  host: string;
  instance: string;
}

export type HostStatus = 'ready' | 'draining' | 'failed';

export interface HostRecord extends Omit<HostSupply, 'containers' | 'reservations'> {
  connection: HostConnection;
  status: HostStatus;
  /** The local engine the pool starts with; it makes way for the first host added. */
  implicit?: boolean;
  swarmRole?: 'manager' | 'worker';
  /** Consecutive sensing rounds it did not answer. */
  misses?: number;
  sensors?: HostSensors;
  failedReason?: string;
  /** What it was before it failed: a draining host that comes back is still draining. */
  failedFrom?: HostStatus;
  /** Consecutive sensing rounds a failed host answered (it rejoins at `failureThreshold`). */
  answers?: number;
  /** The last time it failed and came back. */
  rejoined?: HostRejoin;
  /** Why the last attempt to take a returning host back did not succeed. */
  rejoinError?: string;
  /**
   * False while a failed host is still on the swarm's books (no leader could remove it yet; tried
   * again each round): it must be off them before it can come back, or its old containers would
   * rejoin the overlay with it.
   */
  evicted?: boolean;
}

export interface HostRejoin {
  /** Workflow time it was ready again. */
  atMs: number;
  /** Why it had failed. */
  failure: string;
  /** Berth containers left on it from before (their instances run elsewhere now), removed. */
  removedContainers: number;
}

export interface HostSensors {
  containers: number;
  running: number;
  /** Share of the host's cores its running containers used since the last reading, 0..1 (engine stats). */
  cpu?: number;
  /** Share of the host's memory its running containers use, without page cache, 0..1 (engine stats). */
  memory?: number;
  /** Memory its running containers use, bytes. */
  memoryBytes?: number;
  /**
   * Load over cores (1 = every core busy): the kernel's 1-minute load average on ssh hosts; on netns
   * hosts, which share the machine's /proc, the 1-minute moving average of `cpu`.
   */
  load?: number;
  /** Workflow time of the reading. */
  atMs: number;
}

export interface NetnsProvider {
  kind: 'netns';
  prefix: string;
  /** First three octets of the hosts' LAN (`10.213.5`). */
  lan: string;
  /** The pool never grows past this many hosts through provisioning. */
  maxHosts: number;
}

export interface PoolSettings {
  /** How often hosts are sensed (from one round's start to the next). Default 5 s. */
  sensorIntervalMs: number;
  /** Consecutive missed rounds before a host is failed. Default 3. */
  failureThreshold: number;
}

export interface InventoryState {
  pool: { cidr: string; prefixLength: number };
  hosts: HostRecord[];
  /** By `<app>/<instance>`. */
  reservations: Record<string, Reservation>;
  /** App → CIDR. */
  subnets: Record<string, string>;
  /** `host:port` of the pool's registry, once it has remote hosts. */
  registry?: string;
  provider?: NetnsProvider;
  settings?: Partial<PoolSettings>;
  /** Index of the next netns host (never reused, so addresses and names stay unique). */
  nextNetnsIndex?: number;
  /** Set once a resilience policy needs failure events: every host then has a watcher workflow. */
  watching?: boolean;
}

export interface InventoryInput {
  pool?: { cidr: string; prefixLength: number };
  state?: InventoryState;
}

export interface ReserveRequest {
  app: string;
  containers: ContainerDemand[];
}

export interface ReserveResult {
  /** Instance → host, for every requested container (earlier reservations keep their host). */
  hosts: Record<string, string>;
  /** How to reach each host named in `hosts`. */
  connections: Record<string, HostConnection>;
  /** Non-empty means nothing was reserved (all or nothing). */
  unplaced: Unplaced[];
  /** Hosts added by provisioning for this request. */
  provisioned?: string[];
}

/** What an operation needs to know about the pool before placing anything. */
export interface PoolView {
  /** Hosts whose containers count: ready and draining ones (failed hosts are out of reach). */
  hosts: HostConnection[];
  /** Apps span hosts on a swarm overlay network (when the pool has remote hosts). */
  overlay?: { manager: HostConnection };
  /** Where built images are pushed and pulled from. */
  registry?: string;
  /** The host images are built on. */
  buildHost?: HostConnection;
}

export interface HostView {
  id: string;
  provider: string;
  address?: string;
  status: HostStatus;
  cpus: number;
  memoryBytes: number;
  swarmRole?: string;
  reservations: number;
  sensors?: HostSensors;
  failedReason?: string;
  rejoined?: HostRejoin;
  rejoinError?: string;
  /** `host:port` of the pool's registry when it runs on this host. */
  registry?: string;
}

/**
 * What `berth plan` places against: the hosts placement would consider now (ready ones, with the
 * sensed CPU use and every reservation but the planned app's own), and the hosts the planned app's
 * instances are reserved on already (a reserved instance keeps its host, as `reserve` does).
 */
export interface PlacementView {
  hosts: HostSupply[];
  /** Instance → host, for the planned app. */
  reserved: Record<string, string>;
}

export interface AddHostRequest {
  connection: HostConnection;
}
export interface NetnsRequest {
  provider?: Omit<NetnsProvider, 'kind'>;
  /** How many netns hosts to create now. */
  count?: number;
}

export const DEFAULT_POOL = { cidr: '10.201.0.0/16', prefixLength: 24 };
export const DEFAULT_POOL_SETTINGS: PoolSettings = { sensorIntervalMs: 5_000, failureThreshold: 3 };

export const reserveUpdate = defineUpdate<ReserveResult, [ReserveRequest]>('reserve');
export const releaseUpdate = defineUpdate<number, [{ app: string; instances?: string[] }]>('release');
/** `inUse`: subnets of networks the engine already has (other tools, other pools), never handed out. */
export const subnetUpdate = defineUpdate<string, [{ app: string; requested?: string; inUse?: string[] }]>(
  'allocateSubnet',
);
export const releaseSubnetUpdate = defineUpdate<void, [{ app: string }]>('releaseSubnet');
export const poolUpdate = defineUpdate<PoolView, []>('describePool');
export const addHostUpdate = defineUpdate<HostView, [AddHostRequest]>('addHost');
export const addNetnsHostsUpdate = defineUpdate<HostView[], [NetnsRequest]>('addNetnsHosts');
export const drainHostUpdate = defineUpdate<{ host: HostView; apps: string[] }, [{ id: string }]>(
  'drainHost',
);
export const removeHostUpdate = defineUpdate<HostView, [{ id: string }]>('removeHost');
export const settingsUpdate = defineUpdate<PoolSettings, [Partial<PoolSettings>]>('configurePool');
export const inventoryQuery = defineQuery<InventoryState>('inventory');
export const hostsQuery = defineQuery<HostView[]>('hosts');
export const placementQuery = defineQuery<PlacementView, [{ app?: string }]>('placement');
/** Asks the pool to run a watcher of Docker events on every host (resilience policies need it). */
export const watchHostsSignal = defineSignal('watchHosts');
