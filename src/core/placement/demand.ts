/** From a blueprint to the placement demand: one container per instance, with its chain. */
import type { Blueprint, StrategyConfig } from '../blueprint/model';
import { LABEL, instanceName } from '../names';
import { DEFAULT_CHAIN, compileChain } from './engine';
import type { ContainerDemand } from './types';

/**
 * The chain for a service: its own `placement` if non-empty, else the blueprint's `placement`, else
 * `DEFAULT_CHAIN` (memoryAvailable, cpuCoresAvailable, maxContainers, breadthFirst).
 */
export function chainFor(bp: Blueprint, serviceId: string): readonly StrategyConfig[] {
  const s = bp.services.find((x) => x.id === serviceId);
  if (s?.placement.length) return s.placement;
  if (bp.placement.length) return bp.placement;
  return DEFAULT_CHAIN;
}

/**
 * Every service's `replicas` instances, named `<service>-<n>` (n from 1), in blueprint order
 * (dependencies first). Each chain is validated here, so a bad strategy config fails before any
 * placement with a message naming the service (and its position) and the strategy.
 */
export function buildDemand(bp: Blueprint): ContainerDemand[] {
  const out: ContainerDemand[] = [];
  for (const s of bp.services) {
    const own = s.placement.length > 0;
    const strategies = own ? s.placement : bp.placement.length ? bp.placement : DEFAULT_CHAIN;
    const pos = s.position ? `${s.position.file}:${s.position.line}:${s.position.col}: ` : '';
    const where =
      own || !bp.placement.length ? `${pos}service '${s.id}'` : `blueprint placement (service '${s.id}')`;
    compileChain(strategies, where, s.affinity.length > 0);
    const image = s.source.kind === 'image' ? s.source.image : undefined;
    const labels = { [LABEL.app]: bp.app, [LABEL.service]: s.id };
    for (let i = 1; i <= s.replicas; i++) {
      out.push({
        app: bp.app,
        service: s.id,
        instance: instanceName(s.id, i),
        image,
        cpus: s.resources.cpus ?? 0,
        memoryBytes: s.resources.memoryBytes ?? 0,
        labels,
        affinity: s.affinity,
        strategies: strategies as StrategyConfig[],
        where,
      });
    }
  }
  return out;
}
