/**
 * Key tables: every key a blueprint may use, native or Brooklyn/Clocker, and the field it sets.
 * The service parser, the unknown-key suggestions and the JSON Schema all read these tables.
 */

export type Field =
  | 'id'
  | 'name'
  | 'type'
  | 'description'
  | 'config'
  | 'memberSpec'
  | 'image'
  | 'imageTag'
  | 'pull'
  | 'registryAuth'
  | 'dockerfile'
  | 'install'
  | 'customize'
  | 'launch'
  | 'command'
  | 'env'
  | 'ports'
  | 'openPorts'
  | 'directPorts'
  | 'portBindings'
  | 'volumes'
  | 'volumeMappings'
  | 'links'
  | 'replicas'
  | 'resources'
  | 'cpus'
  | 'memory'
  | 'provisioningProperties'
  | 'healthCheck'
  | 'restart'
  | 'dnsNames'
  | 'placement'
  | 'affinity'
  | 'constraintLabels'
  | 'constraintHostname'
  | 'dependsOn'
  | 'latch'
  | 'policies'
  | 'enrichers'
  | 'update'
  | 'stopSignal'
  | 'stopGracePeriod';

/**
 * `table[key]` for the table's own keys only. Tables are plain objects, so `constructor`,
 * `toString` or `__proto__` would otherwise be found on their prototype and taken for known keys.
 */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Keys that structure a service; valid only directly on it. */
export const SERVICE_STRUCTURE_KEYS: Record<string, Field> = {
  id: 'id',
  name: 'name',
  type: 'type',
  serviceType: 'type',
  description: 'description',
  config: 'config',
  'brooklyn.config': 'config',
  policies: 'policies',
  'brooklyn.policies': 'policies',
  enrichers: 'enrichers',
  'brooklyn.enrichers': 'enrichers',
};

/** Keys valid in a cluster's member spec besides config keys. */
export const MEMBER_STRUCTURE_KEYS: Record<string, Field> = {
  type: 'type',
  serviceType: 'type',
  config: 'config',
  'brooklyn.config': 'config',
  policies: 'policies',
  'brooklyn.policies': 'policies',
  enrichers: 'enrichers',
  'brooklyn.enrichers': 'enrichers',
};

/**
 * Configuration keys, valid directly on a service (Brooklyn flags and native keys) and inside its
 * `config`/`brooklyn.config`. Native first, then Brooklyn/Clocker spellings of the same field.
 */
export const SERVICE_CONFIG_KEYS: Record<string, Field> = {
  image: 'image',
  'docker.image.name': 'image',
  imageTag: 'imageTag',
  'docker.image.tag': 'imageTag',
  pull: 'pull',
  pull_policy: 'pull',
  registryAuth: 'registryAuth',
  dockerfile: 'dockerfile',
  'docker.dockerfile.url': 'dockerfile',
  install: 'install',
  'install.command': 'install',
  customize: 'customize',
  'customize.command': 'customize',
  launch: 'launch',
  'launch.command': 'launch',
  command: 'command',
  env: 'env',
  'docker.container.environment': 'env',
  'shell.env': 'env',
  ports: 'ports',
  openPorts: 'openPorts',
  'docker.openPorts': 'openPorts',
  directPorts: 'directPorts',
  'docker.directPorts': 'directPorts',
  portBindings: 'portBindings',
  'docker.port.bindings': 'portBindings',
  'docker.container.portBindings': 'portBindings',
  volumes: 'volumes',
  'docker.container.volumes': 'volumes',
  volumeMappings: 'volumeMappings',
  'docker.volumeMappings': 'volumeMappings',
  links: 'links',
  replicas: 'replicas',
  initialSize: 'replicas',
  'cluster.initial.size': 'replicas',
  memberSpec: 'memberSpec',
  'dynamiccluster.memberspec': 'memberSpec',
  resources: 'resources',
  cpu: 'cpus',
  cpus: 'cpus',
  memory: 'memory',
  'provisioning.properties': 'provisioningProperties',
  healthCheck: 'healthCheck',
  restart: 'restart',
  dnsNames: 'dnsNames',
  placement: 'placement',
  'docker.container.strategies': 'placement',
  affinity: 'affinity',
  'affinity.rules': 'affinity',
  'docker.constraint.labels': 'constraintLabels',
  'docker.constraint.hostname': 'constraintHostname',
  dependsOn: 'dependsOn',
  'install.latch': 'latch',
  'customize.latch': 'latch',
  'launch.latch': 'latch',
  'start.latch': 'latch',
  update: 'update',
  stopSignal: 'stopSignal',
  stop_signal: 'stopSignal',
  stopGracePeriod: 'stopGracePeriod',
  stop_grace_period: 'stopGracePeriod',
};

/** Fields that several keys may fill together (the values are combined). */
export const MERGEABLE_FIELDS = new Set<Field>([
  'config',
  'env',
  'ports',
  'openPorts',
  'directPorts',
  'portBindings',
  'volumes',
  'volumeMappings',
  'links',
  'dependsOn',
  'latch',
  'policies',
  'enrichers',
  'placement',
  'affinity',
]);

export const TOP_LEVEL_KEYS = [
  'id',
  'name',
  'description',
  'origin',
  'location',
  'locations',
  'services',
  'network',
  'placement',
  'update',
  'secrets',
  'brooklyn.config',
] as const;

/** Keys of the top-level `brooklyn.config`. */
export const TOP_CONFIG_KEYS = ['docker.container.strategies'] as const;

export const RESOURCE_KEYS: Record<string, 'cpus' | 'memory'> = {
  cpu: 'cpus',
  cpus: 'cpus',
  memory: 'memory',
};
export const PROVISIONING_KEYS: Record<string, 'cpus' | 'memory'> = { minCores: 'cpus', minRam: 'memory' };
export const HEALTH_CHECK_KEYS = ['command', 'port', 'interval', 'timeout', 'retries'] as const;
export const RESTART_POLICIES = ['no', 'on-failure', 'always', 'unless-stopped'] as const;
/** When an image is pulled: when the host lacks it (compose's and Kubernetes' default), every deploy, or never. */
export const PULL_POLICIES = ['missing', 'always', 'never'] as const;

/** The base image of entity definitions that name none (Clocker used its own default image too). */
export const DEFAULT_BASE_IMAGE = 'berth/busybox:1';
