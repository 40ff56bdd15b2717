import { createContainerActivities, type ActivityDeps } from './containers';
import { createDnsActivities } from './dns';
import { createInventoryActivities } from './inventory';

export type { ActivityDeps } from './containers';

/** Every activity the Berth worker registers, each factory handed the clients it needs. */
export function createActivities(deps: ActivityDeps) {
  const containers = createContainerActivities(deps);
  return {
    ...containers,
    // TEMPORARY until activities/images.ts lands: image sources only.
    async ensureImage(input: {
      app: string;
      service: string;
      source: import('../src/core/blueprint/model').ImageSource;
    }) {
      if (input.source.kind !== 'image') throw new Error('image builds not wired yet');
      await containers.checkImages([input.source.image]);
      return { image: input.source.image, built: false };
    },
    ...createInventoryActivities(deps.docker),
    ...createDnsActivities(deps),
  };
}

export type BerthActivities = ReturnType<typeof createActivities>;
