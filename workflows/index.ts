/** The workflow bundle's entry: every workflow type the Berth worker runs. */
export { app } from './app';
export { inventory } from './inventory';
export { deploy, rollback, scale, heal, destroy } from './operations';
export { status } from './status';
export { autoscalerPolicy } from './policies/autoscaler';
export { resiliencePolicy } from './policies/resilience';
export { hostWatcher } from './policies/watcher';
