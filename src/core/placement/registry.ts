/**
 * Strategies by name (Kubernetes' plugin registry): the built-ins plus any registered by users, and
 * the table mapping Clocker's Java class names onto the native names.
 */
import { ConfigReader, StrategyConfigError } from './config';
import type { Strategy, StrategyFactory } from './strategy';
import { BUILTIN_PRIMARY_KEYS, BUILTIN_STRATEGIES } from './strategies';

const custom = new Map<string, { factory: StrategyFactory; primaryKey?: string }>();

const NAME = /^[a-z][A-Za-z0-9]*$/;

/**
 * Registers a user-defined strategy under a lowerCamel name, usable in blueprints like a built-in
 * (`placement: [NAME, {NAME: {config}}, {name: NAME, config: {...}}]`; with `primaryKey`, also
 * `NAME: value`). Built-in names cannot be replaced; registering the same custom name again replaces it.
 */
export function registerStrategy(
  name: string,
  factory: StrategyFactory,
  options: { primaryKey?: string } = {},
): void {
  if (!NAME.test(name)) throw new Error(`strategy name '${name}' must be lowerCamel (a-z, A-Z, 0-9)`);
  if (isBuiltinStrategy(name)) throw new Error(`'${name}' is a built-in strategy`);
  custom.set(name, { factory, ...options });
}

export function unregisterStrategy(name: string): boolean {
  return custom.delete(name);
}

export function strategyNames(): string[] {
  return [...Object.keys(BUILTIN_STRATEGIES), ...[...custom.keys()].sort()];
}

export function isBuiltinStrategy(name: string): boolean {
  return Object.hasOwn(BUILTIN_STRATEGIES, name);
}

export function strategyFactory(name: string): StrategyFactory | undefined {
  return isBuiltinStrategy(name) ? BUILTIN_STRATEGIES[name] : custom.get(name)?.factory;
}

/** The key a one-value shorthand (`NAME: value`) sets, if the strategy has one. */
export function primaryKeyOf(name: string): string | undefined {
  if (isBuiltinStrategy(name))
    return Object.hasOwn(BUILTIN_PRIMARY_KEYS, name) ? BUILTIN_PRIMARY_KEYS[name] : undefined;
  return custom.get(name)?.primaryKey;
}

/** Builds one strategy; unknown names and bad configs raise a one-line `StrategyConfigError`. */
export function createStrategy(
  name: string,
  config: Record<string, unknown> | undefined,
  where = '',
): Strategy {
  return build(name, config, where, false).strategy;
}

/**
 * Checks a strategy entry as a blueprint gives it (unknown keys rejected, dotted ones included) and
 * returns it under native names: the strategy's, and its config keys' (Clocker aliases renamed).
 * A bad entry raises a `StrategyConfigError` whose `key` says where.
 */
export function validateStrategy(
  name: string,
  config: Record<string, unknown>,
  where = '',
): { name: string; config: Record<string, unknown> } {
  const { strategy, reader } = build(name, config, where, true);
  return { name: strategy.name, config: reader.normalized() };
}

function build(
  name: string,
  config: Record<string, unknown> | undefined,
  where: string,
  strictKeys: boolean,
): { strategy: Strategy; reader: ConfigReader } {
  const prefix = where ? `${where}: ` : '';
  const native = nativeStrategyName(name) ?? name;
  const factory = strategyFactory(native);
  if (!factory)
    throw new StrategyConfigError(
      `${prefix}unknown placement strategy '${name}' (known: ${strategyNames().join(', ')})`,
    );
  const cfg = config ?? {};
  if (typeof cfg !== 'object' || Array.isArray(cfg))
    throw new StrategyConfigError(
      `${prefix}placement strategy '${native}': config must be a mapping`,
      'config must be a mapping',
    );
  const reader = new ConfigReader(native, cfg, where, strictKeys);
  return { strategy: { name: native, ...factory(reader) }, reader };
}

/**
 * Clocker's class names (both package prefixes) → Berth's strategy names. Simple names (e.g.
 * `MaxContainersPlacementStrategy`) are matched too, by `nativeStrategyName`.
 */
export const CLOCKER_SIMPLE: Readonly<Record<string, string>> = {
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
