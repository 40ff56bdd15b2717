import type { AffinityRule, StrategyConfig } from '../../../src/core/blueprint/model';
import type { ContainerDemand, HostSupply } from '../../../src/core/placement/types';

export const GiB = 1024 ** 3;

export function host(id: string, over: Partial<HostSupply> = {}): HostSupply {
  return { id, cpus: 4, memoryBytes: 8 * GiB, labels: {}, containers: [], ...over };
}

/** `n` containers of `service` (instances `<service>-1..n`), sharing one chain array. */
export function containers(
  service: string,
  n: number,
  strategies: StrategyConfig[],
  over: Partial<ContainerDemand> = {},
  affinity: AffinityRule[] = [],
): ContainerDemand[] {
  return Array.from({ length: n }, (_, i) => ({
    app: 'shop',
    service,
    instance: `${service}-${i + 1}`,
    cpus: 0,
    memoryBytes: 0,
    labels: {},
    affinity,
    strategies,
    ...over,
  }));
}

export function s(name: string, config: Record<string, unknown> = {}): StrategyConfig {
  return { name, config };
}

/** Existing containers of app/service on a host. */
export function running(
  n: number,
  app = 'other',
  service = 'x',
  cpus = 0,
  memoryBytes = 0,
): HostSupply['containers'] {
  return Array.from({ length: n }, () => ({ app, service, cpus, memoryBytes }));
}
