import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, removeLabelledContainers } from './common';
import { describeHost, type HostConnection } from '../src/core/hosts';
import type { HostSensors } from '../workflows/api/inventory';
import { LABEL } from '../src/core/names';
import { isLocal, type DockerPool } from '../src/adapters/docker-pool';
import { BASE_IMAGE } from '../src/adapters/base-image';
import { berthHome } from '../src/adapters/paths';
import { dropsConnection, openSshSession } from '../src/adapters/ssh';
import { createNetnsHost, destroyNetnsHost, ensureBerthSshKey, netnsIndexOf } from '../src/adapters/netns';
import {
  ensureImageOnHost,
  ensureRegistryOnHost,
  ensureSwarm,
  leaveSwarm,
  probeHost,
  promoteManagers,
  removeSwarmNode,
} from '../src/adapters/provision';
import { Failure } from '../src/core/failures';

export interface HostActivityDeps {
  docker: Docker;
  pool: DockerPool;
}

export interface DescribedHost {
  /** The connection with its host key pinned. */
  connection: HostConnection;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

export interface HostReading {
  ok: boolean;
  error?: string;
  sensors: HostSensors;
}

/** Turns a host problem into a failure the CLI prints as one line; adding a host never retries. */
function hostFailure(host: HostConnection, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = (err as Error)?.message ?? String(err);
  const kind = (err as { kind?: string })?.kind;
  const type =
    kind === 'auth'
      ? Failure.HostAuthFailed
      : kind === 'hostKey'
        ? Failure.HostKeyMismatch
        : kind
          ? Failure.HostUnreachable
          : Failure.HostRejected;
  return ApplicationFailure.nonRetryable(`host ${describeHost(host)}: ${message}`, type);
}

function engineLabels(info: { Labels?: string[] }): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of info.Labels ?? []) {
    const eq = l.indexOf('=');
    if (eq > 0) labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return labels;
}

/**
 * Hosts joining and leaving the pool, and their sensors. Each step is idempotent: connecting again
 * pins the same key, joining a swarm a host is already in is a no-op, a registry that answers is
 * kept. (One factory closes over the clients its activities share: long as a whole, short each.)
 */
export function createHostActivities({ docker: localDocker, pool }: HostActivityDeps) {
  /** Debian's docker-registry on `host` (kept when it runs), retried (bounded): a loaded host can be slow. */
  async function startRegistry(host: HostConnection): Promise<string> {
    heartbeat('registry');
    for (let attempt = 1; ; attempt++) {
      try {
        return await ensureRegistryOnHost(
          (command, timeoutMs) => pool.exec(host, command, timeoutMs),
          host.address!,
        );
      } catch (err) {
        if (attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  return {
    /** Connects (pinning the host key on first use), checks the OS, installs Docker when missing. */
    async connectHost(connection: HostConnection): Promise<DescribedHost> {
      if (isLocal(connection)) {
        const info = await localDocker.info();
        return { connection, cpus: info.NCPU, memoryBytes: info.MemTotal, labels: engineLabels(info) };
      }
      try {
        // A throwaway session first: it tells the host key to pin before the pool keeps a connection.
        const probe = await openSshSession(connection.ssh!);
        const pinned: HostConnection = {
          ...connection,
          ssh: { ...connection.ssh!, hostKey: connection.ssh!.hostKey ?? probe.hostKey },
        };
        try {
          heartbeat('probing');
          await probeHost(
            (command, timeoutMs) => probe.exec(command, timeoutMs ?? 300_000),
            describeHost(connection),
          );
        } finally {
          await probe.close();
        }
        pool.forget(pinned.id);
        const docker = await pool.docker(pinned);
        const info = await docker.info();
        return {
          connection: pinned,
          cpus: info.NCPU,
          memoryBytes: info.MemTotal,
          labels: engineLabels(info),
        };
      } catch (err) {
        pool.forget(connection.id);
        throw hostFailure(connection, err);
      }
    },

    /**
     * Gives a new host what the pool needs: the base image, membership of the pool's swarm (first
     * seven hosts are managers, so losing one keeps a quorum), and the registry (started on the
     * first host when the pool has none).
     */
    async joinPool(req: {
      host: HostConnection;
      others: HostConnection[];
      registry?: string;
    }): Promise<{ swarmRole: 'manager' | 'worker'; registry: string }> {
      try {
        const hostDocker = await pool.docker(req.host);
        heartbeat('base image');
        await ensureImageOnHost(localDocker, hostDocker, BASE_IMAGE);
        const members = [...req.others, req.host];
        heartbeat('swarm');
        const roles = await ensureSwarm(
          await Promise.all(
            members.map(async (h) => ({ id: h.id, docker: await pool.docker(h), address: h.address! })),
          ),
        );
        const registry = req.registry ?? (await startRegistry(members[0]));
        return { swarmRole: roles[req.host.id] ?? 'worker', registry };
      } catch (err) {
        throw hostFailure(req.host, err);
      }
    },

    /**
     * The pool's registry on this host, started when it is not running (the registry's host failed,
     * or was removed): `host:port`. Images come back into it with the next converge, which pushes
     * what its build host has.
     */
    async moveRegistry(req: { host: HostConnection }): Promise<string> {
      try {
        return await startRegistry(req.host);
      } catch (err) {
        throw hostFailure(req.host, err);
      }
    },

    /** One reading per host, in parallel, bounded; an unreachable host is a reading, not an error. */
    async senseHosts(hosts: HostConnection[]): Promise<Record<string, HostReading>> {
      const readings: Record<string, HostReading> = {};
      await Promise.all(
        hosts.map(async (h) => {
          const empty = { containers: 0, running: 0, atMs: Date.now() };
          try {
            // `/_ping` and the container list never wait on the swarm: `docker info` does, and it hangs
            // on every manager while the swarm elects a new leader (which made healthy hosts miss).
            const docker = await withTimeout(pool.docker(h), 5_000, `host ${h.id} did not connect in 5 s`);
            await withTimeout(docker.ping(), 5_000, `host ${h.id} did not answer in 5 s`);
            const containers = await withTimeout(
              docker.listContainers({ all: true }),
              5_000,
              `host ${h.id} did not list its containers in 5 s`,
            );
            readings[h.id] = {
              ok: true,
              sensors: {
                containers: containers.length,
                running: containers.filter((c) => c.State === 'running').length,
                atMs: Date.now(),
              },
            };
          } catch (err) {
            if (dropsConnection(err)) pool.forget(h.id);
            readings[h.id] = { ok: false, error: (err as Error)?.message ?? String(err), sensors: empty };
          }
        }),
      );
      return readings;
    },

    /**
     * A failed host leaves the swarm's books (so its addresses can be handed out again), and a
     * worker takes its place as manager. Returns the pool's swarm roles after that.
     */
    async evictHost(req: {
      host: HostConnection;
      manager?: HostConnection;
    }): Promise<Record<string, 'manager' | 'worker'>> {
      pool.forget(req.host.id);
      if (!req.manager) return {};
      const manager = await pool.docker(req.manager);
      await removeSwarmNode(manager, req.host.id).catch(() => undefined);
      return promoteManagers(manager).catch(() => ({}));
    },

    /** A removed host leaves the swarm (another takes its manager seat); a netns host is taken down. */
    async retireHost(req: {
      host: HostConnection;
      manager?: HostConnection;
    }): Promise<Record<string, 'manager' | 'worker'>> {
      if (isLocal(req.host)) return {};
      let roles: Record<string, 'manager' | 'worker'> = {};
      if (req.manager) {
        // Demoted and removed through a manager that stays, while the quorum still counts it.
        const manager = await pool.docker(req.manager);
        await removeSwarmNode(manager, req.host.id).catch(() => undefined);
      }
      try {
        await leaveSwarm(await pool.docker(req.host));
      } catch {
        // A failed host cannot leave; the manager has forgotten it already.
      }
      pool.forget(req.host.id);
      if (req.manager) roles = await promoteManagers(await pool.docker(req.manager)).catch(() => ({}));
      if (req.host.provider === 'netns') {
        const where = netnsIndexOf(req.host);
        if (where) await destroyNetnsHost(where.prefix, where.index);
      }
      return roles;
    },

    /**
     * Removes every app container on a host that failed and came back: its reservations were
     * released and its instances healed elsewhere, so none of them belong there any more.
     * Returns how many it removed (a retry finds fewer: idempotent).
     */
    async reclaimHost(host: HostConnection): Promise<number> {
      return removeLabelledContainers(await pool.docker(host), [
        `${LABEL.managed}=true`,
        `${LABEL.kind}=container`,
      ]);
    },

    async countAppContainers(host: HostConnection): Promise<number> {
      const docker = await pool.docker(host);
      const found = await docker.listContainers({
        all: true,
        filters: { label: [`${LABEL.managed}=true`, `${LABEL.kind}=container`] },
      });
      return found.length;
    },

    /** A new Docker host on this machine: a network namespace with its own dockerd and sshd. */
    async createNetnsHost(req: {
      id: string;
      prefix: string;
      lan: string;
      index: number;
    }): Promise<HostConnection> {
      const key = await ensureBerthSshKey(berthHome());
      const made = await createNetnsHost({
        prefix: req.prefix,
        index: req.index,
        lan: req.lan,
        publicKeyFile: key.publicKeyFile,
      });
      return { ...made, id: req.id };
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
