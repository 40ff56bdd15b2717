/** One name per concept: the labels, container names and workflow IDs Berth uses everywhere. */

export const LABEL = {
  managed: 'berth.managed',
  app: 'berth.app',
  service: 'berth.service',
  instance: 'berth.instance',
  kind: 'berth.kind',
  /** Hash of the container's configuration: a redeploy with another one recreates the container. */
  config: 'berth.config',
  /**
   * Hash of what the container was actually given (resolved env, secrets as keyed digests, the
   * pinned image, mounts, stop settings); containers from before it was recorded have none.
   */
  resolved: 'berth.resolved',
  /** A named volume's name in the blueprint (`data`); the volume belongs to one instance. */
  volume: 'berth.volume',
} as const;

export const TASK_QUEUE = 'berth';

/** Search attributes registered on the Temporal server so the Web UI can filter Berth's runs. */
export const SEARCH_ATTRIBUTES = {
  app: 'BerthApp',
  operation: 'BerthOperation',
  status: 'BerthStatus',
} as const;

export type Operation = 'deploy' | 'scale' | 'heal' | 'destroy' | 'rollback' | 'status';

/** Instance names are `<service>-<n>`, n from 1, stable across retries and replacements. */
export function instanceName(service: string, index: number): string {
  return `${service}-${index}`;
}

export function containerName(app: string, instance: string): string {
  return `berth-${app}-${instance}`;
}

export function networkName(app: string): string {
  return `berth-${app}`;
}

/** The app's entity workflow: one per app, holding desired state and serialising its operations. */
export function appWorkflowId(app: string): string {
  return `berth-app-${app}`;
}

/**
 * One host pool per task queue: the workers polling it manage the same hosts. The default queue's
 * pool keeps the plain name (running pools keep their IDs).
 */
export function inventoryWorkflowId(taskQueue: string): string {
  return taskQueue === TASK_QUEUE ? 'berth-inventory' : `berth-inventory-${taskQueue}`;
}

/** The task queue whose pool an inventory workflow ID names (the inverse of `inventoryWorkflowId`). */
export function poolQueueOf(inventoryId: string): string {
  return inventoryId === inventoryWorkflowId(TASK_QUEUE)
    ? TASK_QUEUE
    : inventoryId.slice('berth-inventory-'.length);
}

/** A host's Docker events watcher (`berth-watch-<hostId>`), suffixed with the queue like the inventory's. */
export function hostWatcherWorkflowId(taskQueue: string, hostId: string): string {
  return taskQueue === TASK_QUEUE ? `berth-watch-${hostId}` : `berth-watch-${hostId}-${taskQueue}`;
}

/** Operations are child workflows of the app, numbered in the order the app ran them. */
export function operationWorkflowId(operation: Operation, app: string, seq: number): string {
  return `berth-${operation}-${app}-${seq}`;
}

/** DNS names: every instance of a service, and one instance. */
export function serviceDnsName(app: string, service: string): string {
  return `${service}.${app}.berth`;
}

export function instanceDnsName(app: string, service: string, instance: string): string {
  return `${instance}.${service}.${app}.berth`;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Apps and services become DNS labels and container names, so they must be DNS-safe. */
export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** A service's policy workflow (one per app, service and kind of policy). */
export function policyWorkflowId(app: string, service: string, kind: 'autoscaler' | 'resilience'): string {
  return `berth-policy-${app}-${service}-${kind}`;
}
