import {
  ParentClosePolicy,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { hostWatcher } from './policies/watcher';
import { nowMs } from './policies/common';
import { Failure, messageOf } from '../src/core/failures';
import { place } from '../src/core/placement';
import type { ContainerDemand, HostSupply } from '../src/core/placement';
import { allocateSubnet } from '../src/core/ipam';
import type { HostConnection } from '../src/core/hosts';
import type { HostReading } from '../activities/hosts';
import { appWorkflowId, hostWatcherWorkflowId, poolQueueOf } from '../src/core/names';
import { hostsLostSignal } from './api/app';
import {
  DEFAULT_POOL,
  DEFAULT_POOL_SETTINGS,
  addHostUpdate,
  addNetnsHostsUpdate,
  drainHostUpdate,
  hostsQuery,
  inventoryQuery,
  poolUpdate,
  releaseSubnetUpdate,
  releaseUpdate,
  removeHostUpdate,
  reserveUpdate,
  settingsUpdate,
  subnetUpdate,
  watchHostsSignal,
  type HostRecord,
  type HostView,
  type InventoryInput,
  type InventoryState,
  type PoolSettings,
  type PoolView,
  type ReserveResult,
} from './api/inventory';
import { hostActivities, provisioningActivities } from './activity-options';
import { asUserFailure } from './failures';

/**
 * The host pool as one entity workflow: hosts, their health, reservations and app subnets. Every
 * placement goes through its `reserve` update, whose synchronous part runs to completion before
 * another handler starts, so two concurrent operations can never overcommit a host (Kubernetes'
 * Reserve/Unreserve). It also senses its hosts on an interval and marks one that stops answering
 * as failed, which releases its reservations and asks the apps that had containers there to heal.
 */

/**
 * The task queue this inventory is the pool of, read from its ID rather than `workflowInfo().taskQueue`:
 * a replay of a recorded history runs on another queue, and names derived from it would differ.
 */
function poolQueue(): string {
  return poolQueueOf(workflowInfo().workflowId);
}

const key = (app: string, instance: string) => `${app}/${instance}`;

export function supply(state: InventoryState): HostSupply[] {
  return state.hosts
    .filter((h) => h.status === 'ready')
    .map(({ id, cpus, memoryBytes, labels, profile, cpuUsage }) => ({
      id,
      cpus,
      memoryBytes,
      labels,
      ...(profile ? { profile } : {}),
      ...(cpuUsage !== undefined ? { cpuUsage } : {}),
      containers: [],
      reservations: Object.values(state.reservations).filter((r) => r.host === id),
    }));
}

function view(state: InventoryState, h: HostRecord): HostView {
  return {
    id: h.id,
    provider: h.connection.provider,
    address: h.connection.address,
    status: h.status,
    cpus: h.cpus,
    memoryBytes: h.memoryBytes,
    swarmRole: h.swarmRole,
    reservations: Object.values(state.reservations).filter((r) => r.host === h.id).length,
    sensors: h.sensors,
    failedReason: h.failedReason,
    ...(h.rejoined ? { rejoined: h.rejoined } : {}),
    ...(h.rejoinError ? { rejoinError: h.rejoinError } : {}),
    ...(registryOn(state, h) ? { registry: state.registry } : {}),
  };
}

function registryOn(state: InventoryState, h: HostRecord): boolean {
  return !!h.connection.address && !!state.registry?.startsWith(`${h.connection.address}:`);
}

const remote = (h: HostRecord) => h.connection.provider !== 'local';

/** Marks histories in which the registry moves off a host that failed or was removed. */
const MOVE_REGISTRY_PATCH = 'move-registry';

/** Marks histories in which failed hosts are sensed and rejoin when they answer again. */
const REJOIN_PATCH = 'rejoin-failed-hosts';

export async function inventory(input: InventoryInput): Promise<void> {
  const state: InventoryState = input.state ?? {
    pool: input.pool ?? DEFAULT_POOL,
    hosts: [],
    reservations: {},
    subnets: {},
  };
  // Histories from before hosts had connections: those hosts are the local engine.
  for (const h of state.hosts) {
    h.connection ??= { id: h.id, provider: 'local' };
    h.status ??= 'ready';
  }
  const settings = (): PoolSettings => ({ ...DEFAULT_POOL_SETTINGS, ...state.settings });
  let ready = state.hosts.length > 0;
  /** Host changes (add, provision, remove) run one at a time. */
  let changing = false;
  const exclusively = async <T>(fn: () => Promise<T>): Promise<T> => {
    await condition(() => !changing);
    changing = true;
    try {
      return await fn();
    } finally {
      changing = false;
    }
  };

  const poolView = (): PoolView => {
    const live = state.hosts.filter((h) => h.status !== 'failed');
    const remotes = live.filter(remote);
    const manager = remotes.find((h) => h.swarmRole === 'manager');
    return {
      hosts: live.map((h) => h.connection),
      ...(remotes.length > 0 && manager ? { overlay: { manager: manager.connection } } : {}),
      ...(state.registry ? { registry: state.registry } : {}),
      ...(remotes.length > 0 ? { buildHost: (manager ?? remotes[0]).connection } : {}),
    };
  };

  /** A remote host joins the pool's swarm (with the base image, and the registry if none yet): its role. */
  const joinPool = async (connection: HostConnection): Promise<'manager' | 'worker'> => {
    const others = state.hosts
      .filter((h) => remote(h) && h.status !== 'failed' && h.id !== connection.id)
      .map((h) => h.connection);
    const joined = await hostActivities().joinPool({ host: connection, others, registry: state.registry });
    state.registry = joined.registry;
    return joined.swarmRole;
  };

  /** Connects, checks and joins a host (swarm, base image, registry), then records it. */
  const admit = async (connection: HostConnection, profile?: string): Promise<HostRecord> => {
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
    const swarmRole = pinned.provider !== 'local' ? await joinPool(pinned) : undefined;
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
      for (const gone of state.hosts.filter((h) => h.implicit)) await stopWatcher(gone.id);
      state.hosts = state.hosts.filter((h) => !h.implicit);
    }
    state.hosts = state.hosts.filter((h) => h.id !== record.id);
    state.hosts.push(record);
    if (state.watching) await startWatcher(record);
    return record;
  };

  const provisionNetns = async (ids: string[], profile?: string): Promise<HostRecord[]> => {
    const provider = state.provider;
    if (!provider)
      throw ApplicationFailure.nonRetryable(
        'no host provider is configured to add hosts (berth hosts add netns configures one)',
        Failure.NoProvider,
      );
    const made: HostRecord[] = [];
    for (const id of ids) {
      const live = state.hosts.filter((h) => h.status !== 'failed').length;
      if (live >= provider.maxHosts)
        throw ApplicationFailure.nonRetryable(
          `the pool is at its maximum of ${provider.maxHosts} hosts`,
          Failure.PoolFull,
        );
      const index = (state.nextNetnsIndex ?? 1) as number;
      state.nextNetnsIndex = index + 1;
      const connection = await provisioningActivities().createNetnsHost({
        id,
        prefix: provider.prefix,
        lan: provider.lan,
        index,
      });
      made.push(await admit(connection, profile));
    }
    return made;
  };

  const startWatcher = async (h: HostRecord) => {
    try {
      await startChild(hostWatcher, {
        workflowId: hostWatcherWorkflowId(poolQueue(), h.id),
        args: [{ host: h.connection, hostId: h.id }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };
  const stopWatcher = async (hostId: string) => {
    try {
      await getExternalWorkflowHandle(hostWatcherWorkflowId(poolQueue(), hostId)).cancel();
    } catch {
      // never started, or already over
    }
  };

  const applyRoles = (roles: Record<string, 'manager' | 'worker'>) => {
    for (const h of state.hosts) if (roles[h.id] && h.status !== 'failed') h.swarmRole = roles[h.id];
  };

  const markFailed = async (h: HostRecord, reason: string) => {
    h.failedFrom = h.status;
    h.answers = 0;
    h.status = 'failed';
    await stopWatcher(h.id);
    h.failedReason = reason;
    const lost = Object.entries(state.reservations).filter(([, r]) => r.host === h.id);
    for (const [k] of lost) delete state.reservations[k];
    const apps = [...new Set(lost.map(([, r]) => r.app))];
    const manager = state.hosts.find((x) => x.status === 'ready' && x.swarmRole === 'manager');
    const roles = await hostActivities()
      .evictHost({ host: h.connection, manager: manager?.connection })
      .catch(() => ({}));
    applyRoles(roles);
    // Before the apps heal: their converge pushes its images into the new registry.
    if (patched(MOVE_REGISTRY_PATCH)) await moveRegistryFrom(h);
    for (const app of apps) await tellApp(app, [h.id], reason);
  };

  /**
   * The pool's registry ran on `h`, which failed or left: a new one starts on a live remote host (a
   * manager, as the build host is). It starts empty; each app's next converge pushes the images its
   * build host has (or builds them again). If none can be started the old address stays: the host
   * may come back.
   */
  const moveRegistryFrom = async (h: HostRecord) => {
    if (!registryOn(state, h)) return;
    const live = state.hosts.filter((x) => x !== h && x.status === 'ready' && remote(x));
    const target = live.find((x) => x.swarmRole === 'manager') ?? live[0];
    if (!target) {
      state.registry = undefined; // the next host to join starts one
      return;
    }
    try {
      state.registry = await hostActivities().moveRegistry({ host: target.connection });
    } catch {
      // kept: see above
    }
  };

  /**
   * A failed host that answers again rejoins the pool empty, as a Kubernetes node or a Nomad client
   * does: its instances were healed elsewhere when it failed, so what is left of them there (stopped,
   * or restarted by the engine's restart policy) is removed before it takes new work.
   */
  const rejoin = async (h: HostRecord) => {
    const removed = await hostActivities().reclaimHost(h.connection);
    h.swarmRole = await joinPool(h.connection);
    h.rejoined = { atMs: nowMs(), failure: h.failedReason ?? 'unknown', removedContainers: removed };
    h.status = h.failedFrom === 'draining' ? 'draining' : 'ready';
    h.misses = 0;
    h.answers = 0;
    delete h.failedReason;
    delete h.failedFrom;
    delete h.rejoinError;
    if (state.watching) await startWatcher(h);
  };

  setHandler(inventoryQuery, () => state);
  setHandler(hostsQuery, () => state.hosts.map((h) => view(state, h)));
  setHandler(poolUpdate, async () => {
    await condition(() => ready && !changing);
    return poolView();
  });
  setHandler(reserveUpdate, async ({ app, containers }) => {
    await condition(() => ready && !changing);
    const fresh = containers.filter((c) => !state.reservations[key(app, c.instance)]);
    const result = asUserFailure(() => place({ containers: fresh, hosts: supply(state) }));
    if (result.unplaced.length > 0) return { hosts: {}, connections: {}, unplaced: result.unplaced };
    const provisioned: string[] = [];
    if (result.provision.length > 0) {
      // Nothing fitted, and the chain allows new hosts: make them, then place again on the real ones.
      const wanted = result.provision.flatMap((p) => p.hosts.map((id) => ({ id, profile: p.profile })));
      const unplacedBy = (reason: string): ReserveResult => ({
        hosts: {},
        connections: {},
        unplaced: fresh.map((c) => ({
          app,
          service: c.service,
          instance: c.instance,
          reason: `no host fits ${c.instance} and no host could be added: ${reason}`,
          metrics: { evaluated: 0, filters: [], topScores: [] },
        })),
      });
      try {
        await exclusively(async () => {
          for (const w of wanted) {
            const [made] = await provisionNetns([w.id], w.profile);
            provisioned.push(made.id);
          }
        });
      } catch (err) {
        return unplacedBy((err as Error).message);
      }
      return reserveNow(app, containers, provisioned);
    }
    return commit(app, containers, fresh, result.placements);
  });

  const reserveNow = (app: string, containers: ContainerDemand[], provisioned: string[]): ReserveResult => {
    const fresh = containers.filter((c) => !state.reservations[key(app, c.instance)]);
    const again = asUserFailure(() => place({ containers: fresh, hosts: supply(state) }));
    if (again.unplaced.length > 0 || again.provision.length > 0)
      return {
        hosts: {},
        connections: {},
        unplaced: again.unplaced,
        provisioned,
      };
    return { ...commit(app, containers, fresh, again.placements), provisioned };
  };

  const commit = (
    app: string,
    containers: ContainerDemand[],
    fresh: ContainerDemand[],
    placements: { instance: string; host: string }[],
  ): ReserveResult => {
    for (const p of placements) {
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
    const connections: Record<string, HostConnection> = {};
    for (const c of containers) {
      const id = state.reservations[key(app, c.instance)].host;
      hosts[c.instance] = id;
      const h = state.hosts.find((x) => x.id === id);
      if (h) connections[id] = h.connection;
    }
    return { hosts, connections, unplaced: [] };
  };

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
  setHandler(
    addHostUpdate,
    async ({ connection }) => {
      await condition(() => ready);
      return exclusively(async () => view(state, await admit(connection)));
    },
    {
      validator: ({ connection }) => {
        if (!connection?.id) throw new Error('a host needs an id');
        if (connection.provider !== 'local' && !connection.ssh)
          throw new Error(`host '${connection.id}' needs an SSH endpoint`);
      },
    },
  );
  setHandler(addNetnsHostsUpdate, async ({ provider, count = 1 }) => {
    await condition(() => ready);
    return exclusively(async () => {
      if (provider) state.provider = { kind: 'netns', ...provider };
      const ids: string[] = [];
      for (let i = 0; i < count; i++)
        ids.push(`${state.provider?.prefix ?? 'netns'}-h${(state.nextNetnsIndex ?? 1) + i}`);
      const made = await provisionNetns(ids);
      return made.map((h) => view(state, h));
    });
  });
  setHandler(drainHostUpdate, async ({ id }) => {
    await condition(() => ready);
    return exclusively(async () => {
      const h = findHost(id);
      if (h.status === 'ready') h.status = 'draining';
      const moved = Object.entries(state.reservations).filter(([, r]) => r.host === id);
      for (const [k] of moved) delete state.reservations[k];
      const apps = [...new Set(moved.map(([, r]) => r.app))];
      for (const app of apps) await tellApp(app, [id], `host ${id} is draining`);
      return { host: view(state, h), apps };
    });
  });
  setHandler(removeHostUpdate, async ({ id }) => {
    await condition(() => ready);
    return exclusively(async () => {
      const h = findHost(id);
      const used = Object.values(state.reservations).filter((r) => r.host === id).length;
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
      const manager = state.hosts.find(
        (x) => x.id !== id && x.status === 'ready' && x.swarmRole === 'manager',
      );
      await stopWatcher(id);
      applyRoles(await hostActivities().retireHost({ host: h.connection, manager: manager?.connection }));
      state.hosts = state.hosts.filter((x) => x.id !== id);
      if (patched(MOVE_REGISTRY_PATCH)) await moveRegistryFrom(h);
      else if (registryOn(state, h)) state.registry = undefined;
      return { ...view(state, h), status: h.status };
    });
  });
  setHandler(watchHostsSignal, async () => {
    await condition(() => ready);
    if (state.watching) return;
    state.watching = true;
    for (const h of state.hosts.filter((x) => x.status !== 'failed')) await startWatcher(h);
  });
  setHandler(settingsUpdate, (changes) => {
    state.settings = { ...state.settings, ...changes };
    return settings();
  });

  function findHost(id: string): HostRecord {
    const h = state.hosts.find((x) => x.id === id);
    if (!h)
      throw ApplicationFailure.nonRetryable(
        `no host '${id}' in the pool (hosts: ${state.hosts.map((x) => x.id).join(', ') || 'none'})`,
        Failure.UnknownHost,
      );
    return h;
  }

  if (!ready) {
    const local = await hostActivities().describeLocalHost();
    state.hosts = [
      { ...local, connection: { id: local.id, provider: 'local' }, status: 'ready', implicit: true },
    ];
    ready = true;
  }

  // Sense every host on an interval; a remote host that misses `failureThreshold` rounds has failed.
  let probing: Promise<void> | undefined;
  for (let round = 0; round < 100_000; round++) {
    const { sensorIntervalMs, failureThreshold } = settings();
    // Failed hosts are sensed too, so one that comes back rejoins (histories from before: not).
    const rejoining = patched(REJOIN_PATCH);
    // A pool of only the local engine has nothing to sense: no timer until a remote host joins.
    const sensing = () => state.hosts.some((h) => remote(h) && (rejoining || h.status !== 'failed'));
    if (!sensing()) await condition(() => workflowInfo().continueAsNewSuggested || sensing());
    await condition(() => workflowInfo().continueAsNewSuggested, sensorIntervalMs);
    if (workflowInfo().continueAsNewSuggested) break;
    if (changing) continue;
    if (rejoining) probeFailed(failureThreshold);
    const watched = state.hosts.filter((h) => h.status !== 'failed' && remote(h));
    if (watched.length === 0) continue;
    const readings = await hostActivities().senseHosts(watched.map((h) => h.connection));
    // No host answering at all says more about the worker's side (its network, its load) than about
    // the hosts: like Kubernetes' full-disruption mode, nothing is failed then.
    if (watched.length > 1 && watched.every((h) => !readings[h.id]?.ok)) continue;
    for (const h of watched) {
      const reading = readings[h.id];
      if (reading?.ok) {
        h.misses = 0;
        h.sensors = reading.sensors;
        if (reading.sensors.load !== undefined) h.cpuUsage = Math.min(1, reading.sensors.load);
        continue;
      }
      h.misses = (h.misses ?? 0) + 1;
      if (h.misses >= failureThreshold && h.status !== 'failed')
        await markFailed(h, `did not answer ${h.misses} times in a row: ${reading?.error ?? 'no reading'}`);
    }
  }
  /**
   * Failed hosts are probed beside the rounds, not in them: one whose engine hangs while it starts
   * would otherwise hold every round for the probe's timeout.
   */
  function probeFailed(threshold: number): void {
    const failed = state.hosts.filter((h) => h.status === 'failed' && remote(h));
    if (probing || failed.length === 0) return;
    probing = hostActivities()
      .senseHosts(failed.map((h) => h.connection))
      .then((readings) => rejoinAnswering(failed, readings, threshold))
      .catch(() => undefined) // a probe that failed is tried again next round
      .finally(() => (probing = undefined));
  }

  async function rejoinAnswering(
    failed: HostRecord[],
    readings: Record<string, HostReading>,
    threshold: number,
  ): Promise<void> {
    for (const h of failed) {
      if (!readings[h.id]?.ok) {
        h.answers = 0;
        continue;
      }
      h.answers = (h.answers ?? 0) + 1;
      if (h.answers < threshold) continue;
      try {
        await exclusively(async () => {
          // removed, or added again by hand, while this round was sensing
          if (state.hosts.includes(h) && h.status === 'failed') await rejoin(h);
        });
      } catch (err) {
        h.answers = 0;
        h.rejoinError = messageOf(err);
      }
    }
  }

  // An entity runs for months: hand over to a fresh run before the history grows too long.
  await condition(() => allHandlersFinished() && !probing);
  await continueAsNew<typeof inventory>({ state });
}

async function tellApp(app: string, hosts: string[], reason: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(appWorkflowId(app)).signal(hostsLostSignal, { hosts, reason });
  } catch {
    // The app is gone (destroyed) or was never started by this namespace: nothing to heal.
  }
}
