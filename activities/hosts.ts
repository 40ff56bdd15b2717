import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, removeLabelledContainers, untilGone } from './common';
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
  swarmLeader,
} from '../src/adapters/provision';
import { pushImage } from '../src/adapters/images';
import { isBuiltImageRef, splitImageRef, withoutRegistry } from '../src/core/images';
import { Failure } from '../src/core/failures';
import type { HostUsage } from '../src/core/host-load';
import { HostLoadMeter } from '../src/adapters/host-load';

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
  /** What the engine (and an ssh host's kernel) reported about its load; the inventory makes figures of it. */
  usage?: HostUsage;
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
  const meter = new HostLoadMeter();

  /**
   * The load of a host that answered: its containers' CPU and memory from the engine, and on an ssh
   * host the kernel's load average too (a netns host shares the machine's /proc: its engine only).
   * Bounded; whatever is not had in time is left out.
   */
  async function senseUsage(
    h: HostConnection,
    docker: Docker,
    running: string[],
    withinMs: number,
  ): Promise<HostUsage> {
    const deadline = Date.now() + withinMs;
    const [load, loadAverage] = await Promise.all([
      meter.read(h.id, docker, running, deadline).catch(() => undefined),
      h.provider === 'ssh'
        ? withTimeout(pool.exec(h, 'cat /proc/loadavg', withinMs), withinMs, 'loadavg')
            .then((r) => Number(r.stdout.trim().split(/\s+/)[0]))
            .then((x) => (Number.isFinite(x) ? x : undefined))
            .catch(() => undefined)
        : undefined,
    ]);
    return {
      ...(load?.cpuCores !== undefined ? { cpuCores: load.cpuCores } : {}),
      ...(load ? { memoryBytes: load.memoryBytes } : {}),
      ...(loadAverage !== undefined ? { loadAverage } : {}),
    };
  }

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

  /**
   * The swarm's leader as the first of `managers` to name one other than `notLeader`, with that
   * manager's engine. All are asked at once: while the swarm elects, a manager can take seconds to
   * say it knows no leader, and asking them in turn added those seconds up.
   */
  async function leaderAmong(
    managers: HostConnection[],
    notLeader?: string,
  ): Promise<{ leader: string; via: Docker; manager: HostConnection } | undefined> {
    const ask = async (m: HostConnection) => {
      try {
        const docker = await withTimeout(pool.docker(m), 5_000, `host ${m.id} did not connect`);
        const leader = await withTimeout(swarmLeader(docker), 5_000, 'no answer');
        if (!leader || leader === notLeader) throw new Error(`host ${m.id} names no new leader`);
        return { leader, via: docker, manager: m };
      } catch (err) {
        if (dropsConnection(err)) pool.forget(m.id);
        throw err;
      }
    };
    return Promise.any(managers.map(ask)).catch(() => undefined);
  }

  /**
   * Pushes into `registry` every image Berth built for `apps` that one of `hosts` has, under any
   * registry's name or its own; each from one host that has it. Returns what it holds now and what
   * could not be pushed.
   */
  async function refillRegistry(
    registry: string,
    hosts: HostConnection[],
    apps: Set<string>,
  ): Promise<{ images: string[]; missing: string[] }> {
    const holders = new Map<string, { host: HostConnection; ref: string }[]>();
    await Promise.all(
      hosts.map(async (h) => {
        try {
          const docker = await withTimeout(pool.docker(h), 5_000, 'connect');
          const images = await withTimeout(
            docker.listImages({ filters: { label: [`${LABEL.managed}=true`] } }),
            10_000,
            'images',
          );
          for (const image of images) {
            if (!apps.has(image.Labels?.[LABEL.app] ?? '')) continue;
            for (const ref of image.RepoTags ?? []) {
              if (!isBuiltImageRef(ref)) continue;
              const local = withoutRegistry(ref);
              holders.set(local, [...(holders.get(local) ?? []), { host: h, ref }]);
            }
          }
        } catch {
          // a host that cannot list its images holds none for this purpose
        }
      }),
    );
    const images: string[] = [];
    const missing: string[] = [];
    for (const [local, where] of [...holders.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      heartbeat(`refilling ${registry}: ${local}`);
      let pushed = false;
      for (const { host, ref } of where) {
        try {
          const docker = await pool.docker(host);
          const { repository, tag } = splitImageRef(local);
          if (ref !== local) await docker.getImage(ref).tag({ repo: repository, tag });
          await withTimeout(pushImage(docker, local, registry), 120_000, `push of ${local} timed out`);
          pushed = true;
          break;
        } catch {
          // another host may have it too
        }
      }
      (pushed ? images : missing).push(local);
    }
    return { images, missing };
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

    /**
     * One reading per host, in parallel, bounded; an unreachable host is a reading, not an error.
     * Its load comes along when it can be had in time (a host whose stats are slow still answered).
     */
    async senseHosts(
      hosts: HostConnection[],
      { timeoutMs = 5_000 }: { timeoutMs?: number } = {},
    ): Promise<Record<string, HostReading>> {
      const readings: Record<string, HostReading> = {};
      const within = <T>(p: Promise<T>, what: string) =>
        withTimeout(p, timeoutMs, `${what} in ${timeoutMs / 1000} s`);
      await Promise.all(
        hosts.map(async (h) => {
          const empty = { containers: 0, running: 0, atMs: Date.now() };
          try {
            // `/_ping` and the container list never wait on the swarm: `docker info` does, and it hangs
            // on every manager while the swarm elects a new leader (which made healthy hosts miss).
            const docker = await within(pool.docker(h), `host ${h.id} did not connect`);
            await within(docker.ping(), `host ${h.id} did not answer`);
            const containers = await within(
              docker.listContainers({ all: true }),
              `host ${h.id} did not list its containers`,
            );
            const running = containers.filter((c) => c.State === 'running');
            readings[h.id] = {
              ok: true,
              sensors: { containers: containers.length, running: running.length, atMs: Date.now() },
              usage: await senseUsage(
                h,
                docker,
                running.map((c) => c.Id),
                Math.min(3_000, timeoutMs),
              ),
            };
          } catch (err) {
            if (dropsConnection(err)) pool.forget(h.id);
            meter.forget(h.id);
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

    /**
     * Takes a failed host off the swarm's books once the swarm can decide again: when the leader's
     * host failed, a new leader is elected first (about 10 s), and demoting or removing a node needs
     * one. Tries each live manager until one answers with a leader, bounded by `waitMs`. Removing
     * the node releases its overlay addresses (the heal gives its instances the same ones) and means
     * the host cannot rejoin the overlay by itself when it comes back (a partition that heals): its
     * old containers stay out of every name until Berth has removed them. `evicted: false` when no
     * leader came in time (the inventory tries again).
     */
    async evictFailedHost(req: {
      host: HostConnection;
      managers: HostConnection[];
      waitMs?: number;
    }): Promise<{ evicted: boolean; roles: Record<string, 'manager' | 'worker'>; leader?: string }> {
      pool.forget(req.host.id);
      meter.forget(req.host.id);
      const deadline = Date.now() + (req.waitMs ?? 60_000);
      for (let attempt = 0; attempt < 600 && Date.now() < deadline; attempt++) {
        heartbeat(`evicting ${req.host.id}: asking the managers for a leader`);
        const found = await leaderAmong(req.managers, req.host.id);
        if (found)
          try {
            await withTimeout(removeSwarmNode(found.via, req.host.id), 20_000, 'node removal timed out');
            const roles = await withTimeout(promoteManagers(found.via), 10_000, 'promotion timed out').catch(
              () => ({}),
            );
            return { evicted: true, roles, leader: found.leader };
          } catch (err) {
            if (dropsConnection(err)) pool.forget(found.manager.id);
          }
        await new Promise((r) => setTimeout(r, 1_000));
      }
      return { evicted: false, roles: {} };
    },

    /**
     * Starts the pool's registry on one of `candidates` (one that does not lead the swarm when there
     * is a choice: the leader is the host whose loss costs the most already) and fills it with the
     * pool's images before anyone is told of it: every image Berth built for `apps` that a live
     * host still has (a build host keeps its builds; every other host the images it ran) is pushed
     * there. So no host ever pulls from the new registry an image it does not have. Returns its
     * `host:port`, the host, and the images it holds.
     */
    async relocateRegistry(req: {
      candidates: HostConnection[];
      live: HostConnection[];
      apps: string[];
    }): Promise<{ registry: string; host: string; images: string[]; missing: string[] }> {
      const leader = (await leaderAmong(req.candidates))?.leader;
      const order = [
        ...req.candidates.filter((c) => c.id !== leader),
        ...req.candidates.filter((c) => c.id === leader),
      ];
      let lastError: unknown;
      for (const c of order) {
        let registry: string;
        try {
          registry = await startRegistry(c);
        } catch (err) {
          lastError = err;
          continue;
        }
        const filled = await refillRegistry(registry, req.live, new Set(req.apps));
        return { registry, host: c.id, ...filled };
      }
      throw hostFailure(order[0] ?? req.live[0], lastError ?? new Error('no host to run the registry on'));
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
     * Returns how many it removed (a retry finds fewer: idempotent), once they are gone: Docker
     * answers a removal already in progress with 409, which must not count as done before the
     * host rejoins.
     */
    async reclaimHost(host: HostConnection): Promise<number> {
      const docker = await pool.docker(host);
      const labels = [`${LABEL.managed}=true`, `${LABEL.kind}=container`];
      const removed = await removeLabelledContainers(docker, labels);
      await untilGone(docker, labels);
      return removed;
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
