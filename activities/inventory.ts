import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { networkName } from '../src/core/names';
import { InventoryClient, InventoryRejectedError } from '../src/clients/inventory';
import {
  poolUpdate,
  releaseSubnetUpdate,
  releaseUpdate,
  reserveUpdate,
  subnetUpdate,
  type PoolView,
  type ReserveRequest,
  type ReserveResult,
} from '../workflows/api/inventory';

/**
 * Workflows cannot send updates to other workflows, so operations reach the inventory workflow
 * through these activities (update-with-start: the inventory starts on first use). A user error in
 * the inventory (no host fits, no subnet left) comes back as a non-retryable failure.
 */
async function updateInventory<Ret, Args extends unknown[]>(
  def: UpdateDefinition<Ret, Args>,
  ...args: Args
): Promise<Ret> {
  const { client, info } = Context.current();
  try {
    return await new InventoryClient(client, info.taskQueue).update(def, ...args);
  } catch (err) {
    if (err instanceof InventoryRejectedError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

/** Subnets of the engine's networks other than the app's own: a new app subnet must avoid them. */
async function subnetsInUse(docker: Docker, app: string): Promise<string[]> {
  const networks = await docker.listNetworks();
  return networks
    .filter((n) => n.Name !== networkName(app))
    .flatMap((n) =>
      (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s && s.includes('.')),
    );
}

export function createInventoryActivities(docker: Docker) {
  return {
    reserveHosts: (req: ReserveRequest): Promise<ReserveResult> => updateInventory(reserveUpdate, req),
    releaseHosts: (req: { app: string; instances?: string[] }): Promise<number> =>
      updateInventory(releaseUpdate, req),
    allocateAppSubnet: async (req: { app: string; requested?: string }): Promise<string> =>
      updateInventory(subnetUpdate, { ...req, inUse: await subnetsInUse(docker, req.app) }),
    releaseAppSubnet: (req: { app: string }): Promise<void> => updateInventory(releaseSubnetUpdate, req),
    describePool: (): Promise<PoolView> => updateInventory(poolUpdate),
  };
}
