import { createDockerPool } from '../src/adapters/docker-pool';
import { createContainerActivities, type ActivityDeps as ContainerDeps } from './containers';
import { createDnsActivities } from './dns';
import { createImageActivities, type ImageActivityDeps } from './images';
import { createInventoryActivities } from './inventory';
import { createMonitoringActivities } from './monitoring';
import { createPolicyActivities } from './policies';
import { createHostActivities } from './hosts';
import { createRegistryActivities } from './registry';
import { hostCalls } from './common';

export type ActivityDeps = ContainerDeps & Pick<ImageActivityDeps, 'registry'>;

/** Every activity the Berth worker registers, each factory handed the clients it needs. */
export function createActivities(given: ActivityDeps) {
  const deps = { ...given, pool: given.pool ?? createDockerPool(given.docker) };
  return {
    ...createContainerActivities(deps),
    ...createImageActivities(deps),
    ...createRegistryActivities(hostCalls(deps)),
    ...createInventoryActivities(deps.docker),
    ...createHostActivities(deps),
    ...createDnsActivities(deps),
    ...createMonitoringActivities({ pool: deps.pool }),
    ...createPolicyActivities({ pool: deps.pool }),
  };
}

export type BerthActivities = ReturnType<typeof createActivities>;
