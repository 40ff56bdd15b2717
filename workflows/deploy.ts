import {
  ApplicationFailure,
  defineQuery,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Blueprint } from '../src/core/blueprint/model';
import { instanceName, networkName } from '../src/core/names';
import type { ContainerSpec } from '../activities/types';
import { dockerActivities, type ActivityTuning } from './activity-options';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from './search-attributes';

export interface DeployInput {
  blueprint: Blueprint;
  /** Pause between starting two instances (a rolling start, like Nomad's `stagger`). Default 0. */
  staggerMs?: number;
  activities?: ActivityTuning;
}

export interface DeployedInstance {
  service: string;
  instance: string;
  container: string;
  id: string;
  /** False when the container already existed (an earlier attempt or deploy made it). */
  created: boolean;
}

export interface DeployProgress {
  app: string;
  phase: 'images' | 'network' | 'containers' | 'done' | 'failed';
  total: number;
  started: number;
  instances: DeployedInstance[];
}

export interface DeployResult {
  app: string;
  network: string;
  instances: DeployedInstance[];
}

export const deployProgressQuery = defineQuery<DeployProgress>('progress');

/** The blueprint's containers in dependency order (services are already ordered by the parser). */
export function containerSpecs(blueprint: Blueprint): ContainerSpec[] {
  const network = networkName(blueprint.app);
  return blueprint.services.flatMap((service) =>
    Array.from({ length: service.replicas }, (_, i) => {
      const instance = instanceName(service.id, i + 1);
      if (service.source.kind !== 'image') {
        throw ApplicationFailure.nonRetryable(
          `service '${service.id}': only image sources deploy yet (got ${service.source.kind})`,
          'UnsupportedSource',
        );
      }
      return {
        app: blueprint.app,
        service: service.id,
        instance,
        image: service.source.image,
        command: service.command,
        env: service.env,
        ports: service.ports,
        network,
        aliases: [service.id, instance],
      };
    }),
  );
}

/** Creates and starts every container of a blueprint on the Docker engine; safe to re-run. */
export async function deploy(input: DeployInput): Promise<DeployResult> {
  const { blueprint } = input;
  const docker = dockerActivities(input.activities);
  const progress: DeployProgress = {
    app: blueprint.app,
    phase: 'images',
    total: 0,
    started: 0,
    instances: [],
  };
  setHandler(deployProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: BERTH_APP, value: blueprint.app },
    { key: BERTH_OPERATION, value: 'deploy' },
    { key: BERTH_STATUS, value: 'running' },
  ]);
  try {
    const specs = containerSpecs(blueprint);
    progress.total = specs.length;
    await docker.checkImages([...new Set(specs.map((s) => s.image))]);
    progress.phase = 'network';
    await docker.ensureNetwork(blueprint.app);
    progress.phase = 'containers';
    for (const [i, spec] of specs.entries()) {
      if (i > 0 && input.staggerMs) await sleep(input.staggerMs);
      const ref = await docker.ensureContainer(spec);
      await docker.startContainer(ref.id);
      progress.instances.push({
        service: spec.service,
        instance: spec.instance,
        container: ref.name,
        id: ref.id,
        created: ref.created,
      });
      progress.started++;
    }
    progress.phase = 'done';
    upsertSearchAttributes([{ key: BERTH_STATUS, value: 'deployed' }]);
    return { app: blueprint.app, network: networkName(blueprint.app), instances: progress.instances };
  } catch (err) {
    progress.phase = 'failed';
    upsertSearchAttributes([{ key: BERTH_STATUS, value: 'failed' }]);
    throw err;
  }
}
