import { ApplicationFailure, CancellationScope, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { Blueprint, Service } from '../../src/core/blueprint/model';
import { resolveEnv } from '../../src/core/blueprint/references';
import { canonicalJson, stableHash } from '../../src/core/hash';
import { mapLimit } from '../../src/core/concurrency';
import { withoutRegistry } from '../../src/core/images';
import { assignAddress, dynamicRangeOf, gatewayOf, isAssignable } from '../../src/core/ipam';
import { containerName, instanceDnsName, networkName, serviceDnsName } from '../../src/core/names';
import { buildDemand } from '../../src/core/placement/demand';
import {
  desiredInstances,
  reconcile,
  type DesiredInstance,
  type LiveInstance,
} from '../../src/core/reconcile';
import type { ContainerSpec, ForwardedPort, InstanceStatus } from '../api/containers';
import { dockerActivities, longActivities } from '../activity-options';
import { asUserFailure } from '../failures';
import type { PoolView, ReserveResult } from '../api/inventory';
import type { HostConnection } from '../../src/core/hosts';
import {
  OPERATION_DEFAULTS,
  ROLLED_BACK,
  type InstanceRecord,
  type WaitingInstance,
  type OperationInput,
  type OperationProgress,
  type OperationResult,
} from '../api/operations';
import { updatePolicyOf, type UpdatePolicy } from '../../src/core/rollout';
import type { RolloutControl } from './control';
import { RolloutStopped, rollOutService, type Replacement, type RolloutSteps, type Surge } from './rollout';
import { Failure, isFailureOfType, messageOf } from '../../src/core/failures';
import type { PinnedImage } from '../api/containers';
import type { ContainerDemand } from '../../src/core/placement';
import { resolvedConfigHash } from '../../src/core/config-hash';
import { mountsFor } from '../../src/core/volumes';
import { SerialWriter } from '../../src/core/serial-writer';
import { pinImage, pullJobs, pullOne, type PullTarget } from './images';
import {
  pinDemand,
  pinnedUnplaced,
  recordVolumeHosts,
  volumeHostsOf,
  volumesByService,
  waitingOf,
} from './volumes';

/**
 * Deploy, scale and heal are one algorithm: make what runs match the desired state. Images first,
 * then the app's subnet and network, placement reservations for every desired instance, then service
 * by service in dependency order (references resolved from the services before), each instance
 * created or started and waited on until ready, its DNS names published; extra instances go last.
 */
export async function converge(
  input: OperationInput,
  progress: OperationProgress,
  control: RolloutControl,
): Promise<OperationResult> {
  const blueprint = input.blueprint;
  if (!blueprint)
    throw ApplicationFailure.nonRetryable(`app '${input.app}' has not been deployed`, Failure.NotDeployed);
  return new Convergence(input, blueprint, progress, control).run();
}

/** Marks histories in which an instance running its build from a former registry is kept (see `sameBuilds`). */
const SAME_BUILD_PATCH = 'same-build-any-registry';

/** Marks histories in which changed instances are rolled out (drained, stopped gracefully, in batches). */
const ROLLOUT_PATCH = 'rollouts';

/**
 * Marks histories that run real applications: image sources pinned to digests and pulled on the
 * hosts that run them, named volumes (placement pinned to their host), the resolved configuration
 * hash, and graceful stops where a heal or a drain moves an instance.
 */
const REAL_APPS_PATCH = 'real-apps';

/**
 * Marks histories in which the app's DNS names are written one write at a time (`SerialWriter`):
 * before, a batch's replacements each wrote the names at once, and the older list could land last.
 */
const SERIAL_NAMES_PATCH = 'serial-dns-names';

/**
 * Marks histories in which a start-first rollout's old containers drain and stop while the next
 * batch goes on (the rollout waits for them at its end); before, each batch waited for its old
 * containers' whole stop grace period.
 */
const RETIRE_BEHIND_PATCH = 'retire-behind';

/**
 * Marks histories in which the containers an operation removes (a scale-down's, extras) stop all
 * at once once they have left the names and drained, as Kubernetes and Swarm stop theirs; before,
 * `parallelism` at a time (a setting for bringing instances up), so removing 60 took six grace periods.
 */
const STOP_AT_ONCE_PATCH = 'stop-removed-at-once';
/** Stops in flight in one operation, at most (each is an activity that mostly waits). */
const STOPS_IN_FLIGHT = 64;

/** A readiness check of a new instance after `minReady`: it is ready now, or it is not. */
const RECHECK_MS = 5_000;

/**
 * One convergence, step by step. The steps' order is the order of the activities in every recorded
 * deploy, scale and heal history: changing it needs `patched()`.
 */
class Convergence {
  private readonly app: string;
  private readonly docker: ReturnType<typeof dockerActivities>;
  private readonly slow: ReturnType<typeof longActivities>;
  private pool!: PoolView;
  /** Image reference to run, by service. */
  private readonly images: Record<string, string> = {};
  private readonly network: string;
  private subnet = '';
  /** Berth's dnsmasq on one host; undefined across hosts (Docker's embedded DNS answers there). */
  private dnsServer: string | undefined;
  private desired: DesiredInstance[] = [];
  private reserved!: ReserveResult;
  /** Containers kept where they are (those on a host they no longer belong to are removed first). */
  private live: InstanceStatus[] = [];
  private liveById = new Map<string, InstanceStatus>();
  private plan!: ReturnType<typeof reconcile>;
  /** Address by instance: what a container holds, else what Berth recorded, else the lowest free one. */
  private readonly addresses: Record<string, string> = {};
  /** On an overlay, Docker hands out the subnet's top quarter itself (nodes' load-balancer endpoints). */
  private dynamic: string | undefined;
  private readonly records: InstanceRecord[] = [];
  private started = 0;

  /** Changed instances are rolled out (histories from before: removed and recreated at once). */
  private rollouts = false;
  /** See REAL_APPS_PATCH. */
  private realApps = false;
  /** Each image source's pin: what its containers are created from. */
  private pins: Record<string, PinnedImage> = {};
  /** Named volumes by service, and the host holding each instance's. */
  private volumes: Record<string, string[]> = {};
  private volumeHosts: Record<string, string> = {};
  /** Instances waiting for the host that holds their volumes (left out of this convergence). */
  private waiting: WaitingInstance[] = [];
  /** Containers kept by `sameBuilds`: the registry-named image each was created from. */
  private readonly formerImages = new Map<string, string>();
  /** Berth's DNS records of this app, by container: what `publish` writes (one host only). */
  private readonly serving = new Map<string, { service: string; instance: string; address: string }>();
  /** Writes `serving` one write at a time (see SERIAL_NAMES_PATCH). */
  private readonly names = new SerialWriter(() => this.writeServing());
  private serialNames = false;
  /** See RETIRE_BEHIND_PATCH. */
  private retireBehind = false;
  /** See STOP_AT_ONCE_PATCH. */
  private stopAtOnce = false;
  /** The drains and stops of old containers still going: each settles to its failure, or undefined. */
  private retiring: Promise<unknown>[] = [];
  /** Their addresses, held until they are gone. */
  private readonly retiringAddresses = new Set<string>();

  constructor(
    private readonly input: OperationInput,
    private readonly blueprint: Blueprint,
    private readonly progress: OperationProgress,
    private readonly control: RolloutControl,
    /** A rollback of a failed rollout: it has no way back itself. */
    private readonly rollingBack = false,
  ) {
    this.app = blueprint.app;
    this.docker = dockerActivities(input.options.activities);
    this.slow = longActivities(input.options.activities);
    this.network = networkName(this.app);
  }

  private say(line: string): void {
    this.progress.events.push(line);
  }

  private connectionOf(hostId: string): HostConnection | undefined {
    return this.pool.hosts.find((h) => h.id === hostId);
  }

  private replicas(s: Service): number {
    return this.input.replicas[s.id] ?? s.replicas;
  }

  async run(): Promise<OperationResult> {
    const { input, progress, blueprint } = this;
    this.rollouts = patched(ROLLOUT_PATCH);
    this.realApps = patched(REAL_APPS_PATCH);
    this.serialNames = patched(SERIAL_NAMES_PATCH);
    this.retireBehind = patched(RETIRE_BEHIND_PATCH);
    this.stopAtOnce = patched(STOP_AT_ONCE_PATCH);
    for (const line of input.notes ?? []) this.say(line);
    this.pool = await this.docker.describePool();
    await this.ensureImages();
    await this.ensureNetwork();
    const hashes = Object.fromEntries(
      blueprint.services.map((s) => [s.id, configHash(s, this.images[s.id])]),
    );
    this.desired = desiredInstances(
      blueprint.services.map((s) => ({ id: s.id, replicas: this.replicas(s), configHash: hashes[s.id] })),
    );
    const found = this.sameBuilds(await this.docker.listInstances(this.app, this.pool.hosts), hashes);
    progress.total = this.desired.length;
    await this.reserve(found);
    this.assignAddresses();
    if (this.realApps) await this.resolveHashes();
    for (const l of this.live)
      if (l.state === 'running' && l.ip)
        this.serving.set(l.id, { service: l.service, instance: l.instance, address: l.ip });
    progress.phase = 'containers';
    try {
      if (this.realApps) await this.pullImages();
      progress.phase = 'containers';
      for (const service of blueprint.services) await this.bringUpService(service);
      await this.removeExtras();
    } catch (err) {
      throw await this.failed(err);
    }
    for (const instance of Object.keys(this.addresses))
      if (!this.desired.some((d) => d.instance === instance)) delete this.addresses[instance];
    // A waiting instance keeps its address for when it comes back.
    for (const w of this.waiting)
      if (input.addresses[w.instance]) this.addresses[w.instance] = input.addresses[w.instance];
    progress.phase = 'done';
    return {
      app: this.app,
      operation: input.operation,
      network: this.network,
      subnet: this.subnet,
      instances: this.records,
      removed: this.plan.remove.map((r) => r.instance),
      addresses: this.addresses,
      ...(this.realApps
        ? {
            images: this.pins,
            volumeHosts: recordVolumeHosts(this.volumeHosts, this.volumes, this.records),
            waiting: this.waiting,
          }
        : {}),
    };
  }

  /**
   * A container whose image is the build its service wants, named after an earlier registry (the
   * pool's registry moved off a failed host), runs what it should: it keeps its place rather than
   * being replaced with the same image under the new name. (Histories from before: replaced.)
   */
  private sameBuilds(found: InstanceStatus[], hashes: Record<string, string>): InstanceStatus[] {
    const services = new Map(this.blueprint.services.map((s) => [s.id, s]));
    const moved = (l: InstanceStatus) => {
      const s = services.get(l.service);
      const wanted = this.images[l.service];
      return (
        !!s &&
        l.configHash !== hashes[l.service] &&
        l.image !== wanted &&
        withoutRegistry(l.image) === withoutRegistry(wanted) &&
        l.configHash === configHash(s, l.image)
      );
    };
    if (!found.some(moved) || !patched(SAME_BUILD_PATCH)) return found;
    return found.map((l) => {
      if (!moved(l)) return l;
      this.formerImages.set(l.id, l.image);
      return { ...l, configHash: hashes[l.service] };
    });
  }

  /**
   * What a failure leaves: a rollout with a version to go back to goes back (a cancellation too,
   * whatever it interrupted), then fails saying why; a new app's failed deploy removes what it made.
   */
  private async failed(err: unknown): Promise<unknown> {
    const { input, progress } = this;
    const cancelled = isCancellation(err);
    const stopped = err instanceof RolloutStopped ? err : undefined;
    const reason = stopped?.message ?? (cancelled ? 'cancelled' : messageOf(err));
    const goBack = input.previous && !this.rollingBack && !input.options.keepOnFailure;
    const deploying = input.operation === 'deploy' || input.operation === 'rollback';
    if (goBack && deploying && this.rollouts) {
      progress.phase = 'rollback';
      const version = input.previous!.version;
      this.say(`${reason}: rolling back${version !== undefined ? ` to version ${version}` : ''}`);
      // The way back runs to its end even when a cancel comes during it: stopped half-way it would
      // leave two versions running (and a cancellation is why it may be running at all).
      const result = await CancellationScope.nonCancellable(() => this.rollBack());
      if (cancelled) return err;
      return ApplicationFailure.create({
        type: ROLLED_BACK,
        message: `${reason}; rolled back${version !== undefined ? ` to version ${version}` : ''}`,
        nonRetryable: true,
        details: [result],
      });
    }
    if (deploying && !input.options.keepOnFailure && !input.previous?.blueprint && !this.rollingBack) {
      progress.phase = 'rollback';
      const removeAll = () =>
        rollback(
          input,
          this.live,
          this.desired.map((d) => d.instance),
          this.pool.hosts,
        );
      const removed = await CancellationScope.nonCancellable(removeAll);
      this.say(`rolled back: removed ${removed} container(s) this deploy created`);
    }
    if (stopped) return ApplicationFailure.nonRetryable(stopped.message, 'RolloutFailed');
    return err;
  }

  /** The previous version, rolled out again over whatever this rollout changed. */
  private rollBack(): Promise<OperationResult> {
    const previous = this.input.previous!;
    const back: OperationInput = {
      ...this.input,
      blueprint: previous.blueprint,
      secrets: previous.secrets,
      replicas: previous.replicas,
      images: previous.images,
      previous: undefined,
      notes: undefined,
      ...(previous.version !== undefined ? { version: previous.version } : {}),
    };
    return new Convergence(back, previous.blueprint, this.progress, this.control, true).run();
  }

  private async ensureImages(): Promise<void> {
    const { pool } = this;
    this.progress.phase = 'images';
    for (const service of this.blueprint.services) {
      // An image source from any registry is pinned to its digest (built images go on as before).
      if (this.realApps && service.source.kind === 'image') {
        const reuse = this.input.operation !== 'deploy' || this.rollingBack;
        this.images[service.id] = service.source.image;
        this.pins[service.id] = await pinImage(
          this.docker,
          this.input,
          service,
          service.source.image,
          pool.buildHost,
          reuse,
          (line) => this.say(line),
        );
        continue;
      }
      const { image, built, registryImage } = await this.slow.ensureImage({
        app: this.app,
        service: service.id,
        source: service.source,
        ...(pool.buildHost ? { host: pool.buildHost } : {}),
        ...(pool.registry ? { registry: pool.registry } : {}),
      });
      // Across hosts, a built image is created from its registry reference (each host pulls it once).
      this.images[service.id] = pool.overlay && registryImage ? registryImage : image;
      if (built) this.say(`built image ${image} for ${service.id}`);
    }
  }

  private async ensureNetwork(): Promise<void> {
    this.progress.phase = 'network';
    const { overlay } = this.pool;
    this.subnet = await ensureAppNetwork(this.docker, this.app, this.blueprint.network?.cidr, overlay);
    // One host: Berth's dnsmasq. Across hosts: Docker's embedded DNS on the overlay answers the same
    // names (they are the containers' network aliases) from every host.
    this.dnsServer = overlay ? undefined : (await this.docker.ensureDns()).address;
  }

  /** Reserves a host for every desired instance; one now placed elsewhere (drained) moves there. */
  private async reserve(found: InstanceStatus[]): Promise<void> {
    const { blueprint, app } = this;
    this.progress.phase = 'placement';
    const scaled = {
      ...blueprint,
      services: blueprint.services.map((s) => ({ ...s, replicas: this.replicas(s) })),
    };
    const demand = asUserFailure(() => buildDemand(scaled));
    this.reserved = this.realApps
      ? await this.reservePinned(demand)
      : await this.docker.reserveHosts({ app, containers: demand });
    if (this.reserved.unplaced.length > 0) {
      throw ApplicationFailure.nonRetryable(
        this.reserved.unplaced.map((u) => u.reason).join('; '),
        Failure.NoHostFits,
      );
    }
    for (const id of this.reserved.provisioned ?? []) this.say(`provisioned host ${id}`);
    // A waiting instance's container (on a draining host) stays as it is.
    const waits = new Set(this.waiting.map((w) => w.instance));
    for (const l of found) {
      if (waits.has(l.instance)) continue;
      const placed = this.reserved.hosts[l.instance];
      if (placed && placed !== l.host) {
        if (this.realApps) await this.stopGracefully(l);
        else await this.docker.removeContainer(l.id, this.connectionOf(l.host));
        this.say(`moving ${l.instance} from ${l.host} to ${placed}`);
      } else this.live.push(l);
    }
    this.replan();
  }

  /** The plan from what is desired and what runs, and the one container of each instance it keeps. */
  private replan(): void {
    this.plan = reconcile(this.desired, this.live.map(toLive));
    // Of two containers of one instance, the one the plan keeps (the other is an extra).
    const chosen = new Set(
      [...this.plan.keep, ...this.plan.start, ...this.plan.recreate.map((r) => r.live)].map((l) => l.id),
    );
    this.liveById = new Map(this.live.filter((l) => chosen.has(l.id)).map((l) => [l.instance, l]));
  }

  /**
   * Reserves hosts with every instance whose named volumes exist pinned to their host. Those that
   * cannot go there (the host failed, drains, or is full) wait, left out of this convergence, or,
   * when a heal allows it, are placed anew with empty volumes.
   */
  private async reservePinned(demand: ContainerDemand[]): Promise<ReserveResult> {
    const { app, input } = this;
    this.volumes = volumesByService(this.blueprint);
    if (Object.keys(this.volumes).length === 0) return this.docker.reserveHosts({ app, containers: demand });
    this.volumeHosts = await volumeHostsOf(this.docker, app, this.pool.hosts, input.volumeHosts);
    let pinned = pinDemand(demand, this.volumes, this.volumeHosts);
    const first = await this.docker.reserveHosts({ app, containers: pinned });
    const stuck = first.unplaced.length > 0 ? pinnedUnplaced(pinned, first.unplaced) : undefined;
    if (!stuck) return first;
    const names = new Set(stuck.map((s) => s.container.instance));
    if (input.allowDataLoss) {
      for (const { container: c } of stuck) {
        this.say(
          `${c.instance}: placed anew with empty volumes (${c.volumeHost!.volumes.join(', ')}); host ${c.volumeHost!.host}, which holds its data, is out of reach (--allow-data-loss)`,
        );
        delete this.volumeHosts[c.instance];
      }
      pinned = pinned.map(({ volumeHost, ...c }) => (names.has(c.instance) ? c : { ...c, volumeHost }));
    } else {
      this.waiting = waitingOf(stuck);
      for (const w of this.waiting)
        this.say(
          `${w.instance} waits for host ${w.host}, which holds its volumes (${w.volumes.join(', ')}); 'berth heal ${app} --allow-data-loss' places it anew, empty`,
        );
      pinned = pinned.filter((c) => !names.has(c.instance));
      this.desired = this.desired.filter((d) => !names.has(d.instance));
      this.progress.total = this.desired.length;
    }
    return this.docker.reserveHosts({ app, containers: pinned });
  }

  /** A container moving to another host (a drain, a lost host's instance back): stopped gracefully. */
  private async stopGracefully(l: InstanceStatus): Promise<void> {
    const grace = this.blueprint.services.find((s) => s.id === l.service)?.stopGracePeriodMs;
    const host = this.connectionOf(l.host);
    await this.docker.stopContainer({
      id: l.id,
      ...(host ? { host } : {}),
      ...(grace !== undefined ? { gracePeriodMs: grace } : {}),
    });
  }

  /** What containers of `service` are created from: its pinned image, else its image as before. */
  private imageOf(service: Service): string {
    return this.pins[service.id]?.ref ?? this.images[service.id];
  }

  /**
   * Every service's resolved configuration hash (its references predicted from the addresses just
   * assigned, its secrets as keyed digests), then the plan again with them.
   */
  private async resolveHashes(): Promise<void> {
    const { blueprint, input } = this;
    const used = [...new Set(blueprint.services.flatMap((s) => s.secrets ?? []))].filter(
      (name) => input.secrets?.[name] !== undefined,
    );
    const digests =
      used.length > 0
        ? await this.docker.secretDigests(Object.fromEntries(used.map((n) => [n, input.secrets![n]])))
        : {};
    const predicted = this.desired.map(
      (d) => ({ service: d.service, instance: d.instance, ip: this.addresses[d.instance] }) as InstanceRecord,
    );
    const resolved = (s: Service, image: string) =>
      asUserFailure(
        () =>
          resolvedConfigHash(s, {
            image,
            attribute: (svc, attribute) => attributeOf(predicted, blueprint, svc, attribute),
            secretDigests: digests,
          }),
        `service '${s.id}': `,
      );
    const hashes = new Map(blueprint.services.map((s) => [s.id, resolved(s, this.imageOf(s))]));
    // A container kept by `sameBuilds` resolved its configuration with its former registry's name:
    // when that is all that differs, it matches.
    for (const l of this.live) {
      const former = this.formerImages.get(l.id);
      const s = blueprint.services.find((x) => x.id === l.service);
      if (former && s && l.resolvedHash === resolved(s, former)) l.resolvedHash = hashes.get(s.id);
    }
    const mounted = new Set(blueprint.services.filter((s) => s.volumes.length > 0).map((s) => s.id));
    this.desired = this.desired.map((d) => ({
      ...d,
      resolvedHash: hashes.get(d.service),
      // Containers made before volumes were mounted lack their mounts.
      ...(mounted.has(d.service) ? { recreateUnrecorded: true } : {}),
    }));
    this.replan();
  }

  /** Has each pinned image on the hosts about to create instances of its service. */
  private async pullImages(): Promise<void> {
    const targets: PullTarget[] = [];
    for (const service of this.blueprint.services) {
      const pin = this.pins[service.id];
      if (!pin) continue;
      const hosts = new Map<string, HostConnection | undefined>();
      for (const d of this.desired.filter((x) => x.service === service.id)) {
        const action = actionFor(this.plan, d);
        if (action !== 'created' && action !== 'recreated') continue;
        const id = this.reserved.hosts[d.instance] ?? 'local';
        hosts.set(id, this.reserved.connections?.[id]);
      }
      if (hosts.size > 0) targets.push({ service, pin, hosts: [...hosts.values()] });
    }
    if (targets.length === 0) return;
    this.progress.phase = 'pull';
    await mapLimit(
      pullJobs(targets),
      this.input.options.parallelism ?? OPERATION_DEFAULTS.parallelism,
      (job) => pullOne(this.slow, this.input, job, (line) => this.say(line)),
    );
  }

  /** Addresses held by instances other than `instance`. */
  private held(instance: string): string[] {
    return Object.entries(this.addresses)
      .filter(([i]) => i !== instance)
      .map(([, ip]) => ip);
  }

  private assignAddresses(): void {
    const { subnet, addresses, input } = this;
    this.dynamic = this.pool.overlay ? dynamicRangeOf(subnet) : undefined;
    for (const l of this.live) if (l.ip && isAssignable(subnet, l.ip)) addresses[l.instance] = l.ip;
    for (const d of this.desired) {
      if (addresses[d.instance]) continue;
      const recorded = input.addresses[d.instance];
      const preferred = recorded && isAssignable(subnet, recorded) ? recorded : undefined;
      addresses[d.instance] = asUserFailure(() =>
        assignAddress(
          subnet,
          [...this.held(d.instance), ...Object.values(input.addresses)].filter((ip) => ip !== preferred),
          preferred,
          this.dynamic,
        ),
      );
    }
  }

  /** A service's instances, together (like docker-compose) or one by one with a stagger; then its names. */
  private async bringUpService(service: Service): Promise<void> {
    const { input, blueprint, records } = this;
    const env = asUserFailure(
      () =>
        resolveEnv(service.env, {
          attribute: (s, attribute) => attributeOf(records, blueprint, s, attribute),
          secret: (name) => input.secrets?.[name],
        }),
      `service '${service.id}': `,
    );
    const bringUp = (d: DesiredInstance) => this.bringUp(service, env, d);
    const instances = this.desired.filter((x) => x.service === service.id);
    // Changed instances are rolled out; the others (new, stopped, unchanged) come up together.
    const changed = this.rollouts ? instances.filter((d) => actionFor(this.plan, d) === 'recreated') : [];
    const others = instances.filter((d) => !changed.includes(d));
    const up: InstanceRecord[] = [];
    if (input.options.staggerMs) for (const d of others) up.push(await bringUp(d));
    else
      up.push(
        ...(await mapLimit(others, input.options.parallelism ?? OPERATION_DEFAULTS.parallelism, bringUp)),
      );
    records.push(...up);
    if (changed.length > 0) {
      if (this.rollouts) for (const r of up) if (r.ip) this.serve(r);
      await this.publish();
      // The way back is direct: no canary to promote, and a failure does not stop it half-way.
      const declared = updatePolicyOf(service.update, blueprint.update);
      const policy: UpdatePolicy = this.rollingBack
        ? { ...declared, canary: 0, failureAction: 'continue' }
        : declared;
      let replaced: InstanceRecord[];
      try {
        replaced = await rollOutService(
          service.id,
          changed.map((d) => ({ instance: d.instance, containerId: this.liveById.get(d.instance)!.id })),
          policy,
          this.stepsFor(service, env, policy),
          {
            sleep: (ms) => sleep(ms),
            wait: (w, timeoutMs) => this.control.wait(w, timeoutMs),
            say: (line) => this.say(line),
          },
        );
      } catch (err) {
        // Why the rollout stopped is what counts; an old container left running is a duplicate
        // the way back (or the next convergence) removes.
        await this.settleRetiring().catch(() => undefined);
        throw err;
      }
      await this.settleRetiring();
      records.push(...replaced);
      const order = new Map(this.desired.map((d, i) => [d.instance, i]));
      records.sort((a, b) => (order.get(a.instance) ?? 0) - (order.get(b.instance) ?? 0));
    }
    // Names appear once instances are ready.
    if (this.rollouts) {
      for (const r of up) if (r.ip) this.serve(r);
      await this.publish();
    } else if (this.dnsServer)
      await this.docker.publishDnsRecords(this.app, dnsInstances(records, blueprint));
  }

  /** Publishes what `serving` holds (one host: Berth's dnsmasq; across hosts the aliases do it). */
  private async publish(): Promise<void> {
    if (!this.dnsServer) return;
    await (this.serialNames ? this.names.request() : this.writeServing());
  }

  private async writeServing(): Promise<void> {
    const aliases = (service: string) => this.blueprint.services.find((s) => s.id === service)?.dnsNames;
    await this.docker.publishDnsRecords(
      this.app,
      [...this.serving.values()].map((x) => ({ ...x, ready: true, aliases: aliases(x.service) })),
    );
  }

  private serve(r: InstanceRecord): void {
    if (r.ip) this.serving.set(r.id, { service: r.service, instance: r.instance, address: r.ip });
  }

  /**
   * Takes a container out of the app's names, then waits out the drain: requests that resolved it a
   * moment ago still reach it. Across hosts a name is a network alias, which only leaving the
   * network takes away (requests in flight on it end then).
   */
  // One body on purpose: split into an awaited helper, it took one more microtask, which reordered
  // a parallel batch's timers and activities against recorded histories (replay caught it).
  private async leave(id: string, host: HostConnection | undefined, policy: UpdatePolicy): Promise<void> {
    if (this.dnsServer) {
      this.serving.delete(id);
      await this.publish();
    } else await this.docker.disconnectContainer(id, this.network, host);
    if (policy.drainMs > 0) await sleep(policy.drainMs);
  }

  /**
   * A start-first replacement takes its instance's place: the old container leaves the names, gives
   * up its container name to the new one, and drains and stops behind the rollout (as Kubernetes'
   * terminating pods and Swarm's shut-down tasks do), so the next batch does not wait out its grace
   * period. Its address stays held until it is gone.
   */
  private async retireBehindRollout(
    s: Surge,
    hosts: { old: HostConnection | undefined; new: HostConnection | undefined },
    policy: UpdatePolicy,
    stop: (id: string, host: HostConnection | undefined) => Promise<void>,
  ): Promise<void> {
    const r = s.replacement;
    const container = containerName(this.app, r.instance);
    // Out of the names now; the drain runs behind, with the stop.
    await this.leave(r.containerId, hosts.old, { ...policy, drainMs: 0 });
    const retiredName = `${container}-retired-${r.containerId.slice(0, 12)}`;
    await this.docker.renameContainer(r.containerId, retiredName, hosts.old);
    await this.docker.renameContainer(s.record.id, container, hosts.new);
    const address = this.liveById.get(r.instance)?.ip;
    if (address) this.retiringAddresses.add(address);
    const drainAndStop = async (): Promise<unknown> => {
      try {
        if (policy.drainMs > 0) await sleep(policy.drainMs);
        await stop(r.containerId, hosts.old);
      } catch (err) {
        return err ?? new Error(`stopping ${retiredName} failed`);
      }
      if (address) this.retiringAddresses.delete(address);
      return undefined;
    };
    // Out of the names already, it goes whatever comes: a cancel stopping it half-way would leave
    // it running under its retired name, and the way back would keep it there.
    this.retiring.push(CancellationScope.nonCancellable(drainAndStop));
  }

  /** Waits for the old containers still draining and stopping; the first failure is thrown. */
  private async settleRetiring(): Promise<void> {
    const outcomes = await Promise.all(this.retiring.splice(0));
    const failure = outcomes.find((o) => o !== undefined);
    if (failure !== undefined) throw failure;
  }

  /** The steps a rollout of `service` takes on containers and names. */
  private stepsFor(service: Service, env: Record<string, string>, policy: UpdatePolicy): RolloutSteps {
    const desiredOf = (instance: string) => this.desired.find((d) => d.instance === instance)!;
    const hostOf = (instance: string) =>
      this.reserved.connections?.[this.reserved.hosts[instance] ?? 'local'];
    const stop = (id: string, host: HostConnection | undefined) =>
      this.docker.stopContainer({
        id,
        ...(host ? { host } : {}),
        ...(service.stopGracePeriodMs !== undefined ? { gracePeriodMs: service.stopGracePeriodMs } : {}),
      });
    const oldHost = (r: Replacement) => this.connectionOf(this.liveById.get(r.instance)?.host ?? 'local');
    return {
      stopFirst: async (r) => {
        await this.leave(r.containerId, oldHost(r), policy);
        await stop(r.containerId, oldHost(r));
        const record = await this.bringUp(service, env, desiredOf(r.instance), 'created');
        this.serve(record);
        await this.publish();
        this.say(`replaced ${r.instance} (stop-first)`);
        return { ...record, action: 'recreated' };
      },
      surge: async (r) => {
        const d = desiredOf(r.instance);
        const busy = this.addresses[r.instance];
        const ip = asUserFailure(() =>
          assignAddress(
            this.subnet,
            [
              ...this.held(r.instance),
              ...Object.values(this.input.addresses),
              busy,
              ...this.retiringAddresses,
            ],
            undefined,
            this.dynamic,
          ),
        );
        const name = `${containerName(this.app, r.instance)}-${d.configHash.slice(0, 8)}`;
        const record = await this.bringUp(service, env, d, 'created', { name, ip });
        this.serve(record);
        await this.publish();
        this.say(`started ${r.instance}'s replacement ${name} (${ip}) beside it`);
        return { replacement: r, record };
      },
      retire: async (s: Surge) => {
        const r = s.replacement;
        const container = containerName(this.app, r.instance);
        if (this.retireBehind)
          await this.retireBehindRollout(s, { old: oldHost(r), new: hostOf(r.instance) }, policy, stop);
        else {
          await this.leave(r.containerId, oldHost(r), policy);
          await stop(r.containerId, oldHost(r));
          await this.docker.renameContainer(s.record.id, container, hostOf(r.instance));
        }
        this.addresses[r.instance] = s.record.ip!;
        this.say(`replaced ${r.instance} (start-first, now ${s.record.ip})`);
        return { ...s.record, container, action: 'recreated' };
      },
      withdraw: async (s: Surge) => {
        await this.leave(s.record.id, hostOf(s.replacement.instance), policy);
        await stop(s.record.id, hostOf(s.replacement.instance));
        this.say(`removed ${s.record.container}`);
      },
      checkReady: async (record) => {
        const host = hostOf(record.instance);
        await this.slow.waitReady({
          ...this.readinessOf(service, record.ip),
          timeoutMs: RECHECK_MS,
          id: record.id,
          ...(host ? { host } : {}),
        });
      },
    };
  }

  /**
   * Brings one instance up as the plan says (or as `forced`), and returns its record. A `surge` is
   * a replacement started beside the instance: its own container name and address.
   */
  private async bringUp(
    service: Service,
    env: Record<string, string>,
    d: DesiredInstance,
    forced?: 'created',
    surge?: { name: string; ip: string },
  ): Promise<InstanceRecord> {
    const { app, addresses } = this;
    const hostId = this.reserved.hosts[d.instance] ?? 'local';
    const host = this.reserved.connections?.[hostId];
    const names = [instanceDnsName(app, service.id, d.instance), serviceDnsName(app, service.id)];
    const action = forced ?? actionFor(this.plan, d);
    let id = forced ? '' : (this.liveById.get(d.instance)?.id ?? '');
    let ip: string | undefined = surge?.ip ?? addresses[d.instance];
    let ports = forced ? undefined : this.liveById.get(d.instance)?.ports;
    if (action !== 'kept') {
      const spec: ContainerSpec = {
        ...(host ? { host } : {}),
        app,
        service: service.id,
        instance: d.instance,
        ...(surge ? { name: surge.name } : {}),
        image: this.imageOf(service),
        ...(this.realApps
          ? {
              ...(d.resolvedHash ? { resolvedHash: d.resolvedHash } : {}),
              mounts: mountsFor(app, service.id, d.instance, service.volumes),
            }
          : {}),
        command: service.command,
        env,
        ports: service.ports,
        network: this.network,
        aliases: this.pool.overlay
          ? [service.id, d.instance, ...names, ...(service.dnsNames ?? [])]
          : [service.id, d.instance],
        ip,
        ...(this.dnsServer ? { dns: [this.dnsServer] } : {}),
        configHash: d.configHash,
        restart: service.restart,
        cpus: service.resources.cpus,
        memoryBytes: service.resources.memoryBytes,
        ...(this.rollouts && service.stopSignal ? { stopSignal: service.stopSignal } : {}),
        ...(this.rollouts && service.stopGracePeriodMs !== undefined
          ? { stopGracePeriodMs: service.stopGracePeriodMs }
          : {}),
      };
      ({ id, ip, ports } = await this.startOrCreate(service, d, action, id, spec, !surge));
    }
    this.progress.done++;
    const container = surge?.name ?? containerName(app, d.instance);
    this.say(`${action} ${d.instance} (${container}, ${ip})`);
    return {
      service: service.id,
      instance: d.instance,
      container,
      id,
      host: hostId,
      ip,
      dnsNames: names,
      action,
      ...(ports?.length ? { ports } : {}),
      ...(this.realApps
        ? { image: action === 'kept' ? this.liveById.get(d.instance)?.image : this.imageOf(service) }
        : {}),
    };
  }

  /** How an instance's readiness is checked (its health command, else its first port). */
  private readinessOf(service: Service, address: string | undefined) {
    const { input } = this;
    return {
      command: service.healthCheck?.command,
      port: service.healthCheck?.port ?? service.ports[0]?.container,
      address,
      intervalMs: service.healthCheck?.intervalMs ?? 100,
      timeoutMs:
        input.options.readyTimeoutMs ?? service.healthCheck?.timeoutMs ?? OPERATION_DEFAULTS.readyTimeoutMs,
    };
  }

  /**
   * Starts a stopped instance, or creates it (again), and waits until it is ready; returns its
   * container and address. `ownAddress`: the instance's recorded address moves with it when taken.
   */
  private async startOrCreate(
    service: Service,
    d: DesiredInstance,
    action: Exclude<InstanceRecord['action'], 'kept'>,
    id: string,
    spec: ContainerSpec,
    ownAddress: boolean,
  ): Promise<{ id: string; ip: string | undefined; ports?: ForwardedPort[] }> {
    const { input, docker, slow, addresses } = this;
    const host = spec.host;
    if (this.started++ > 0 && input.options.staggerMs) await sleep(input.options.staggerMs);
    if (action === 'recreated') await docker.removeContainer(id, host);
    const check = this.readinessOf(service, spec.ip);
    if (action === 'started') {
      await docker.startContainer(id, host);
      const ready = await slow.waitReady({ ...check, id, ...(host ? { host } : {}) });
      return { id, ip: spec.ip, ports: ready?.ports };
    }
    try {
      const made = await slow.ensureReady(spec, check);
      return { id: made.id, ip: spec.ip, ports: made.ports };
    } catch (err) {
      if (!isFailureOfType(err, Failure.AddressInUse)) throw err;
      // Keep the name, not the address: the overlay has not let go of it yet.
      const busy = spec.ip!;
      const ip = asUserFailure(() =>
        assignAddress(
          this.subnet,
          [
            ...this.held(d.instance),
            ...Object.values(input.addresses),
            busy,
            ...(addresses[d.instance] ? [addresses[d.instance]] : []),
          ],
          undefined,
          this.dynamic,
        ),
      );
      if (ownAddress) addresses[d.instance] = ip;
      this.say(`${d.instance}: address ${busy} still held, using ${ip}`);
      const moved = { ...spec, ip };
      const made = await slow.ensureReady(moved, { ...check, address: ip });
      return { id: made.id, ip, ports: made.ports };
    }
  }

  /** Extra instances go last, after their names are withdrawn and a drain. */
  private async removeExtras(): Promise<void> {
    const { plan, docker, app } = this;
    this.progress.phase = 'cleanup';
    if (plan.remove.length === 0) return;
    const hostOf = (id: string) => this.connectionOf(this.live.find((l) => l.id === id)?.host ?? 'local');
    // An extra container of an instance that stays (two after an interrupted replacement) keeps its
    // instance's address and reservation.
    const stays = (instance: string) => this.desired.some((d) => d.instance === instance);
    const gone = plan.remove.filter((r) => !stays(r.instance)).map((r) => r.instance);
    if (!this.rollouts) {
      if (this.dnsServer) await docker.publishDnsRecords(app, dnsInstances(this.records, this.blueprint));
      for (const extra of plan.remove) {
        await docker.removeContainer(extra.id, hostOf(extra.id));
        if (!stays(extra.instance)) delete this.addresses[extra.instance];
        this.say(`removed ${extra.instance}`);
      }
    } else {
      // Out of the names together, one drain (the longest of their services'), then stopped gracefully.
      const serviceOf = (id: string) =>
        this.blueprint.services.find((s) => s.id === this.live.find((l) => l.id === id)?.service);
      for (const extra of plan.remove) this.serving.delete(extra.id);
      await this.publish();
      if (!this.dnsServer)
        for (const extra of plan.remove)
          await docker.disconnectContainer(extra.id, this.network, hostOf(extra.id));
      const drainMs = Math.max(
        0,
        ...plan.remove.map((x) => updatePolicyOf(serviceOf(x.id)?.update, this.blueprint.update).drainMs),
      );
      if (drainMs > 0) await sleep(drainMs);
      const parallelism = this.input.options.parallelism ?? OPERATION_DEFAULTS.parallelism;
      await mapLimit(
        plan.remove,
        this.stopAtOnce ? Math.max(parallelism, Math.min(plan.remove.length, STOPS_IN_FLIGHT)) : parallelism,
        async (extra) => {
          const grace = serviceOf(extra.id)?.stopGracePeriodMs;
          const host = hostOf(extra.id);
          await docker.stopContainer({
            id: extra.id,
            ...(host ? { host } : {}),
            ...(grace !== undefined ? { gracePeriodMs: grace } : {}),
          });
          if (!stays(extra.instance)) delete this.addresses[extra.instance];
          this.say(`removed ${extra.instance}`);
        },
      );
    }
    await docker.releaseHosts({ app, instances: gone });
  }
}

/**
 * The app's subnet comes from the inventory, which avoids every subnet the engine already has; if
 * another network takes it before Berth creates its own, Berth asks for the next one (bounded).
 */
async function ensureAppNetwork(
  docker: ReturnType<typeof dockerActivities>,
  app: string,
  requested: string | undefined,
  overlay: PoolView['overlay'],
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const subnet = await docker.allocateAppSubnet({ app, requested });
    try {
      const ipRange = overlay ? dynamicRangeOf(subnet) : undefined;
      await docker.ensureNetwork(
        app,
        { cidr: subnet, gateway: gatewayOf(subnet), ...(ipRange ? { ipRange } : {}) },
        overlay,
      );
      return subnet;
    } catch (err) {
      const type = (err as { cause?: { type?: string } }).cause?.type;
      if (type !== 'SubnetTaken' || requested || attempt >= 3) throw err;
      await docker.releaseAppSubnet({ app });
    }
  }
}

/**
 * Removes what a failed deploy created: every container that was not there before it (found by
 * label, so one whose readiness wait failed is found too). When the app had nothing before, its
 * network, subnet, names and reservations go as well.
 */
async function rollback(
  input: OperationInput,
  before: InstanceStatus[],
  desired: string[],
  hosts: HostConnection[],
): Promise<number> {
  const docker = dockerActivities(input.options.activities);
  const existed = new Set(before.map((b) => b.id));
  const created = (await docker.listInstances(input.app, hosts)).filter((i) => !existed.has(i.id));
  if (before.length === 0) {
    await docker.removeApp(input.app, hosts);
    await docker.removeDnsRecords(input.app);
    await docker.releaseHosts({ app: input.app });
    await docker.releaseAppSubnet({ app: input.app });
  } else {
    for (const c of created)
      await docker.removeContainer(
        c.id,
        hosts.find((h) => h.id === c.host),
      );
    const kept = new Set(before.map((b) => b.instance));
    await docker.releaseHosts({ app: input.app, instances: desired.filter((i) => !kept.has(i)) });
  }
  return created.length;
}

function actionFor(plan: ReturnType<typeof reconcile>, d: DesiredInstance): InstanceRecord['action'] {
  if (plan.create.some((x) => x.instance === d.instance)) return 'created';
  if (plan.recreate.some((x) => x.desired.instance === d.instance)) return 'recreated';
  if (plan.start.some((x) => x.instance === d.instance)) return 'started';
  return 'kept';
}

function configHash(service: Service, image: string): string {
  const { command, env, ports, volumes, resources, restart, healthCheck } = service;
  return stableHash(canonicalJson({ image, command, env, ports, volumes, resources, restart, healthCheck }));
}

function toLive(i: InstanceStatus): LiveInstance {
  return {
    service: i.service,
    instance: i.instance,
    id: i.id,
    state: i.state,
    configHash: i.configHash,
    ...(i.resolvedHash ? { resolvedHash: i.resolvedHash } : {}),
  };
}

/** `${db.address}` is the first instance's address, `${db.host}` the service's DNS name, `${db.port}` its first port. */
function attributeOf(
  records: InstanceRecord[],
  blueprint: Blueprint,
  service: string,
  attribute: string,
): string | undefined {
  const first = records.find((r) => r.service === service);
  const spec = blueprint.services.find((s) => s.id === service);
  if (!first || !spec) return undefined;
  switch (attribute) {
    case 'address':
      return first.ip;
    case 'host':
      return serviceDnsName(blueprint.app, service);
    case 'port':
      return spec.ports[0] ? String(spec.ports[0].container) : undefined;
    case 'instances':
      return String(records.filter((r) => r.service === service).length);
    default:
      return undefined;
  }
}

function dnsInstances(records: InstanceRecord[], blueprint: Blueprint) {
  return records
    .filter((r) => r.ip)
    .map((r) => ({
      service: r.service,
      instance: r.instance,
      address: r.ip!,
      ready: true,
      aliases: blueprint.services.find((s) => s.id === r.service)?.dnsNames,
    }));
}
