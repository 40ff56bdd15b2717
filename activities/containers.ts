import * as net from 'net';
import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LABEL, containerName, networkName } from '../src/core/names';
import { dockerTarget } from '../src/adapters/docker';
import { asActivityFailure, isConflict, isNotFound, isNotModified } from './docker-errors';
import type {
  ContainerRef,
  ContainerSpec,
  InstanceStatus,
  LocalHost,
  ReadinessCheck,
  RemovedResources,
} from './types';

export interface ActivityDeps {
  docker: Docker;
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
  docker,
  dockerTarget: target = dockerTarget(),
  publishAddress = '127.0.0.1',
}: ActivityDeps) {
  async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asActivityFailure(err, what, target);
    }
  }

  async function findContainer(app: string, instance: string): Promise<Docker.ContainerInfo | undefined> {
    const found = await docker.listContainers({
      all: true,
      filters: labelFilter({ [LABEL.app]: app, [LABEL.instance]: instance }),
    });
    return found[0];
  }

  async function findNetwork(app: string): Promise<Docker.NetworkInspectInfo | undefined> {
    const found = await docker.listNetworks({
      filters: { ...labelFilter({ [LABEL.app]: app }), name: [networkName(app)] },
    });
    return found.find((n) => n.Name === networkName(app));
  }

  const activities = {
    /** The app's network; with a subnet, Berth assigns addresses in it (gateway = first host). */
    async ensureNetwork(app: string, subnet?: { cidr: string; gateway: string }): Promise<string> {
      return guarded(`create network ${networkName(app)}`, async () => {
        const existing = await findNetwork(app);
        const existingSubnet = existing?.IPAM?.Config?.[0]?.Subnet;
        if (existing && (!subnet || existingSubnet === subnet.cidr)) return existing.Id;
        if (existing) {
          // Made by an earlier Berth without a subnet, or for another one: replace it while it is empty.
          const inspected = await docker.getNetwork(existing.Id).inspect();
          if (Object.keys(inspected.Containers ?? {}).length > 0) {
            throw ApplicationFailure.nonRetryable(
              `network ${networkName(app)} has subnet ${existingSubnet ?? 'none'}, not ${subnet!.cidr}, and containers still use it: destroy the app first`,
              'NetworkMismatch',
            );
          }
          await docker.getNetwork(existing.Id).remove();
        }
        try {
          const network = await docker.createNetwork({
            Name: networkName(app),
            Driver: 'bridge',
            CheckDuplicate: true,
            ...(subnet
              ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet.cidr, Gateway: subnet.gateway }] } }
              : {}),
            Labels: { [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.kind]: 'network' },
          });
          return network.id;
        } catch (err) {
          const raced = isConflict(err) ? await findNetwork(app) : undefined;
          if (raced) return raced.Id;
          if (/pool overlaps/i.test((err as Error).message ?? '')) {
            // Another network (another tool or Berth home) took the subnet since it was allocated.
            throw ApplicationFailure.nonRetryable(
              `subnet ${subnet?.cidr} is already used by another network`,
              'SubnetTaken',
            );
          }
          throw err;
        }
      });
    },

    async ensureContainer(spec: ContainerSpec): Promise<ContainerRef> {
      const name = containerName(spec.app, spec.instance);
      return guarded(`create container ${name}`, async () => {
        // The name is deterministic: create first, and a 409 means an earlier attempt made it (one
        // Docker call instead of a label search before every create).
        const exposed: Record<string, object> = {};
        const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
        for (const port of spec.ports) {
          const key = `${port.container}/${port.protocol}`;
          exposed[key] = {};
          if (port.host !== undefined) {
            bindings[key] = [{ HostIp: publishAddress, HostPort: port.host === 0 ? '' : String(port.host) }];
          }
        }
        try {
          const container = await docker.createContainer({
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
          return { id: container.id, name, created: true };
        } catch (err) {
          const earlier = isConflict(err) ? await findContainer(spec.app, spec.instance) : undefined;
          if (earlier) return { id: earlier.Id, name, created: false };
          throw err;
        }
      });
    },

    async startContainer(id: string): Promise<void> {
      return guarded(`start container ${id.slice(0, 12)}`, async () => {
        try {
          await docker.getContainer(id).start();
        } catch (err) {
          if (!isNotModified(err)) throw err;
        }
      });
    },

    /** Every Berth container, or one app's, with its state, address and forwarded ports. */
    async listInstances(app?: string): Promise<InstanceStatus[]> {
      return guarded('list containers', async () => {
        // `berth.kind=container`: images' labels are inherited, so a container merely started from a
        // Berth image (the base image is labelled too) is not an instance.
        const wanted = { [LABEL.managed]: 'true', [LABEL.kind]: 'container' };
        const filters = labelFilter(app ? { ...wanted, [LABEL.app]: app } : wanted);
        const containers = await docker.listContainers({ all: true, filters });
        return containers
          .map((c) => ({
            app: c.Labels[LABEL.app],
            service: c.Labels[LABEL.service],
            instance: c.Labels[LABEL.instance],
            container: (c.Names[0] ?? '').replace(/^\//, ''),
            id: c.Id,
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
          }))
          .sort((a, b) => (a.app + a.instance).localeCompare(b.app + b.instance));
      });
    },

    async removeContainer(id: string): Promise<void> {
      return guarded(`remove container ${id.slice(0, 12)}`, async () => {
        try {
          await docker.getContainer(id).remove({ force: true, v: true });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      });
    },

    /**
     * Waits, bounded by `timeoutMs`, until the container is ready: its check command exits 0, or its
     * port accepts a TCP connection, or (with neither) it is running. Heartbeats while it waits.
     */
    async waitReady(check: ReadinessCheck): Promise<void> {
      const deadline = Date.now() + check.timeoutMs;
      let last = 'not checked yet';
      for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, check.intervalMs));
        heartbeat(last);
        const state = await guarded('inspect container', () => docker.getContainer(check.id).inspect());
        if (!state.State.Running) {
          last = `container is ${state.State.Status} (exit code ${state.State.ExitCode})`;
          if (state.State.Status === 'exited' && attempt > 2) break;
          continue;
        }
        if (check.command) {
          const code = await guarded('run health check', () =>
            execExitCode(docker, check.id, check.command!),
          );
          if (code === 0) return;
          last = `health check '${check.command.join(' ')}' exited ${code}`;
        } else if (check.port && check.address) {
          if (await tcpAnswers(check.address, check.port, Math.min(1000, check.intervalMs * 4))) return;
          last = `port ${check.port} on ${check.address} does not answer`;
        } else {
          return;
        }
      }
      throw ApplicationFailure.nonRetryable(
        `container ${check.id.slice(0, 12)} not ready: ${last}`,
        'NotReady',
      );
    },

    /**
     * A new instance in one activity: created (or found), started, and waited on until ready.
     * Half the Temporal round trips of three separate activities on a deploy's hot path.
     */
    async ensureReady(spec: ContainerSpec, check: Omit<ReadinessCheck, 'id'>): Promise<ContainerRef> {
      const ref = await activities.ensureContainer(spec);
      await activities.startContainer(ref.id);
      await activities.waitReady({ ...check, id: ref.id });
      return ref;
    },

    async describeLocalHost(): Promise<LocalHost> {
      return guarded('docker info', async () => {
        const info = await docker.info();
        const labels: Record<string, string> = {};
        for (const l of (info.Labels as string[] | undefined) ?? []) {
          const eq = l.indexOf('=');
          if (eq > 0) labels[l.slice(0, eq)] = l.slice(eq + 1);
        }
        return { id: 'local', cpus: info.NCPU, memoryBytes: info.MemTotal, labels };
      });
    },

    /** Removes an app's containers and network; removing what is already gone is not an error. */
    async removeApp(app: string): Promise<RemovedResources> {
      return guarded(`remove app ${app}`, async () => {
        const containers = await docker.listContainers({
          all: true,
          filters: labelFilter({ [LABEL.app]: app }),
        });
        let removed = 0;
        // A few removals at a time: faster than one by one, gentler than all at once.
        for (let i = 0; i < containers.length; i += 8) {
          await Promise.all(
            containers.slice(i, i + 8).map(async (c) => {
              try {
                await docker.getContainer(c.Id).remove({ force: true, v: true });
                removed++;
              } catch (err) {
                if (!isNotFound(err) && !isConflict(err)) throw err;
              }
            }),
          );
          heartbeat(`removed ${removed} of ${containers.length}`);
        }
        const networks = await docker.listNetworks({ filters: labelFilter({ [LABEL.app]: app }) });
        for (const n of networks) {
          try {
            await docker.getNetwork(n.Id).remove();
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
        return { containers: removed, networks: networks.length };
      });
    },
  };
  return activities;
}

function heartbeat(details: string): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (direct calls in tests)
  }
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

function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
