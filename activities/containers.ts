import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { isLocal } from '../src/adapters/docker-pool';
import { containerCreateOptions } from '../src/adapters/container-options';
import { pullImage } from '../src/adapters/images';
import { Failure } from '../src/core/failures';
import type { HostConnection } from '../src/core/hosts';
import { registryOf } from '../src/core/images';
import { LABEL, containerName } from '../src/core/names';
import type {
  ContainerRef,
  ContainerSpec,
  ContainerStop,
  InstanceVolume,
  ReadyContainer,
  InstanceStatus,
  LocalHost,
  ReadinessCheck,
  RemovedResources,
} from '../workflows/api/containers';
import {
  heartbeat,
  hostCalls,
  labelFilter,
  removeLabelledContainers,
  stopLabelledContainers,
  untilGone,
  type ActivityDeps,
} from './common';
import { isConflict, isNotFound, isNotModified } from './docker-errors';
import { createNetworkActivities, removeNetworksOn } from './networks';
import { createReadinessActivities } from './readiness';

export type { ActivityDeps } from './common';

/**
 * Activities are thin and idempotent: each create first looks up, by `berth.*` labels, what a
 * previous attempt may have made. One factory closes over the clients these activities share (and
 * adds the network and readiness ones); each activity in it is short.
 */
export function createContainerActivities(deps: ActivityDeps) {
  const calls = hostCalls(deps);
  const { localDocker, pool, guarded, publishOn } = calls;
  const readiness = createReadinessActivities(calls);

  /** The id of the container with exactly this name, if any. */
  async function findByName(docker: Docker, name: string): Promise<string | undefined> {
    try {
      return (await docker.getContainer(name).inspect()).Id;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
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
          ...(c.Labels[LABEL.resolved] ? { resolvedHash: c.Labels[LABEL.resolved] } : {}),
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

  async function removeContainersOn(
    host: HostConnection | undefined,
    app: string,
    graceful: boolean,
  ): Promise<number> {
    const labels = [`${LABEL.app}=${app}`];
    return guarded(
      `remove containers of ${app}`,
      async () => {
        const docker = await pool.docker(host);
        const removed = await (graceful
          ? stopLabelledContainers(docker, labels)
          : removeLabelledContainers(docker, labels));
        // An app's removal is done when its containers are gone, not when Docker has accepted it.
        await untilGone(docker, labels);
        return removed;
      },
      host,
    );
  }

  const activities = {
    ...createNetworkActivities(calls),
    ...readiness,
    async ensureContainer(spec: ContainerSpec): Promise<ContainerRef> {
      const name = spec.name ?? containerName(spec.app, spec.instance);
      const host = spec.host;
      return guarded(
        `create container ${name}`,
        async () => {
          const docker = await pool.docker(host);
          // The name is deterministic: create first, and a 409 means an earlier attempt made it (one
          // Docker call instead of a label search before every create).
          const create = () => docker.createContainer(containerCreateOptions(spec, publishOn(host)));
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
            // The name says which attempt made it (a replacement beside its instance has its own).
            const earlier = isConflict(err) ? await findByName(docker, name) : undefined;
            if (earlier) return { id: earlier, name, created: false };
            if (/address already in use/i.test((err as Error).message ?? ''))
              throw ApplicationFailure.nonRetryable(
                `address ${spec.ip} of ${spec.instance} is still held in network ${spec.network}`,
                Failure.AddressInUse,
              );
            const missing = /bind source path does not exist:\s*(\S+)/.exec(
              (err as Error).message ?? '',
            )?.[1];
            if (missing)
              throw ApplicationFailure.nonRetryable(
                `service ${spec.service}: bind mount source ${missing} does not exist on host ${host?.id ?? 'local'} (create it there, or change the volume)`,
                Failure.BindSourceMissing,
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

    /**
     * Stops a container gracefully — its stop signal (`StopSignal`, default SIGTERM), the grace
     * period, then SIGKILL, as `docker stop` does — and removes it with its anonymous volumes. One
     * already gone is not an error. Heartbeats while it waits out the grace period.
     */
    async stopContainer(stop: ContainerStop): Promise<void> {
      const { id, host } = stop;
      return guarded(
        `stop container ${id.slice(0, 12)}`,
        async () => {
          const container = (await pool.docker(host)).getContainer(id);
          const beat = setInterval(() => heartbeat(`stopping ${id.slice(0, 12)}`), 2_000);
          try {
            await container.stop(
              stop.gracePeriodMs !== undefined ? { t: Math.ceil(stop.gracePeriodMs / 1000) } : {},
            );
          } catch (err) {
            if (isNotFound(err)) return;
            if (!isNotModified(err)) throw err; // 304: it had stopped already
          } finally {
            clearInterval(beat);
          }
          try {
            await container.remove({ v: true });
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err; // 409: being removed already
          }
        },
        host,
      );
    },

    /** Gives a container its instance's own name (after the old one has gone); done already is fine. */
    async renameContainer(id: string, name: string, host?: HostConnection): Promise<void> {
      return guarded(
        `rename container ${id.slice(0, 12)} to ${name}`,
        async () => {
          const docker = await pool.docker(host);
          try {
            await docker.getContainer(id).rename({ name });
          } catch (err) {
            if (isConflict(err) && (await findByName(docker, name)) === id) return;
            throw err;
          }
        },
        host,
      );
    },

    /** Takes a container off a network: across hosts, that is how it leaves the app's DNS names. */
    async disconnectContainer(id: string, network: string, host?: HostConnection): Promise<void> {
      return guarded(
        `disconnect container ${id.slice(0, 12)} from ${network}`,
        async () => {
          try {
            await (await pool.docker(host)).getNetwork(network).disconnect({ Container: id });
          } catch (err) {
            // Gone, or not on that network any more (Docker answers 403 or 500 with that text).
            if (isNotFound(err) || /is not connected/i.test((err as Error).message ?? '')) return;
            throw err;
          }
        },
        host,
      );
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
     * A new instance in one activity: created (or found), started, and waited on until ready.
     * Half the Temporal round trips of three separate activities on a deploy's hot path.
     */
    async ensureReady(
      spec: ContainerSpec,
      check: Omit<ReadinessCheck, 'id'>,
    ): Promise<ContainerRef & ReadyContainer> {
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
      return { ...ref, ...(await readiness.waitReady({ ...check, id: ref.id, host: spec.host })) };
    },

    /** The named volumes of an app's instances on each reachable host of `hosts` (by label). */
    async listAppVolumes(app: string, hosts?: HostConnection[]): Promise<InstanceVolume[]> {
      const targets = hosts?.length ? hosts : [undefined];
      const settled = await Promise.allSettled(
        targets.map((host) =>
          guarded(
            `list volumes of ${app}`,
            async () => {
              const docker = await pool.docker(host);
              const filters = labelFilter({ [LABEL.app]: app, [LABEL.kind]: 'volume' });
              const { Volumes } = await docker.listVolumes({ filters });
              return (Volumes ?? []).map((v) => ({
                app,
                service: v.Labels?.[LABEL.service] ?? '',
                instance: v.Labels?.[LABEL.instance] ?? '',
                volume: v.Labels?.[LABEL.volume] ?? '',
                host: host?.id ?? 'local',
                name: v.Name,
              }));
            },
            host,
          ),
        ),
      );
      return settled
        .flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
        .sort((a, b) => (a.instance + a.volume + a.host).localeCompare(b.instance + b.volume + b.host));
    },

    /**
     * Removes an app's named volumes (`destroy --volumes`) from each of `hosts`; a host that cannot
     * be reached is reported, its volumes stay there.
     */
    async removeAppVolumes(
      app: string,
      hosts?: HostConnection[],
    ): Promise<{ removed: string[]; unreachable: string[] }> {
      const targets = hosts?.length ? hosts : [undefined];
      const out = { removed: [] as string[], unreachable: [] as string[] };
      for (const host of targets) {
        try {
          await guarded(
            `remove volumes of ${app}`,
            async () => {
              const docker = await pool.docker(host);
              const filters = labelFilter({ [LABEL.app]: app, [LABEL.kind]: 'volume' });
              for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) {
                try {
                  await docker.getVolume(v.Name).remove();
                  out.removed.push(v.Name);
                } catch (err) {
                  if (!isNotFound(err)) throw err;
                }
              }
            },
            host,
          );
        } catch (err) {
          if (isLocal(host) || !isUnreachable(err)) throw err;
          out.unreachable.push(host!.id);
        }
      }
      return out;
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
     * reported (its containers went with it). `graceful` (a destroy): each container is stopped
     * with its stop signal and grace period first; without it (what a failed deploy made) they are
     * killed. Named volumes stay (`removeAppVolumes`).
     */
    async removeApp(
      app: string,
      hosts?: HostConnection[],
      options: { graceful?: boolean } = {},
    ): Promise<RemovedResources> {
      const targets = hosts?.length ? hosts : [undefined];
      const total: RemovedResources = { containers: 0, networks: 0, unreachable: [] };
      const reachable: (HostConnection | undefined)[] = [];
      // Containers on every host first: an overlay network goes only once nothing is attached.
      for (const host of targets) {
        try {
          total.containers += await removeContainersOn(host, app, options.graceful === true);
          reachable.push(host);
        } catch (err) {
          if (isLocal(host) || !isUnreachable(err)) throw err;
          total.unreachable!.push(host!.id);
        }
      }
      for (const host of reachable) total.networks += await removeNetworksOn(calls, host, app);
      return total;
    },
  };
  return activities;
}

/** Infrastructure failures are retryable; a rejected request is not. */
function isUnreachable(err: unknown): boolean {
  return !(err instanceof ApplicationFailure) || !err.nonRetryable;
}
