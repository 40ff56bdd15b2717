import { ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { RemovedResources } from '../activities/types';
import { dockerActivities, type ActivityTuning } from './activity-options';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from './search-attributes';

export interface DestroyInput {
  app: string;
  activities?: ActivityTuning;
}

/** Removes everything an app owns. An app with nothing left is unknown (like `kubectl delete` NotFound). */
export async function destroy(input: DestroyInput): Promise<RemovedResources> {
  const docker = dockerActivities(input.activities);
  upsertSearchAttributes([
    { key: BERTH_APP, value: input.app },
    { key: BERTH_OPERATION, value: 'destroy' },
    { key: BERTH_STATUS, value: 'running' },
  ]);
  const removed = await docker.removeApp(input.app);
  if (removed.containers === 0 && removed.networks === 0) {
    upsertSearchAttributes([{ key: BERTH_STATUS, value: 'failed' }]);
    throw ApplicationFailure.nonRetryable(
      `unknown app '${input.app}': Berth has no containers or network for it`,
      'UnknownApp',
    );
  }
  upsertSearchAttributes([{ key: BERTH_STATUS, value: 'destroyed' }]);
  return removed;
}
