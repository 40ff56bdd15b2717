/** One name per concept: the labels, container names and workflow IDs Berth uses everywhere. */

export const LABEL = {
  managed: 'berth.managed',
  app: 'berth.app',
  service: 'berth.service',
  instance: 'berth.instance',
  kind: 'berth.kind',
} as const;

export const TASK_QUEUE = 'berth';

/** Search attributes registered on the Temporal server so the Web UI can filter Berth's runs. */
export const SEARCH_ATTRIBUTES = {
  app: 'BerthApp',
  operation: 'BerthOperation',
  status: 'BerthStatus',
} as const;

export type Operation = 'deploy' | 'destroy' | 'status';

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

/** Operation workflows of one app share a deterministic ID, so a second concurrent run is refused. */
export function operationWorkflowId(operation: Operation, app: string): string {
  return `berth-${operation}-${app}`;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Apps and services become DNS labels and container names, so they must be DNS-safe. */
export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}
