/**
 * Strategies by name (Kubernetes' plugin registry): the built-ins plus any registered by users, and
 * the table mapping Clocker's Java class names onto the native names.
 */
import { ConfigReader, StrategyConfigError } from './config';
import type { Strategy, StrategyFactory } from './strategy';
import { BUILTIN_STRATEGIES } from './strategies';

const custom = new Map<string, StrategyFactory>();

const NAME = /^[a-z][A-Za-z0-9]*$/;

/**
 * Registers a user-defined strategy under a lowerCamel name (usable in blueprints as
 * `placement: [{name, config}]`). Built-in names cannot be replaced; registering the same custom
 * name again replaces it.
 */
export function registerStrategy(name: string, factory: StrategyFactory): void {
  if (!NAME.test(name)) throw new Error(`strategy name '${name}' must be lowerCamel (a-z, A-Z, 0-9)`);
  if (Object.hasOwn(BUILTIN_STRATEGIES, name)) throw new Error(`'${name}' is a built-in strategy`);
  custom.set(name, factory);
}

export function unregisterStrategy(name: string): boolean {
  return custom.delete(name);
}

export function strategyNames(): string[] {
  return [...Object.keys(BUILTIN_STRATEGIES), ...[...custom.keys()].sort()];
}

export function strategyFactory(name: string): StrategyFactory | undefined {
  return Object.hasOwn(BUILTIN_STRATEGIES, name) ? BUILTIN_STRATEGIES[name] : custom.get(name);
}

/** Builds one strategy; unknown names and bad configs raise a one-line `StrategyConfigError`. */
export function createStrategy(
  name: string,
  config: Record<string, unknown> | undefined,
  where = '',
): Strategy {
  const native = nativeStrategyName(name) ?? name;
  const factory = strategyFactory(native);
  if (!factory) {
    const prefix = where ? `${where}: ` : '';
    throw new StrategyConfigError(
      `${prefix}unknown placement strategy '${name}' (known: ${strategyNames().join(', ')})`,
    );
  }
  const cfg = config ?? {};
  if (typeof cfg !== 'object' || Array.isArray(cfg)) {
    const prefix = where ? `${where}: ` : '';
    throw new StrategyConfigError(`${prefix}placement strategy '${native}': config must be a mapping`);
  }
  return { name: native, ...factory(new ConfigReader(native, cfg, where)) };
}

/**
 * Clocker's class names (both package prefixes) → Berth's strategy names. Simple names (e.g.
 * `MaxContainersPlacementStrategy`) are matched too, by `nativeStrategyName`.
 */
const CLOCKER_SIMPLE: Record<string, string> = {
  MaxContainersPlacementStrategy: 'maxContainers',
  BreadthFirstPlacementStrategy: 'breadthFirst',
  LeastContainersPlacementStrategy: 'breadthFirst',
  DepthFirstPlacementStrategy: 'depthFirst',
  CpuUsagePlacementStrategy: 'cpuUsage',
  MaxCpuUsagePlacementStrategy: 'cpuUsage',
  DockerCpuUsagePlacementStrategy: 'cpuUsage',
  LowestCpuUsagePlacementStrategy: 'lowestCpuUsage',
  MemoryAvailablePlacementStrategy: 'memoryAvailable',
  CpuCoresAvailablePlacementStrategy: 'cpuCoresAvailable',
  LabelPlacementStrategy: 'labelConstraint',
  HostnamePlacementStrategy: 'hostname',
  AffinityStrategy: 'affinity',
  DockerAffinityRuleStrategy: 'affinity',
  ProvisioningStrategy: 'provisioning',
  DockerAwareProvisioningStrategy: 'provisioning',
  ProvisioningFlagsPlacementStrategy: 'provisioning',
};

const CLOCKER_PACKAGES: Record<string, string> = {
  AffinityStrategy: 'affinity.',
  DockerAffinityRuleStrategy: 'affinity.',
};

function clockerTable(): Record<string, string> {
  const t: Record<string, string> = {};
  for (const [simple, native] of Object.entries(CLOCKER_SIMPLE)) {
    const sub = CLOCKER_PACKAGES[simple] ?? '';
    t[`brooklyn.location.docker.strategy.${sub}${simple}`] = native;
    t[`clocker.docker.location.strategy.${sub}${simple}`] = native;
    if (!sub) {
      t[`clocker.docker.location.strategy.basic.${simple}`] = native;
      t[`clocker.docker.location.strategy.host.${simple}`] = native;
    }
  }
  return t;
}

/** Fully qualified Clocker class name → native strategy name. */
export const CLOCKER_STRATEGY_CLASSES: Readonly<Record<string, string>> = clockerTable();

/**
 * The native name for a Clocker class name (fully qualified under `brooklyn.location.docker.strategy`
 * or `clocker.docker.location.strategy`, with or without a sub-package, or simple), a native name
 * unchanged, or undefined when unknown.
 */
export function nativeStrategyName(name: string): string | undefined {
  if (strategyFactory(name)) return name;
  if (Object.hasOwn(CLOCKER_STRATEGY_CLASSES, name)) return CLOCKER_STRATEGY_CLASSES[name];
  const m =
    /^(?:brooklyn\.location\.docker\.strategy|clocker\.docker\.location\.strategy)\.(?:[a-z]+\.)*([A-Z]\w*)$/.exec(
      name,
    );
  const simple = m ? m[1] : name;
  return Object.hasOwn(CLOCKER_SIMPLE, simple) ? CLOCKER_SIMPLE[simple] : undefined;
}
