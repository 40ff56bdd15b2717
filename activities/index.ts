import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { LABEL, containerName, networkName } from '../src/core/names';
import { dockerTarget } from '../src/adapters/docker';
import { asActivityFailure, isConflict, isNotFound, isNotModified } from './docker-errors';
import type { ContainerRef, ContainerSpec, InstanceStatus, RemovedResources } from './types';

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
export function createActivities({
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

  return {
    /** Fails fast (non-retryable) when an image is not on the engine: no registry can be reached. */
    async checkImages(images: string[]): Promise<void> {
      return guarded('inspect images', async () => {
        for (const image of images) {
          try {
            await docker.getImage(image).inspect();
          } catch (err) {
            if (!isNotFound(err)) throw err;
            throw ApplicationFailure.nonRetryable(
              `image '${image}' is not on the Docker engine at ${target}; build or load it first (scripts/setup.sh builds berth/busybox:1)`,
              'ImageNotFound',
            );
          }
        }
      });
    },

    async ensureNetwork(app: string): Promise<string> {
      return guarded(`create network ${networkName(app)}`, async () => {
        const existing = await findNetwork(app);
        if (existing) return existing.Id;
        try {
          const network = await docker.createNetwork({
            Name: networkName(app),
            Driver: 'bridge',
            CheckDuplicate: true,
            Labels: { [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.kind]: 'network' },
          });
          return network.id;
        } catch (err) {
          const raced = isConflict(err) ? await findNetwork(app) : undefined;
          if (raced) return raced.Id;
          throw err;
        }
      });
    },

    async ensureContainer(spec: ContainerSpec): Promise<ContainerRef> {
      const name = containerName(spec.app, spec.instance);
      return guarded(`create container ${name}`, async () => {
        const existing = await findContainer(spec.app, spec.instance);
        if (existing) return { id: existing.Id, name, created: false };
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
            },
            HostConfig: { PortBindings: bindings, NetworkMode: spec.network },
            NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } },
          });
          return { id: container.id, name, created: true };
        } catch (err) {
          // A concurrent or lost earlier attempt may have created it between our lookup and create.
          const raced = isConflict(err) ? await findContainer(spec.app, spec.instance) : undefined;
          if (raced) return { id: raced.Id, name, created: false };
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
        const filters = labelFilter(
          app ? { [LABEL.managed]: 'true', [LABEL.app]: app } : { [LABEL.managed]: 'true' },
        );
        const containers = await docker.listContainers({ all: true, filters });
        return containers
          .map((c) => ({
            app: c.Labels[LABEL.app],
            service: c.Labels[LABEL.service],
            instance: c.Labels[LABEL.instance],
            container: (c.Names[0] ?? '').replace(/^\//, ''),
            id: c.Id,
            image: c.Image,
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

    /** Removes an app's containers and network; removing what is already gone is not an error. */
    async removeApp(app: string): Promise<RemovedResources> {
      return guarded(`remove app ${app}`, async () => {
        const containers = await docker.listContainers({
          all: true,
          filters: labelFilter({ [LABEL.app]: app }),
        });
        let removed = 0;
        for (const c of containers) {
          try {
            await docker.getContainer(c.Id).remove({ force: true, v: true });
            removed++;
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          }
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
}

export type BerthActivities = ReturnType<typeof createActivities>;
