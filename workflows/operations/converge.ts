import { ApplicationFailure, sleep } from '@temporalio/workflow';
import type { Blueprint, Service } from '../../src/core/blueprint/model';
import { resolveEnv } from '../../src/core/blueprint/references';
import { canonicalJson, stableHash } from '../../src/core/hash';
import { assignAddress, dynamicRangeOf, gatewayOf, isAssignable } from '../../src/core/ipam';
import { containerName, instanceDnsName, networkName, serviceDnsName } from '../../src/core/names';
import { buildDemand } from '../../src/core/placement/demand';
import {
  desiredInstances,
  reconcile,
  type DesiredInstance,
  type LiveInstance,
} from '../../src/core/reconcile';
import type { ContainerSpec, InstanceStatus } from '../api/containers';
import { dockerActivities, longActivities } from '../activity-options';
import { asUserFailure } from '../failures';
import type { PoolView, ReserveResult } from '../api/inventory';
import type { HostConnection } from '../../src/core/hosts';
import {
  OPERATION_DEFAULTS,
  type InstanceRecord,
  type OperationInput,
  type OperationProgress,
  type OperationResult,
} from '../api/operations';
import { Failure, isFailureOfType } from '../../src/core/failures';

/**
 * Deploy, scale and heal are one algorithm: make what runs match the desired state. Images first,
 * then the app's subnet and network, placement reservations for every desired instance, then service
 * by service in dependency order (references resolved from the services before), each instance
 * created or started and waited on until ready, its DNS names published; extra instances go last.
 */
export async function converge(input: OperationInput, progress: OperationProgress): Promise<OperationResult> {
  const blueprint = input.blueprint;
  if (!blueprint)
    throw ApplicationFailure.nonRetryable(`app '${input.app}' has not been deployed`, Failure.NotDeployed);
  return new Convergence(input, blueprint, progress).run();
}

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

  constructor(
    private readonly input: OperationInput,
    private readonly blueprint: Blueprint,
    private readonly progress: OperationProgress,
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
    this.pool = await this.docker.describePool();
    await this.ensureImages();
    await this.ensureNetwork();
    const hashes = Object.fromEntries(
      blueprint.services.map((s) => [s.id, configHash(s, this.images[s.id])]),
    );
    this.desired = desiredInstances(
      blueprint.services.map((s) => ({ id: s.id, replicas: this.replicas(s), configHash: hashes[s.id] })),
    );
    const found = await this.docker.listInstances(this.app, this.pool.hosts);
    progress.total = this.desired.length;
    await this.reserve(found);
    this.assignAddresses();
    progress.phase = 'containers';
    try {
      for (const service of blueprint.services) await this.bringUpService(service);
      await this.removeExtras();
    } catch (err) {
      if (input.operation === 'deploy' && !input.options.keepOnFailure) {
        progress.phase = 'rollback';
        const removed = await rollback(
          input,
          this.live,
          this.desired.map((d) => d.instance),
          this.pool.hosts,
        );
        this.say(`rolled back: removed ${removed} container(s) this deploy created`);
      }
      throw err;
    }
    for (const instance of Object.keys(this.addresses))
      if (!this.desired.some((d) => d.instance === instance)) delete this.addresses[instance];
    progress.phase = 'done';
    return {
      app: this.app,
      operation: input.operation,
      network: this.network,
      subnet: this.subnet,
      instances: this.records,
      removed: this.plan.remove.map((r) => r.instance),
      addresses: this.addresses,
    };
  }

  private async ensureImages(): Promise<void> {
    const { pool } = this;
    this.progress.phase = 'images';
    for (const service of this.blueprint.services) {
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
    this.reserved = await this.docker.reserveHosts({
      app,
      containers: asUserFailure(() => buildDemand(scaled)),
    });
    if (this.reserved.unplaced.length > 0) {
      throw ApplicationFailure.nonRetryable(
        this.reserved.unplaced.map((u) => u.reason).join('; '),
        Failure.NoHostFits,
      );
    }
    for (const id of this.reserved.provisioned ?? []) this.say(`provisioned host ${id}`);
    for (const l of found) {
      const placed = this.reserved.hosts[l.instance];
      if (placed && placed !== l.host) {
        await this.docker.removeContainer(l.id, this.connectionOf(l.host));
        this.say(`moving ${l.instance} from ${l.host} to ${placed}`);
      } else this.live.push(l);
    }
    this.plan = reconcile(this.desired, this.live.map(toLive));
    this.liveById = new Map(this.live.map((l) => [l.instance, l]));
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
    if (input.options.staggerMs) for (const d of instances) records.push(await bringUp(d));
    else
      records.push(
        ...(await mapLimit(instances, input.options.parallelism ?? OPERATION_DEFAULTS.parallelism, bringUp)),
      );
    // Names appear once instances are ready.
    if (this.dnsServer) await this.docker.publishDnsRecords(this.app, dnsInstances(records, blueprint));
  }

  private async bringUp(
    service: Service,
    env: Record<string, string>,
    d: DesiredInstance,
  ): Promise<InstanceRecord> {
    const { app, addresses } = this;
    const hostId = this.reserved.hosts[d.instance] ?? 'local';
    const host = this.reserved.connections?.[hostId];
    const names = [instanceDnsName(app, service.id, d.instance), serviceDnsName(app, service.id)];
    const action = actionFor(this.plan, d);
    let id = this.liveById.get(d.instance)?.id ?? '';
    if (action !== 'kept') {
      const spec: ContainerSpec = {
        ...(host ? { host } : {}),
        app,
        service: service.id,
        instance: d.instance,
        image: this.images[service.id],
        command: service.command,
        env,
        ports: service.ports,
        network: this.network,
        aliases: this.pool.overlay
          ? [service.id, d.instance, ...names, ...(service.dnsNames ?? [])]
          : [service.id, d.instance],
        ip: addresses[d.instance],
        ...(this.dnsServer ? { dns: [this.dnsServer] } : {}),
        configHash: d.configHash,
        restart: service.restart,
        cpus: service.resources.cpus,
        memoryBytes: service.resources.memoryBytes,
      };
      id = await this.startOrCreate(service, d, action, id, spec);
    }
    this.progress.done++;
    this.say(`${action} ${d.instance} (${containerName(app, d.instance)}, ${addresses[d.instance]})`);
    return {
      service: service.id,
      instance: d.instance,
      container: containerName(app, d.instance),
      id,
      host: hostId,
      ip: addresses[d.instance],
      dnsNames: names,
      action,
    };
  }

  /** Starts a stopped instance, or creates it (again), and waits until it is ready; returns its container. */
  private async startOrCreate(
    service: Service,
    d: DesiredInstance,
    action: Exclude<InstanceRecord['action'], 'kept'>,
    id: string,
    spec: ContainerSpec,
  ): Promise<string> {
    const { input, docker, slow, addresses } = this;
    const host = spec.host;
    if (this.started++ > 0 && input.options.staggerMs) await sleep(input.options.staggerMs);
    if (action === 'recreated') await docker.removeContainer(id, host);
    const check = {
      command: service.healthCheck?.command,
      port: service.healthCheck?.port ?? service.ports[0]?.container,
      address: addresses[d.instance],
      intervalMs: service.healthCheck?.intervalMs ?? 100,
      timeoutMs:
        input.options.readyTimeoutMs ?? service.healthCheck?.timeoutMs ?? OPERATION_DEFAULTS.readyTimeoutMs,
    };
    if (action === 'started') {
      await docker.startContainer(id, host);
      await slow.waitReady({ ...check, id, ...(host ? { host } : {}) });
      return id;
    }
    try {
      return (await slow.ensureReady(spec, check)).id;
    } catch (err) {
      if (!isFailureOfType(err, Failure.AddressInUse)) throw err;
      // Keep the name, not the address: the overlay has not let go of it yet.
      const busy = addresses[d.instance];
      addresses[d.instance] = asUserFailure(() =>
        assignAddress(
          this.subnet,
          [...this.held(d.instance), ...Object.values(input.addresses), busy],
          undefined,
          this.dynamic,
        ),
      );
      this.say(`${d.instance}: address ${busy} still held, using ${addresses[d.instance]}`);
      const moved = { ...spec, ip: addresses[d.instance] };
      return (await slow.ensureReady(moved, { ...check, address: addresses[d.instance] })).id;
    }
  }

  /** Extra instances go last, after their names are withdrawn. */
  private async removeExtras(): Promise<void> {
    const { plan, docker, app } = this;
    this.progress.phase = 'cleanup';
    if (plan.remove.length === 0) return;
    if (this.dnsServer) await docker.publishDnsRecords(app, dnsInstances(this.records, this.blueprint));
    for (const extra of plan.remove) {
      await docker.removeContainer(
        extra.id,
        this.connectionOf(this.live.find((l) => l.id === extra.id)?.host ?? 'local'),
      );
      delete this.addresses[extra.instance];
      this.say(`removed ${extra.instance}`);
    }
    await docker.releaseHosts({ app, instances: plan.remove.map((r) => r.instance) });
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
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
  return { service: i.service, instance: i.instance, id: i.id, state: i.state, configHash: i.configHash };
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
