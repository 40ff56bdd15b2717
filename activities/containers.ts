import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, removeLabelledContainers } from './common';
import { LABEL, containerName, networkName } from '../src/core/names';
import { dockerTarget } from '../src/adapters/docker';
import { createDockerPool, isLocal } from '../src/adapters/docker-pool';
import type { HostConnection } from '../src/core/hosts';
import { pullImage } from '../src/adapters/images';
import { registryOf } from '../src/core/images';
import type { DockerPool } from '../src/adapters/docker-pool';
import { asHostFailure, isConflict, isNotFound, isNotModified } from './docker-errors';
import type {
  ContainerRef,
  ContainerSpec,
  InstanceStatus,
  LocalHost,
  ReadinessCheck,
  RemovedResources,
} from '../workflows/api/containers';
import { Failure } from '../src/core/failures';

export interface ActivityDeps {
  /** The local engine. */
  docker: Docker;
  /** Clients for every host of the pool (the local engine among them). */
  pool?: DockerPool;
  /** How the engine is addressed, for error messages. */
  dockerTarget?: string;
  /** Host address that forwarded ports bind to (Clocker opened them to 0.0.0.0; Berth defaults to loopback). */
  publishAddress?: string;
}

function labelFilter(labels: Record<string, string>): { label: string[] } {
  return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
}

/**
 * Activities are thin and idempotent: each create first looks up, by `berth.*` labels, what a
 * previous attempt may have made.
 */
export function createContainerActivities({
  docker: localDocker,
  pool = createDockerPool(localDocker),
  dockerTarget: localTarget = dockerTarget(),
  publishAddress = '127.0.0.1',
}: ActivityDeps) {
  async function guarded<T>(what: string, fn: () => Promise<T>, host?: HostConnection): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asHostFailure(pool, err, what, host, localTarget);
    }
  }
  // Forwarded ports of a remote host open on its own address: loopback there is out of reach.
  const publishOn = (host?: HostConnection) =>
    isLocal(host) ? publishAddress : (host!.address ?? host!.ssh?.host ?? '0.0.0.0');

  async function findContainer(
    docker: Docker,
    app: string,
    instance: string,
  ): Promise<Docker.ContainerInfo | undefined> {
    const found = await docker.listContainers({
      all: true,
      filters: labelFilter({ [LABEL.app]: app, [LABEL.instance]: instance }),
    });
    return found[0];
  }

  async function findNetwork(docker: Docker, app: string): Promise<Docker.NetworkInspectInfo | undefined> {
    const found = await docker.listNetworks({
      filters: { ...labelFilter({ [LABEL.app]: app }), name: [networkName(app)] },
    });
    return found.find((n) => n.Name === networkName(app));
  }

  async function listOn(host: HostConnection | undefined, app?: string): Promise<InstanceStatus[]> {
    return guarded(
      'list containers',
      async () => {
        const docker = await pool.docker(host);
        // `berth.kind=container`: images' labels are inherited, so a container merely started from a
        // Berth image (the base image is labelled too) is not an instance.
        const wanted = { [LABEL.managed]: 'true', [LABEL.kind]: 'container' };
        const filters = labelFilter(app ? { ...wanted, [LABEL.app]: app } : wanted);
        const containers = await docker.listContainers({ all: true, filters });
        return containers.map((c) => ({
          app: c.Labels[LABEL.app],
          service: c.Labels[LABEL.service],
          instance: c.Labels[LABEL.instance],
          container: (c.Names[0] ?? '').replace(/^\//, ''),
          id: c.Id,
          host: host?.id ?? 'local',
          image: c.Image,
          configHash: c.Labels[LABEL.config],
          state: c.State,
          status: c.Status,
          ip: Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAddress || undefined,
          ports: (c.Ports ?? [])
            .filter((p) => p.PublicPort)
            .map((p) => ({
              container: p.PrivatePort,
              protocol: p.Type,
              hostIp: p.IP,
              hostPort: p.PublicPort,
            })),
        }));
      },
      host,
    );
  }

  async function removeContainersOn(host: HostConnection | undefined, app: string): Promise<number> {
    return guarded(
      `remove containers of ${app}`,
      async () => removeLabelledContainers(await pool.docker(host), [`${LABEL.app}=${app}`]),
      host,
    );
  }

  async function removeNetworksOn(host: HostConnection | undefined, app: string): Promise<number> {
    return guarded(
      `remove network of ${app}`,
      async () => {
        const docker = await pool.docker(host);
        const networks = await docker.listNetworks({ filters: labelFilter({ [LABEL.app]: app }) });
        let removed = 0;
        for (const n of networks) {
          // The swarm lets go of an overlay's attachments shortly after their containers are gone.
          for (let attempt = 1; ; attempt++) {
            try {
              await docker.getNetwork(n.Id).remove();
              removed++;
              break;
            } catch (err) {
              // A worker's view of a swarm overlay cannot be removed there; the manager removes it.
              if (isNotFound(err) || isForbidden(err)) break;
              if (!/in use by task|active endpoints/i.test((err as Error).message ?? '') || attempt >= 20)
                throw err;
              heartbeat(`network ${n.Name} still in use`);
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        }
        return removed;
      },
      host,
    );
  }

  const activities = {
    /**
     * The app's network; with a subnet, Berth assigns addresses in it (gateway = first host). With
     * `overlay`, an attachable swarm overlay created on that manager, spanning every host of the pool.
     */
    async ensureNetwork(
      app: string,
      subnet?: { cidr: string; gateway: string; ipRange?: string },
      overlay?: { manager: HostConnection },
    ): Promise<string> {
      const host = overlay?.manager;
      return guarded(
        `create network ${networkName(app)}`,
        async () => {
          const docker = await pool.docker(host);
          const existing = await findNetwork(docker, app);
          const existingSubnet = existing?.IPAM?.Config?.[0]?.Subnet;
          if (existing && (!subnet || existingSubnet === subnet.cidr)) return existing.Id;
          if (existing) {
            // Made by an earlier Berth without a subnet, or for another one: replace it while it is empty.
            const inspected = await docker.getNetwork(existing.Id).inspect();
            if (Object.keys(inspected.Containers ?? {}).length > 0) {
              throw ApplicationFailure.nonRetryable(
                `network ${networkName(app)} has subnet ${existingSubnet ?? 'none'}, not ${subnet!.cidr}, and containers still use it: destroy the app first`,
                Failure.NetworkMismatch,
              );
            }
            await docker.getNetwork(existing.Id).remove();
          }
          try {
            const network = await docker.createNetwork({
              Name: networkName(app),
              Driver: overlay ? 'overlay' : 'bridge',
              ...(overlay ? { Attachable: true } : {}),
              CheckDuplicate: true,
              ...(subnet
                ? {
                    IPAM: {
                      Driver: 'default',
                      Config: [
                        {
                          Subnet: subnet.cidr,
                          Gateway: subnet.gateway,
                          ...(subnet.ipRange ? { IPRange: subnet.ipRange } : {}),
                        },
                      ],
                    },
                  }
                : {}),
              Labels: { [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.kind]: 'network' },
            });
            return network.id;
          } catch (err) {
            const raced = isConflict(err) ? await findNetwork(docker, app) : undefined;
            if (raced) return raced.Id;
            if (/pool overlaps/i.test((err as Error).message ?? '')) {
              // Another network (another tool or Berth home) took the subnet since it was allocated.
              throw ApplicationFailure.nonRetryable(
                `subnet ${subnet?.cidr} is already used by another network`,
                Failure.SubnetTaken,
              );
            }
            throw err;
          }
        },
        host,
      );
    },

    async ensureContainer(spec: ContainerSpec): Promise<ContainerRef> {
      const name = containerName(spec.app, spec.instance);
      const host = spec.host;
      return guarded(
        `create container ${name}`,
        async () => {
          const docker = await pool.docker(host);
          // The name is deterministic: create first, and a 409 means an earlier attempt made it (one
          // Docker call instead of a label search before every create).
          const exposed: Record<string, object> = {};
          const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
          for (const port of spec.ports) {
            const key = `${port.container}/${port.protocol}`;
            exposed[key] = {};
            if (port.host !== undefined) {
              bindings[key] = [
                { HostIp: publishOn(host), HostPort: port.host === 0 ? '' : String(port.host) },
              ];
            }
          }
          const create = () =>
            docker.createContainer({
              name,
              Image: spec.image,
              Cmd: spec.command,
              Hostname: spec.instance,
              Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
              ExposedPorts: exposed,
              Labels: {
                [LABEL.managed]: 'true',
                [LABEL.app]: spec.app,
                [LABEL.service]: spec.service,
                [LABEL.instance]: spec.instance,
                [LABEL.kind]: 'container',
                ...(spec.configHash ? { [LABEL.config]: spec.configHash } : {}),
              },
              HostConfig: {
                PortBindings: bindings,
                NetworkMode: spec.network,
                ...(spec.dns?.length ? { Dns: spec.dns } : {}),
                ...(spec.restart && spec.restart !== 'no' ? { RestartPolicy: { Name: spec.restart } } : {}),
                ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
                ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
              },
              NetworkingConfig: {
                EndpointsConfig: {
                  [spec.network]: {
                    Aliases: spec.aliases,
                    ...(spec.ip ? { IPAMConfig: { IPv4Address: spec.ip } } : {}),
                  },
                },
              },
            });
          try {
            let container: Docker.Container;
            try {
              container = await create();
            } catch (err) {
              // A built image lives in the pool's registry: a host that lacks it pulls it once.
              if (!isNotFound(err) || !spec.image.includes('/') || !registryOf(spec.image)) throw err;
              await pullImage(docker, spec.image, {});
              container = await create();
            }
            return { id: container.id, name, created: true };
          } catch (err) {
            const earlier = isConflict(err)
              ? await findContainer(docker, spec.app, spec.instance)
              : undefined;
            if (earlier) return { id: earlier.Id, name, created: false };
            if (/address already in use/i.test((err as Error).message ?? ''))
              throw ApplicationFailure.nonRetryable(
                `address ${spec.ip} of ${spec.instance} is still held in network ${spec.network}`,
                Failure.AddressInUse,
              );
            throw err;
          }
        },
        host,
      );
    },

    async startContainer(id: string, host?: HostConnection): Promise<void> {
      return guarded(
        `start container ${id.slice(0, 12)}`,
        async () => {
          const docker = await pool.docker(host);
          // A swarm overlay created a moment ago on one manager may not have reached this host's copy
          // of the swarm's state yet: "network ... not found" for a while, so wait for it (bounded).
          for (let attempt = 1; ; attempt++) {
            try {
              await docker.getContainer(id).start();
              return;
            } catch (err) {
              if (isNotModified(err)) return;
              const lagging = isNotFound(err) && /network .* not found/i.test((err as Error).message ?? '');
              if (!lagging || isLocal(host) || attempt >= 40) throw err;
              await new Promise((r) => setTimeout(r, 250));
            }
          }
        },
        host,
      );
    },

    /**
     * Every Berth container, or one app's, with its state, address and forwarded ports, on each of
     * `hosts` (default: the local engine). A host that cannot be reached is left out (it is the
     * inventory's job to mark it failed); when every host fails, so does the call.
     */
    async listInstances(app?: string, hosts?: HostConnection[]): Promise<InstanceStatus[]> {
      const targets = hosts?.length ? hosts : [undefined];
      const settled = await Promise.allSettled(targets.map((h) => listOn(h, app)));
      const ok = settled.filter(
        (r): r is PromiseFulfilledResult<InstanceStatus[]> => r.status === 'fulfilled',
      );
      if (ok.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
      return ok
        .flatMap((r) => r.value)
        .sort((a, b) => (a.app + a.instance).localeCompare(b.app + b.instance));
    },

    async removeContainer(id: string, host?: HostConnection): Promise<void> {
      return guarded(
        `remove container ${id.slice(0, 12)}`,
        async () => {
          try {
            await (await pool.docker(host)).getContainer(id).remove({ force: true, v: true });
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        },
        host,
      );
    },

    /**
     * Waits, bounded by `timeoutMs`, until the container is ready: its check command exits 0, or its
     * port accepts a TCP connection, or (with neither) it is running. Heartbeats while it waits.
     */
    async waitReady(check: ReadinessCheck): Promise<void> {
      const host = check.host;
      const docker = await guarded('connect', () => pool.docker(host), host);
      const deadline = Date.now() + check.timeoutMs;
      let last = 'not checked yet';
      for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, check.intervalMs));
        heartbeat(last);
        const state = await guarded('inspect container', () => docker.getContainer(check.id).inspect(), host);
        if (!state.State.Running) {
          last = `container is ${state.State.Status} (exit code ${state.State.ExitCode})`;
          if (state.State.Status === 'exited' && attempt > 2) break;
          continue;
        }
        if (check.command) {
          const code = await guarded(
            'run health check',
            () => execExitCode(docker, check.id, check.command!),
            host,
          );
          if (code === 0) return;
          last = `health check '${check.command.join(' ')}' exited ${code}`;
        } else if (check.port && check.address) {
          // The worker reaches a local container's own address. A remote host is probed from the
          // host itself (its sshd opens the connection, as a kubelet probes a pod): the port it
          // forwards, else the container's address on docker_gwbridge, which an overlay network
          // gives every container; with neither the container counts as ready once it runs.
          const target = isLocal(host)
            ? { address: check.address, port: check.port }
            : (forwardedTarget(state, check.port) ??
              (await guarded(
                'inspect docker_gwbridge',
                () => gatewayTarget(docker, state.Id, check.port!),
                host,
              )));
          if (!target) return;
          const timeoutMs = Math.min(1000, check.intervalMs * 4);
          const answers = await guarded(
            'probe port',
            () => pool.tcpAnswers(host, target.address, target.port, timeoutMs),
            host,
          );
          if (answers) return;
          last = `port ${check.port} on ${target.address}:${target.port} does not answer`;
        } else {
          return;
        }
      }
      throw ApplicationFailure.nonRetryable(
        `container ${check.id.slice(0, 12)} not ready: ${last}`,
        Failure.NotReady,
      );
    },

    /**
     * A new instance in one activity: created (or found), started, and waited on until ready.
     * Half the Temporal round trips of three separate activities on a deploy's hot path.
     */
    async ensureReady(spec: ContainerSpec, check: Omit<ReadinessCheck, 'id'>): Promise<ContainerRef> {
      const ref = await activities.ensureContainer(spec);
      try {
        await activities.startContainer(ref.id, spec.host);
      } catch (err) {
        // The overlay still holds the address for a container on a lost host: make way, so the
        // caller can place this one at another address.
        if (
          !spec.ip ||
          !/address already in use|already allocated|no available ip/i.test(String((err as Error).message))
        )
          throw err;
        await activities.removeContainer(ref.id, spec.host);
        throw ApplicationFailure.nonRetryable(
          `address ${spec.ip} of ${spec.instance} is still held in network ${spec.network}`,
          Failure.AddressInUse,
        );
      }
      await activities.waitReady({ ...check, id: ref.id, host: spec.host });
      return ref;
    },

    async describeLocalHost(): Promise<LocalHost> {
      return guarded('docker info', async () => {
        const info = await localDocker.info();
        const labels: Record<string, string> = {};
        for (const l of (info.Labels as string[] | undefined) ?? []) {
          const eq = l.indexOf('=');
          if (eq > 0) labels[l.slice(0, eq)] = l.slice(eq + 1);
        }
        return { id: 'local', cpus: info.NCPU, memoryBytes: info.MemTotal, labels };
      });
    },

    /**
     * Removes an app's containers and networks from each of `hosts` (default: the local engine);
     * removing what is already gone is not an error. A host that cannot be reached is skipped and
     * reported (its containers went with it).
     */
    async removeApp(app: string, hosts?: HostConnection[]): Promise<RemovedResources> {
      const targets = hosts?.length ? hosts : [undefined];
      const total: RemovedResources = { containers: 0, networks: 0, unreachable: [] };
      const reachable: (HostConnection | undefined)[] = [];
      // Containers on every host first: an overlay network goes only once nothing is attached.
      for (const host of targets) {
        try {
          total.containers += await removeContainersOn(host, app);
          reachable.push(host);
        } catch (err) {
          if (isLocal(host) || !isUnreachable(err)) throw err;
          total.unreachable!.push(host!.id);
        }
      }
      for (const host of reachable) total.networks += await removeNetworksOn(host, app);
      return total;
    },
  };
  return activities;
}

async function execExitCode(docker: Docker, id: string, command: string[]): Promise<number> {
  const exec = await docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
    stream.resume();
  });
  const inspected = await exec.inspect();
  return inspected.ExitCode ?? -1;
}

/** Where a container's port is forwarded on its host, as the host itself reaches it. */
function forwardedTarget(
  state: Docker.ContainerInspectInfo,
  port: number,
): { address: string; port: number } | undefined {
  const bindings = (state.NetworkSettings?.Ports ?? {}) as Record<
    string,
    { HostIp: string; HostPort: string }[] | null
  >;
  const binding = (bindings[`${port}/tcp`] ?? [])[0];
  if (!binding?.HostPort) return undefined;
  const address = !binding.HostIp || binding.HostIp === '0.0.0.0' ? '127.0.0.1' : binding.HostIp;
  return { address, port: Number(binding.HostPort) };
}

/** The container's address on its host's docker_gwbridge (present when it is on an overlay network). */
async function gatewayTarget(
  docker: Docker,
  containerId: string,
  port: number,
): Promise<{ address: string; port: number } | undefined> {
  let info: { Containers?: Record<string, { IPv4Address?: string }> };
  try {
    info = (await docker.getNetwork('docker_gwbridge').inspect()) as typeof info;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const address = info.Containers?.[containerId]?.IPv4Address?.split('/')[0];
  return address ? { address, port } : undefined;
}

function isForbidden(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 403;
}

/** Infrastructure failures are retryable; a rejected request is not. */
function isUnreachable(err: unknown): boolean {
  return !(err instanceof ApplicationFailure) || !err.nonRetryable;
}
