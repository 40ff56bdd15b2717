import { allHandlersFinished, condition, continueAsNew, setHandler } from '@temporalio/workflow';
import {
  addHostUpdate,
  addNetnsHostsUpdate,
  drainHostUpdate,
  hostsQuery,
  inventoryQuery,
  placementQuery,
  poolUpdate,
  releaseSubnetUpdate,
  releaseUpdate,
  removeHostUpdate,
  reserveUpdate,
  settingsUpdate,
  subnetUpdate,
  watchHostsSignal,
  type AddHostRequest,
  type InventoryInput,
} from '../api/inventory';
import { Pool } from './pool';
import { HostSensing } from './sensing';

/**
 * The host pool as one entity workflow (`berth-inventory[-<queue>]`): hosts, their health,
 * reservations and app subnets. Every placement goes through its `reserve` update, whose synchronous
 * part runs to completion before another handler starts, so two concurrent operations can never
 * overcommit a host (Kubernetes' Reserve/Unreserve). It senses its hosts on an interval and marks
 * one that stops answering as failed, which releases its reservations and asks the apps that had
 * containers there to heal. The state and what changes it live in `Pool`; the handlers are thin.
 */
export async function inventory(input: InventoryInput): Promise<void> {
  const pool = new Pool(input);
  setHandler(inventoryQuery, () => pool.state);
  setHandler(hostsQuery, () => pool.hostViews());
  setHandler(placementQuery, (request) => pool.placement(request));
  setHandler(poolUpdate, () => pool.describe());
  setHandler(reserveUpdate, (request) => pool.reserve(request));
  setHandler(releaseUpdate, (request) => pool.release(request));
  setHandler(subnetUpdate, (request) => pool.allocateSubnet(request));
  setHandler(releaseSubnetUpdate, (request) => pool.releaseSubnet(request));
  setHandler(addHostUpdate, (request) => pool.addHost(request), { validator: validateAddHost });
  setHandler(addNetnsHostsUpdate, (request) => pool.addNetnsHosts(request));
  setHandler(drainHostUpdate, (request) => pool.drain(request));
  setHandler(removeHostUpdate, (request) => pool.remove(request));
  setHandler(watchHostsSignal, () => pool.watchHosts());
  setHandler(settingsUpdate, (changes) => pool.configure(changes));

  await pool.ensureLocalHost();
  const sensing = new HostSensing(pool);
  await sensing.run();
  // An entity runs for months: hand over to a fresh run before the history grows too long.
  await condition(() => allHandlersFinished() && !sensing.probing);
  await continueAsNew<typeof inventory>({ state: pool.state });
}

function validateAddHost({ connection }: AddHostRequest): void {
  if (!connection?.id) throw new Error('a host needs an id');
  if (connection.provider !== 'local' && !connection.ssh)
    throw new Error(`host '${connection.id}' needs an SSH endpoint`);
}
