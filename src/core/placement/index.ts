/** The placement engine: demand + supply + strategy chains → placements, explanations, provisioning. */
export * from './types';
export * from './strategy';
export { ConfigReader, StrategyConfigError, parseBytes, formatBytes } from './config';
export { ClusterState, groupKey } from './state';
export { BUILTIN_STRATEGIES, parseLabelExpr } from './strategies';
export { parseRuleMapping, parseRuleText } from './affinity-rules';
export {
  registerStrategy,
  unregisterStrategy,
  strategyNames,
  createStrategy,
  nativeStrategyName,
  CLOCKER_STRATEGY_CLASSES,
} from './registry';
export { place, compileChain, explainPlacement, DEFAULT_CHAIN } from './engine';
export { buildDemand, chainFor } from './demand';
export { parseInventory, InventoryError } from './inventory';
