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
import type { PoolView } from '../api/inventory';
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
  const docker = dockerActivities(input.options.activities);
  const slow = longActivities(input.options.activities);
  const { app } = blueprint;
  const say = (line: string) => progress.events.push(line);

  const pool = await docker.describePool();
  const connectionOf = (hostId: string) => pool.hosts.find((h) => h.id === hostId);

  progress.phase = 'images';
  const images: Record<string, string> = {};
  for (const service of blueprint.services) {
    const { image, built, registryImage } = await slow.ensureImage({
      app,
      service: service.id,
      source: service.source,
      ...(pool.buildHost ? { host: pool.buildHost } : {}),
      ...(pool.registry ? { registry: pool.registry } : {}),
    });
    // Across hosts, a built image is created from its registry reference (each host pulls it once).
    images[service.id] = pool.overlay && registryImage ? registryImage : image;
    if (built) say(`built image ${image} for ${service.id}`);
  }

  progress.phase = 'network';
  const network = networkName(app);
  const subnet = await ensureAppNetwork(docker, app, blueprint.network?.cidr, pool.overlay);
  // One host: Berth's dnsmasq. Across hosts: Docker's embedded DNS on the overlay answers the same
  // names (they are the containers' network aliases) from every host.
  const dnsServer = pool.overlay ? undefined : (await docker.ensureDns()).address;

  const replicas = (s: Service) => input.replicas[s.id] ?? s.replicas;
  const hashes = Object.fromEntries(blueprint.services.map((s) => [s.id, configHash(s, images[s.id])]));
  const desired = desiredInstances(
    blueprint.services.map((s) => ({ id: s.id, replicas: replicas(s), configHash: hashes[s.id] })),
  );
  const found = await docker.listInstances(app, pool.hosts);
  progress.total = desired.length;

  progress.phase = 'placement';
  const scaled = { ...blueprint, services: blueprint.services.map((s) => ({ ...s, replicas: replicas(s) })) };
  const reserved = await docker.reserveHosts({ app, containers: asUserFailure(() => buildDemand(scaled)) });
  if (reserved.unplaced.length > 0) {
    throw ApplicationFailure.nonRetryable(
      reserved.unplaced.map((u) => u.reason).join('; '),
      Failure.NoHostFits,
    );
  }
  for (const id of reserved.provisioned ?? []) say(`provisioned host ${id}`);
  // An instance whose host was drained (its reservation moved) is recreated where it is now placed.
  const live: InstanceStatus[] = [];
  for (const l of found) {
    const placed = reserved.hosts[l.instance];
    if (placed && placed !== l.host) {
      await docker.removeContainer(l.id, connectionOf(l.host));
      say(`moving ${l.instance} from ${l.host} to ${placed}`);
    } else live.push(l);
  }
  const plan = reconcile(desired, live.map(toLive));

  // Addresses: what a container holds, else what Berth recorded (a replaced container keeps its
  // address), else the lowest free one in the subnet.
  const addresses: Record<string, string> = {};
  const held = (instance: string) =>
    Object.entries(addresses)
      .filter(([i]) => i !== instance)
      .map(([, ip]) => ip);
  // On an overlay, Docker hands out the subnet's top quarter itself (nodes' load-balancer endpoints).
  const dynamic = pool.overlay ? dynamicRangeOf(subnet) : undefined;
  for (const l of live) if (l.ip && isAssignable(subnet, l.ip)) addresses[l.instance] = l.ip;
  for (const d of desired) {
    if (addresses[d.instance]) continue;
    const recorded = input.addresses[d.instance];
    const preferred = recorded && isAssignable(subnet, recorded) ? recorded : undefined;
    addresses[d.instance] = asUserFailure(() =>
      assignAddress(
        subnet,
        [...held(d.instance), ...Object.values(input.addresses)].filter((ip) => ip !== preferred),
        preferred,
        dynamic,
      ),
    );
  }

  const records: InstanceRecord[] = [];
  const liveById = new Map(live.map((l) => [l.instance, l]));
  let started = 0;
  progress.phase = 'containers';
  try {
    for (const service of blueprint.services) {
      const env = asUserFailure(
        () =>
          resolveEnv(service.env, {
            attribute: (s, attribute) => attributeOf(records, blueprint, s, attribute),
            secret: (name) => input.secrets?.[name],
          }),
        `service '${service.id}': `,
      );
      const bringUp = async (d: DesiredInstance): Promise<InstanceRecord> => {
        const hostId = reserved.hosts[d.instance] ?? 'local';
        const host = reserved.connections?.[hostId];
        const names = [instanceDnsName(app, service.id, d.instance), serviceDnsName(app, service.id)];
        const spec: ContainerSpec = {
          ...(host ? { host } : {}),
          app,
          service: service.id,
          instance: d.instance,
          image: images[service.id],
          command: service.command,
          env,
          ports: service.ports,
          network,
          aliases: pool.overlay
            ? [service.id, d.instance, ...names, ...(service.dnsNames ?? [])]
            : [service.id, d.instance],
          ip: addresses[d.instance],
          ...(dnsServer ? { dns: [dnsServer] } : {}),
          configHash: d.configHash,
          restart: service.restart,
          cpus: service.resources.cpus,
          memoryBytes: service.resources.memoryBytes,
        };
        const action = actionFor(plan, d);
        let id = liveById.get(d.instance)?.id ?? '';
        if (action !== 'kept') {
          if (started++ > 0 && input.options.staggerMs) await sleep(input.options.staggerMs);
          if (action === 'recreated') await docker.removeContainer(id, host);
          const check = {
            command: service.healthCheck?.command,
            port: service.healthCheck?.port ?? service.ports[0]?.container,
            address: addresses[d.instance],
            intervalMs: service.healthCheck?.intervalMs ?? 100,
            timeoutMs:
              input.options.readyTimeoutMs ??
              service.healthCheck?.timeoutMs ??
              OPERATION_DEFAULTS.readyTimeoutMs,
          };
          if (action === 'started') {
            await docker.startContainer(id, host);
            await slow.waitReady({ ...check, id, ...(host ? { host } : {}) });
          } else {
            try {
              id = (await slow.ensureReady(spec, check)).id;
            } catch (err) {
              if (!isFailureOfType(err, Failure.AddressInUse)) throw err;
              // Keep the name, not the address: the overlay has not let go of it yet.
              const busy = addresses[d.instance];
              addresses[d.instance] = asUserFailure(() =>
                assignAddress(
                  subnet,
                  [...held(d.instance), ...Object.values(input.addresses), busy],
                  undefined,
                  dynamic,
                ),
              );
              say(`${d.instance}: address ${busy} still held, using ${addresses[d.instance]}`);
              const moved = { ...spec, ip: addresses[d.instance] };
              id = (await slow.ensureReady(moved, { ...check, address: addresses[d.instance] })).id;
            }
          }
        }
        progress.done++;
        say(`${action} ${d.instance} (${containerName(app, d.instance)}, ${addresses[d.instance]})`);
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
      };
      const instances = desired.filter((x) => x.service === service.id);
      // Instances of one service start together (like docker-compose), one by one with a stagger.
      if (input.options.staggerMs) for (const d of instances) records.push(await bringUp(d));
      else
        records.push(
          ...(await mapLimit(
            instances,
            input.options.parallelism ?? OPERATION_DEFAULTS.parallelism,
            bringUp,
          )),
        );
      // Names appear once instances are ready.
      if (dnsServer) await docker.publishDnsRecords(app, dnsInstances(records, blueprint));
    }

    progress.phase = 'cleanup';
    if (plan.remove.length > 0) {
      if (dnsServer) await docker.publishDnsRecords(app, dnsInstances(records, blueprint));
      for (const extra of plan.remove) {
        await docker.removeContainer(
          extra.id,
          connectionOf(live.find((l) => l.id === extra.id)?.host ?? 'local'),
        );
        delete addresses[extra.instance];
        say(`removed ${extra.instance}`);
      }
      await docker.releaseHosts({ app, instances: plan.remove.map((r) => r.instance) });
    }
  } catch (err) {
    if (input.operation === 'deploy' && !input.options.keepOnFailure) {
      progress.phase = 'rollback';
      const removed = await rollback(
        input,
        live,
        desired.map((d) => d.instance),
        pool.hosts,
      );
      say(`rolled back: removed ${removed} container(s) this deploy created`);
    }
    throw err;
  }
  for (const instance of Object.keys(addresses))
    if (!desired.some((d) => d.instance === instance)) delete addresses[instance];
  progress.phase = 'done';
  return {
    app,
    operation: input.operation,
    network,
    subnet,
    instances: records,
    removed: plan.remove.map((r) => r.instance),
    addresses,
  };
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
