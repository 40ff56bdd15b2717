import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { Failure } from '../src/core/failures';
import type { HostConnection } from '../src/core/hosts';
import { LABEL, networkName } from '../src/core/names';
import { heartbeat, labelFilter, type HostCalls } from './common';
import { isConflict, isNotFound } from './docker-errors';

/**
 * An app's network: a bridge on one host, an attachable swarm overlay across hosts; found by its
 * `berth.app` label before anything is created.
 */
export function createNetworkActivities({ pool, guarded }: HostCalls) {
  return {
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
  };
}

export async function findNetwork(
  docker: Docker,
  app: string,
): Promise<Docker.NetworkInspectInfo | undefined> {
  const found = await docker.listNetworks({
    filters: { ...labelFilter({ [LABEL.app]: app }), name: [networkName(app)] },
  });
  return found.find((n) => n.Name === networkName(app));
}

/** Removes an app's networks from one host; an overlay still in use by tasks is waited for (bounded). */
export async function removeNetworksOn(
  { pool, guarded }: HostCalls,
  host: HostConnection | undefined,
  app: string,
): Promise<number> {
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

function isForbidden(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 403;
}
