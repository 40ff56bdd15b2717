/**
 * The host pool's state and what changes it, as one class (the shape of Temporal's
 * safe-message-handlers sample): the inventory workflow's handlers are one line each over these
 * methods, and its main loop senses the hosts. Host changes (add, provision, remove, rejoin) run
 * one at a time (`exclusively`); a reservation's synchronous part runs to completion before any
 * other handler starts, so two concurrent operations never overcommit a host.
 *
 * The order of every awaited step here is recorded in histories: a change of order needs `patched()`.
 */
import {
  ParentClosePolicy,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  patched,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { Failure } from '../../src/core/failures';
import type { HostConnection } from '../../src/core/hosts';
import { allocateSubnet } from '../../src/core/ipam';
import { appWorkflowId, hostWatcherWorkflowId, poolQueueOf } from '../../src/core/names';
import { place, type ContainerDemand, type HostSupply } from '../../src/core/placement';
import { hostsLostSignal } from '../api/app';
import {
  DEFAULT_POOL,
  DEFAULT_POOL_SETTINGS,
  type AddHostRequest,
  type HostRecord,
  type HostView,
  type InventoryInput,
  type InventoryState,
  type NetnsRequest,
  type PlacementView,
  type PoolSettings,
  type PoolView,
  type ReserveRequest,
  type ReserveResult,
} from '../api/inventory';
import { hostActivities, provisioningActivities } from '../activity-options';
import { asUserFailure } from '../failures';
import { nowMs } from '../policies/common';
import { hostWatcher } from '../policies/watcher';

/** Marks histories in which the registry moves off a host that failed or was removed. */
const MOVE_REGISTRY_PATCH = 'move-registry';
/**
 * Marks histories in which a failed host is taken off the swarm's books once the swarm has a leader
 * (waiting out an election), before its apps heal, and a moved registry is refilled with the pool's
 * images before it is used.
 */
export const EVICT_PATCH = 'evict-then-heal';

const key = (app: string, instance: string) => `${app}/${instance}`;
/** Every host but the local engine is reached over SSH, sensed, and part of the swarm. */
export const remote = (h: HostRecord) => h.connection.provider !== 'local';

/**
 * The task queue this inventory is the pool of, read from its ID rather than `workflowInfo().taskQueue`:
 * a replay of a recorded history runs on another queue, and names derived from it would differ.
 */
function poolQueue(): string {
  return poolQueueOf(workflowInfo().workflowId);
}

export class Pool {
  readonly state: InventoryState;
  /** False until the pool knows at least its local engine. */
  ready: boolean;
  /** A host change (add, provision, remove, rejoin) is under way. */
  changing = false;

  constructor(input: InventoryInput) {
    this.state = input.state ?? {
      pool: input.pool ?? DEFAULT_POOL,
      hosts: [],
      reservations: {},
      subnets: {},
    };
    // Histories from before hosts had connections: those hosts are the local engine.
    for (const h of this.state.hosts) {
      h.connection ??= { id: h.id, provider: 'local' };
      h.status ??= 'ready';
    }
    this.ready = this.state.hosts.length > 0;
  }

  settings(): PoolSettings {
    return { ...DEFAULT_POOL_SETTINGS, ...this.state.settings };
  }

  /** Host changes run one at a time. */
  async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => !this.changing);
    this.changing = true;
    try {
      return await fn();
    } finally {
      this.changing = false;
    }
  }

  /** The pool knows its local engine (a new pool starts with it). */
  async ensureLocalHost(): Promise<void> {
    if (this.ready) return;
    const local = await hostActivities().describeLocalHost();
    this.state.hosts = [
      { ...local, connection: { id: local.id, provider: 'local' }, status: 'ready', implicit: true },
    ];
    this.ready = true;
  }

  // ---- reads -----------------------------------------------------------------------------------

  supply(): HostSupply[] {
    return this.state.hosts
      .filter((h) => h.status === 'ready')
      .map(({ id, cpus, memoryBytes, labels, profile, cpuUsage }) => ({
        id,
        cpus,
        memoryBytes,
        labels,
        ...(profile ? { profile } : {}),
        ...(cpuUsage !== undefined ? { cpuUsage } : {}),
        containers: [],
        reservations: Object.values(this.state.reservations).filter((r) => r.host === id),
      }));
  }

  /** The pool as placement sees it, for a dry run of `app` (see `PlacementView`). */
  placement({ app }: { app?: string }): PlacementView {
    const reserved: Record<string, string> = {};
    for (const r of Object.values(this.state.reservations)) if (r.app === app) reserved[r.instance] = r.host;
    return {
      hosts: this.supply().map((h) => ({ ...h, reservations: h.reservations?.filter((r) => r.app !== app) })),
      reserved,
    };
  }

  view(h: HostRecord): HostView {
    return {
      id: h.id,
      provider: h.connection.provider,
      address: h.connection.address,
      status: h.status,
      cpus: h.cpus,
      memoryBytes: h.memoryBytes,
      swarmRole: h.swarmRole,
      reservations: Object.values(this.state.reservations).filter((r) => r.host === h.id).length,
      sensors: h.sensors,
      failedReason: h.failedReason,
      ...(h.rejoined ? { rejoined: h.rejoined } : {}),
      ...(h.rejoinError ? { rejoinError: h.rejoinError } : {}),
      ...(this.registryOn(h) ? { registry: this.state.registry } : {}),
    };
  }

  hostViews(): HostView[] {
    return this.state.hosts.map((h) => this.view(h));
  }

  registryOn(h: HostRecord): boolean {
    return !!h.connection.address && !!this.state.registry?.startsWith(`${h.connection.address}:`);
  }

  async describe(): Promise<PoolView> {
    await condition(() => this.ready && !this.changing);
    const live = this.state.hosts.filter((h) => h.status !== 'failed');
    const remotes = live.filter(remote);
    const manager = remotes.find((h) => h.swarmRole === 'manager');
    return {
      hosts: live.map((h) => h.connection),
      ...(remotes.length > 0 && manager ? { overlay: { manager: manager.connection } } : {}),
      ...(this.state.registry ? { registry: this.state.registry } : {}),
      ...(remotes.length > 0 ? { buildHost: (manager ?? remotes[0]).connection } : {}),
    };
  }

  findHost(id: string): HostRecord {
    const h = this.state.hosts.find((x) => x.id === id);
    if (!h)
      throw ApplicationFailure.nonRetryable(
        `no host '${id}' in the pool (hosts: ${this.state.hosts.map((x) => x.id).join(', ') || 'none'})`,
        Failure.UnknownHost,
      );
    return h;
  }

  // ---- reservations and subnets ------------------------------------------------------------------

  async reserve({ app, containers }: ReserveRequest): Promise<ReserveResult> {
    await condition(() => this.ready && !this.changing);
    const fresh = containers.filter((c) => !this.state.reservations[key(app, c.instance)]);
    const result = asUserFailure(() => place({ containers: fresh, hosts: this.supply() }));
    if (result.unplaced.length > 0) return { hosts: {}, connections: {}, unplaced: result.unplaced };
    if (result.provision.length === 0) return this.commit(app, containers, fresh, result.placements);
    // Nothing fitted, and the chain allows new hosts: make them, then place again on the real ones.
    const wanted = result.provision.flatMap((p) => p.hosts.map((id) => ({ id, profile: p.profile })));
    const provisioned: string[] = [];
    try {
      await this.exclusively(async () => {
        for (const w of wanted) {
          const [made] = await this.provisionNetns([w.id], w.profile);
          provisioned.push(made.id);
        }
      });
    } catch (err) {
      const reason = (err as Error).message;
      return {
        hosts: {},
        connections: {},
        unplaced: fresh.map((c) => ({
          app,
          service: c.service,
          instance: c.instance,
          reason: `no host fits ${c.instance} and no host could be added: ${reason}`,
          metrics: { evaluated: 0, filters: [], topScores: [] },
        })),
      };
    }
    return this.reserveNow(app, containers, provisioned);
  }

  private reserveNow(app: string, containers: ContainerDemand[], provisioned: string[]): ReserveResult {
    const fresh = containers.filter((c) => !this.state.reservations[key(app, c.instance)]);
    const again = asUserFailure(() => place({ containers: fresh, hosts: this.supply() }));
    if (again.unplaced.length > 0 || again.provision.length > 0)
      return { hosts: {}, connections: {}, unplaced: again.unplaced, provisioned };
    return { ...this.commit(app, containers, fresh, again.placements), provisioned };
  }

  private commit(
    app: string,
    containers: ContainerDemand[],
    fresh: ContainerDemand[],
    placements: { instance: string; host: string }[],
  ): ReserveResult {
    for (const p of placements) {
      const c = fresh.find((x) => x.instance === p.instance)!;
      this.state.reservations[key(app, p.instance)] = {
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
    const connections: Record<string, HostConnection> = {};
    for (const c of containers) {
      const id = this.state.reservations[key(app, c.instance)].host;
      hosts[c.instance] = id;
      const h = this.state.hosts.find((x) => x.id === id);
      if (h) connections[id] = h.connection;
    }
    return { hosts, connections, unplaced: [] };
  }

  release({ app, instances }: { app: string; instances?: string[] }): number {
    let released = 0;
    for (const [k, r] of Object.entries(this.state.reservations)) {
      if (r.app === app && (!instances || instances.includes(r.instance))) {
        delete this.state.reservations[k];
        released++;
      }
    }
    return released;
  }

  allocateSubnet({
    app,
    requested,
    inUse = [],
  }: {
    app: string;
    requested?: string;
    inUse?: string[];
  }): string {
    const { subnets, pool } = this.state;
    if (subnets[app]) return subnets[app];
    const taken = Object.entries(subnets)
      .filter(([a]) => a !== app)
      .map(([, cidr]) => cidr);
    const cidr = asUserFailure(() =>
      allocateSubnet(pool.cidr, pool.prefixLength, [...taken, ...inUse], requested),
    );
    subnets[app] = cidr;
    return cidr;
  }

  releaseSubnet({ app }: { app: string }): void {
    delete this.state.subnets[app];
  }

  // ---- host changes ------------------------------------------------------------------------------

  async addHost({ connection }: AddHostRequest): Promise<HostView> {
    await condition(() => this.ready);
    return this.exclusively(async () => this.view(await this.admit(connection)));
  }

  async addNetnsHosts({ provider, count = 1 }: NetnsRequest): Promise<HostView[]> {
    await condition(() => this.ready);
    return this.exclusively(async () => {
      if (provider) this.state.provider = { kind: 'netns', ...provider };
      const ids: string[] = [];
      for (let i = 0; i < count; i++)
        ids.push(`${this.state.provider?.prefix ?? 'netns'}-h${(this.state.nextNetnsIndex ?? 1) + i}`);
      const made = await this.provisionNetns(ids);
      return made.map((h) => this.view(h));
    });
  }

  async drain({ id }: { id: string }): Promise<{ host: HostView; apps: string[] }> {
    await condition(() => this.ready);
    return this.exclusively(async () => {
      const h = this.findHost(id);
      if (h.status === 'ready') h.status = 'draining';
      const moved = Object.entries(this.state.reservations).filter(([, r]) => r.host === id);
      for (const [k] of moved) delete this.state.reservations[k];
      const apps = [...new Set(moved.map(([, r]) => r.app))];
      for (const app of apps) await tellApp(app, [id], `host ${id} is draining`);
      return { host: this.view(h), apps };
    });
  }

  async remove({ id }: { id: string }): Promise<HostView> {
    await condition(() => this.ready);
    return this.exclusively(async () => {
      const h = this.findHost(id);
      const used = Object.values(this.state.reservations).filter((r) => r.host === id).length;
      if (used > 0 && h.status !== 'failed')
        throw ApplicationFailure.nonRetryable(
          `host '${id}' still has ${used} container(s): drain it first (berth hosts drain ${id})`,
          Failure.HostInUse,
        );
      if (h.status === 'draining') {
        const running = await hostActivities()
          .countAppContainers(h.connection)
          .catch(() => 0);
        if (running > 0)
          throw ApplicationFailure.nonRetryable(
            `host '${id}' still runs ${running} app container(s): wait for the apps' heal to move them`,
            Failure.HostInUse,
          );
      }
      const manager = this.state.hosts.find(
        (x) => x.id !== id && x.status === 'ready' && x.swarmRole === 'manager',
      );
      await this.stopWatcher(id);
      this.applyRoles(
        await hostActivities().retireHost({ host: h.connection, manager: manager?.connection }),
      );
      this.state.hosts = this.state.hosts.filter((x) => x.id !== id);
      if (patched(MOVE_REGISTRY_PATCH)) await this.moveRegistryFrom(h);
      else if (this.registryOn(h)) this.state.registry = undefined;
      return { ...this.view(h), status: h.status };
    });
  }

  async watchHosts(): Promise<void> {
    await condition(() => this.ready);
    if (this.state.watching) return;
    this.state.watching = true;
    for (const h of this.state.hosts.filter((x) => x.status !== 'failed')) await this.startWatcher(h);
  }

  configure(changes: Partial<PoolSettings>): PoolSettings {
    this.state.settings = { ...this.state.settings, ...changes };
    return this.settings();
  }

  /** A remote host joins the pool's swarm (with the base image, and the registry if none yet): its role. */
  private async joinPool(connection: HostConnection): Promise<'manager' | 'worker'> {
    const others = this.state.hosts
      .filter((h) => remote(h) && h.status !== 'failed' && h.id !== connection.id)
      .map((h) => h.connection);
    const joined = await hostActivities().joinPool({
      host: connection,
      others,
      registry: this.state.registry,
    });
    this.state.registry = joined.registry;
    return joined.swarmRole;
  }

  /** Connects, checks and joins a host (swarm, base image, registry), then records it. */
  private async admit(connection: HostConnection, profile?: string): Promise<HostRecord> {
    const { state } = this;
    if (state.hosts.some((h) => h.id === connection.id && h.status !== 'failed'))
      throw ApplicationFailure.nonRetryable(
        `host '${connection.id}' is already in the pool`,
        Failure.HostExists,
      );
    const local = state.hosts.find((h) => h.implicit);
    if (connection.provider !== 'local' && local) {
      const used = Object.values(state.reservations).filter((r) => r.host === local.id).length;
      if (used > 0)
        throw ApplicationFailure.nonRetryable(
          `the local engine still runs ${used} container(s) of this pool: destroy those apps first, or use another pool (BERTH_TASK_QUEUE)`,
          Failure.PoolInUse,
        );
    }
    const described = await hostActivities().connectHost(connection);
    const pinned: HostConnection = described.connection;
    const swarmRole = pinned.provider !== 'local' ? await this.joinPool(pinned) : undefined;
    const record: HostRecord = {
      id: pinned.id,
      cpus: described.cpus,
      memoryBytes: described.memoryBytes,
      labels: described.labels,
      ...(profile ? { profile } : {}),
      connection: pinned,
      status: 'ready',
      ...(swarmRole ? { swarmRole } : {}),
      misses: 0,
    };
    // The implicit local engine makes way for the pool's first real host.
    if (pinned.provider !== 'local') {
      for (const gone of state.hosts.filter((h) => h.implicit)) await this.stopWatcher(gone.id);
      state.hosts = state.hosts.filter((h) => !h.implicit);
    }
    state.hosts = state.hosts.filter((h) => h.id !== record.id);
    state.hosts.push(record);
    if (state.watching) await this.startWatcher(record);
    return record;
  }

  private async provisionNetns(ids: string[], profile?: string): Promise<HostRecord[]> {
    const provider = this.state.provider;
    if (!provider)
      throw ApplicationFailure.nonRetryable(
        'no host provider is configured to add hosts (berth hosts add netns configures one)',
        Failure.NoProvider,
      );
    const made: HostRecord[] = [];
    for (const id of ids) {
      const live = this.state.hosts.filter((h) => h.status !== 'failed').length;
      if (live >= provider.maxHosts)
        throw ApplicationFailure.nonRetryable(
          `the pool is at its maximum of ${provider.maxHosts} hosts`,
          Failure.PoolFull,
        );
      const index = (this.state.nextNetnsIndex ?? 1) as number;
      this.state.nextNetnsIndex = index + 1;
      const connection = await provisioningActivities().createNetnsHost({
        id,
        prefix: provider.prefix,
        lan: provider.lan,
        index,
      });
      made.push(await this.admit(connection, profile));
    }
    return made;
  }

  async startWatcher(h: HostRecord): Promise<void> {
    try {
      await startChild(hostWatcher, {
        workflowId: hostWatcherWorkflowId(poolQueue(), h.id),
        args: [{ host: h.connection, hostId: h.id }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  async stopWatcher(hostId: string): Promise<void> {
    try {
      await getExternalWorkflowHandle(hostWatcherWorkflowId(poolQueue(), hostId)).cancel();
    } catch {
      // never started, or already over
    }
  }

  private applyRoles(roles: Record<string, 'manager' | 'worker'>): void {
    for (const h of this.state.hosts) if (roles[h.id] && h.status !== 'failed') h.swarmRole = roles[h.id];
  }

  // ---- failure and return of a host --------------------------------------------------------------

  async markFailed(h: HostRecord, reason: string): Promise<void> {
    h.failedFrom = h.status;
    h.answers = 0;
    h.status = 'failed';
    await this.stopWatcher(h.id);
    h.failedReason = reason;
    const lost = Object.entries(this.state.reservations).filter(([, r]) => r.host === h.id);
    for (const [k] of lost) delete this.state.reservations[k];
    const apps = [...new Set(lost.map(([, r]) => r.app))];
    if (patched(EVICT_PATCH)) {
      // One at a time with host changes, and before any operation reads the pool again: a heal
      // finds the swarm able to attach containers and a registry that has every image. The two do
      // not depend on each other (the registry is no swarm service), so they run side by side.
      await this.exclusively(async () => {
        await Promise.all([this.evict(h), this.moveRegistryFrom(h)]);
      });
    } else {
      const manager = this.state.hosts.find((x) => x.status === 'ready' && x.swarmRole === 'manager');
      const roles = await hostActivities()
        .evictHost({ host: h.connection, manager: manager?.connection })
        .catch(() => ({}));
      this.applyRoles(roles);
      // Before the apps heal: their converge pushes its images into the new registry.
      if (patched(MOVE_REGISTRY_PATCH)) await this.moveRegistryFrom(h);
    }
    for (const app of apps) await tellApp(app, [h.id], reason);
  }

  /** Live remote managers other than `h`: where the swarm is asked to do things. */
  private managersBut(h: HostRecord): HostConnection[] {
    return this.state.hosts
      .filter((x) => x !== h && x.status !== 'failed' && remote(x) && x.swarmRole === 'manager')
      .map((x) => x.connection);
  }

  /**
   * Takes a failed host off the swarm's books, waiting (bounded) for a leader when the election is
   * still going on; `evicted` stays false when that did not happen, and sensing tries again.
   */
  async evict(h: HostRecord): Promise<void> {
    const result = await hostActivities()
      .evictFailedHost({ host: h.connection, managers: this.managersBut(h) })
      .catch(() => undefined);
    if (result) this.applyRoles(result.roles);
    h.evicted = result?.evicted ?? false;
  }

  /**
   * The pool's registry ran on `h`, which failed or left: a new one starts on a live remote host (a
   * manager, as the build host is). It starts empty; each app's next converge pushes the images its
   * build host has (or builds them again). If none can be started the old address stays: the host
   * may come back.
   */
  private async moveRegistryFrom(h: HostRecord): Promise<void> {
    if (!this.registryOn(h)) return;
    const live = this.state.hosts.filter((x) => x !== h && x.status === 'ready' && remote(x));
    const target = live.find((x) => x.swarmRole === 'manager') ?? live[0];
    if (!target) {
      this.state.registry = undefined; // the next host to join starts one
      return;
    }
    if (patched(EVICT_PATCH)) {
      // Filled with the pool's images before its address is handed out (see `relocateRegistry`).
      const managers = live.filter((x) => x.swarmRole === 'manager');
      try {
        const moved = await hostActivities().relocateRegistry({
          candidates: (managers.length ? managers : live).map((x) => x.connection),
          live: this.state.hosts
            .filter((x) => x !== h && x.status !== 'failed' && remote(x))
            .map((x) => x.connection),
          apps: Object.keys(this.state.subnets),
        });
        this.state.registry = moved.registry;
      } catch {
        // kept: see above
      }
      return;
    }
    try {
      this.state.registry = await hostActivities().moveRegistry({ host: target.connection });
    } catch {
      // kept: see above
    }
  }

  /**
   * A failed host that answers again rejoins the pool empty, as a Kubernetes node or a Nomad client
   * does: its instances were healed elsewhere when it failed, so what is left of them there (stopped,
   * or restarted by the engine's restart policy) is removed before it takes new work.
   */
  async rejoin(h: HostRecord): Promise<void> {
    const removed = await hostActivities().reclaimHost(h.connection);
    h.swarmRole = await this.joinPool(h.connection);
    h.rejoined = { atMs: nowMs(), failure: h.failedReason ?? 'unknown', removedContainers: removed };
    h.status = h.failedFrom === 'draining' ? 'draining' : 'ready';
    h.misses = 0;
    h.answers = 0;
    delete h.failedReason;
    delete h.failedFrom;
    delete h.rejoinError;
    delete h.evicted;
    if (this.state.watching) await this.startWatcher(h);
  }
}

/** Tells an app that hosts it used are gone: it queues a heal. */
async function tellApp(app: string, hosts: string[], reason: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(appWorkflowId(app)).signal(hostsLostSignal, { hosts, reason });
  } catch {
    // The app is gone (destroyed) or was never started by this namespace: nothing to heal.
  }
}
