import { createContainerActivities, type ActivityDeps as ContainerDeps } from './containers';
import { createDnsActivities } from './dns';
import { createImageActivities, type ImageActivityDeps } from './images';
import { createInventoryActivities } from './inventory';

export type ActivityDeps = ContainerDeps & Pick<ImageActivityDeps, 'registry'>;

/** Every activity the Berth worker registers, each factory handed the clients it needs. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createContainerActivities(deps),
    ...createImageActivities(deps),
    ...createInventoryActivities(deps.docker),
    ...createDnsActivities(deps),
  };
}

export type BerthActivities = ReturnType<typeof createActivities>;
