import { isCancellation, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { dockerActivities, longActivities } from '../activity-options';
import {
  operationProgressQuery,
  type OperationInput,
  type OperationProgress,
  type OperationResult,
  type OperationType,
} from '../api/operations';
import { BERTH_STATUS } from '../api/search-attributes';
import { RolloutControl } from './control';
import { converge } from './converge';

/** Operations are child workflows of the app workflow, one per run, each visible in the Web UI. */

async function run(
  operation: OperationType,
  input: OperationInput,
  body: (progress: OperationProgress, control: RolloutControl) => Promise<OperationResult>,
): Promise<OperationResult> {
  const progress: OperationProgress = {
    app: input.app,
    operation,
    phase: 'starting',
    total: 0,
    done: 0,
    events: [],
  };
  setHandler(operationProgressQuery, () => progress);
  const control = new RolloutControl(progress);
  control.register();
  try {
    const result = await body(progress, control);
    upsertSearchAttributes([{ key: BERTH_STATUS, value: 'completed' }]);
    return result;
  } catch (err) {
    progress.phase = isCancellation(err) ? 'cancelled' : 'failed';
    upsertSearchAttributes([{ key: BERTH_STATUS, value: progress.phase }]);
    throw err;
  }
}

export async function deploy(input: OperationInput): Promise<OperationResult> {
  return run('deploy', input, (progress, control) => converge(input, progress, control));
}

/** An earlier version of the app, deployed again through the same rollout. */
export async function rollback(input: OperationInput): Promise<OperationResult> {
  return run('rollback', input, (progress, control) => converge(input, progress, control));
}

export async function scale(input: OperationInput): Promise<OperationResult> {
  return run('scale', input, (progress, control) => converge(input, progress, control));
}

/** Reconciles to the desired state: restarts stopped instances, recreates missing ones, removes extras. */
export async function heal(input: OperationInput): Promise<OperationResult> {
  return run('heal', input, (progress, control) => converge(input, progress, control));
}

/**
 * Removes everything the app owns: names, containers (each stopped gracefully first), network,
 * reservations, subnet. Named volumes stay, as with `docker compose down`, unless asked for
 * (`removeVolumes`, `down -v`).
 */
export async function destroy(input: OperationInput): Promise<OperationResult> {
  return run('destroy', input, async (progress) => {
    const docker = dockerActivities(input.options.activities);
    progress.phase = 'dns';
    await docker.removeDnsRecords(input.app);
    progress.phase = 'containers';
    const pool = await docker.describePool();
    // Grace periods run in parallel, so an app goes in about its longest one.
    const removed = await longActivities(input.options.activities).removeApp(input.app, pool.hosts, {
      graceful: true,
    });
    if (removed.unreachable?.length)
      progress.events.push(
        `hosts out of reach (nothing left to remove there): ${removed.unreachable.join(', ')}`,
      );
    progress.events.push(`removed ${removed.containers} container(s), ${removed.networks} network(s)`);
    if (input.removeVolumes) {
      progress.phase = 'volumes';
      const volumes = await docker.removeAppVolumes(input.app, pool.hosts);
      progress.events.push(`removed ${volumes.removed.length} volume(s)`);
      if (volumes.unreachable.length)
        progress.events.push(`volumes left on hosts out of reach: ${volumes.unreachable.join(', ')}`);
    }
    await docker.releaseHosts({ app: input.app });
    await docker.releaseAppSubnet({ app: input.app });
    progress.phase = 'done';
    return { app: input.app, operation: 'destroy', instances: [], removed: [], addresses: {} };
  });
}
