import { ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { InstanceStatus } from './api/containers';
import type { AppStatus, StatusInput } from './api/status';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from './api/search-attributes';
import { dockerActivities } from './activity-options';
import { Failure } from '../src/core/failures';

/** Reads what is running; an app with no containers is unknown. */
export async function status(input: StatusInput): Promise<AppStatus[]> {
  const docker = dockerActivities(input.activities);
  upsertSearchAttributes([
    { key: BERTH_APP, value: input.app ?? '*' },
    { key: BERTH_OPERATION, value: 'status' },
  ]);
  const pool = await docker.describePool();
  const instances = await docker.listInstances(input.app, pool.hosts);
  if (input.app && instances.length === 0) {
    throw ApplicationFailure.nonRetryable(
      `unknown app '${input.app}': Berth has no containers for it`,
      Failure.UnknownApp,
    );
  }
  const apps = new Map<string, InstanceStatus[]>();
  for (const i of instances) apps.set(i.app, [...(apps.get(i.app) ?? []), i]);
  upsertSearchAttributes([{ key: BERTH_STATUS, value: 'done' }]);
  return [...apps.entries()].map(([app, list]) => ({ app, instances: list }));
}
