import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { place } from '../src/core/placement';
import type { ContainerDemand, HostContainer, HostSupply, Unplaced } from '../src/core/placement';
import { allocateSubnet } from '../src/core/ipam';
import { hostActivities } from './activity-options';
import { asUserFailure } from './failures';

/**
 * The host pool as one entity workflow: hosts, reservations and app subnets. Every placement goes
 * through its `reserve` update, and Temporal runs a workflow's handlers one at a time, so two
 * concurrent operations can never overcommit a host (Kubernetes' Reserve/Unreserve).
 */

export interface Reservation extends HostContainer {
  host: string;
  instance: string;
}

export interface InventoryState {
  pool: { cidr: string; prefixLength: number };
  hosts: Omit<HostSupply, 'containers' | 'reservations'>[];
  /** By `<app>/<instance>`. */
  reservations: Record<string, Reservation>;
  /** App → CIDR. */
  subnets: Record<string, string>;
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
  /** Non-empty means nothing was reserved (all or nothing). */
  unplaced: Unplaced[];
}

/** One host pool per task queue: the workers polling it manage the same hosts. */
export function inventoryWorkflowId(taskQueue: string): string {
  return taskQueue === 'berth' ? 'berth-inventory' : `berth-inventory-${taskQueue}`;
}
export const DEFAULT_POOL = { cidr: '10.201.0.0/16', prefixLength: 24 };

export const reserveUpdate = defineUpdate<ReserveResult, [ReserveRequest]>('reserve');
export const releaseUpdate = defineUpdate<number, [{ app: string; instances?: string[] }]>('release');
/** `inUse`: subnets of networks the engine already has (other tools, other pools), never handed out. */
export const subnetUpdate = defineUpdate<string, [{ app: string; requested?: string; inUse?: string[] }]>(
  'allocateSubnet',
);
export const releaseSubnetUpdate = defineUpdate<void, [{ app: string }]>('releaseSubnet');
export const inventoryQuery = defineQuery<InventoryState>('inventory');

const key = (app: string, instance: string) => `${app}/${instance}`;

export function supply(state: InventoryState): HostSupply[] {
  return state.hosts.map((h) => ({
    ...h,
    containers: [],
    reservations: Object.values(state.reservations).filter((r) => r.host === h.id),
  }));
}

export async function inventory(input: InventoryInput): Promise<void> {
  const state: InventoryState = input.state ?? {
    pool: input.pool ?? DEFAULT_POOL,
    hosts: [],
    reservations: {},
    subnets: {},
  };
  let ready = state.hosts.length > 0;

  setHandler(inventoryQuery, () => state);
  setHandler(reserveUpdate, async ({ app, containers }) => {
    await condition(() => ready);
    const fresh = containers.filter((c) => !state.reservations[key(app, c.instance)]);
    const result = asUserFailure(() => place({ containers: fresh, hosts: supply(state) }));
    if (result.unplaced.length > 0) return { hosts: {}, unplaced: result.unplaced };
    for (const p of result.placements) {
      const c = fresh.find((x) => x.instance === p.instance)!;
      state.reservations[key(app, p.instance)] = {
        host: p.host,
        app,
        service: c.service,
        instance: c.instance,
        image: c.image,
        cpus: c.cpus,
        memoryBytes: c.memoryBytes,
      };
    }
    const hosts: Record<string, string> = {};
    for (const c of containers) hosts[c.instance] = state.reservations[key(app, c.instance)].host;
    return { hosts, unplaced: [] };
  });
  setHandler(releaseUpdate, ({ app, instances }) => {
    let released = 0;
    for (const [k, r] of Object.entries(state.reservations)) {
      if (r.app === app && (!instances || instances.includes(r.instance))) {
        delete state.reservations[k];
        released++;
      }
    }
    return released;
  });
  setHandler(subnetUpdate, ({ app, requested, inUse = [] }) => {
    if (state.subnets[app]) return state.subnets[app];
    const taken = Object.entries(state.subnets)
      .filter(([a]) => a !== app)
      .map(([, cidr]) => cidr);
    const cidr = asUserFailure(() =>
      allocateSubnet(state.pool.cidr, state.pool.prefixLength, [...taken, ...inUse], requested),
    );
    state.subnets[app] = cidr;
    return cidr;
  });
  setHandler(releaseSubnetUpdate, ({ app }) => {
    delete state.subnets[app];
  });

  if (!ready) {
    state.hosts = [await hostActivities().describeLocalHost()];
    ready = true;
  }
  // An entity runs for months: hand over to a fresh run before the history grows too long.
  await condition(() => workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof inventory>({ state });
}
