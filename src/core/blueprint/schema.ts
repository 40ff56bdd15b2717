/**
 * The JSON Schema of blueprints, published for editors (`berth schema`, docs/blueprint.schema.json).
 * It mirrors the key tables in `keys.ts` (a unit test keeps them in sync); the parser remains the
 * authority and gives the located, explained messages.
 */
import { strategyNames } from '../placement/registry';
import { MAX_REPLICAS, MAX_SERVICES } from './limits';

const str = { type: 'string' };
const strOrNumber = { type: ['string', 'number'] };
const strList = { oneOf: [str, { type: 'array', items: str }] };
/** An env-like value: text with `${service.attribute}`/`${secret:NAME}`, or Brooklyn DSL. */
const templateValue = {
  oneOf: [
    { type: ['string', 'number', 'boolean'] },
    {
      type: 'object',
      description: 'Brooklyn DSL map form, e.g. {$brooklyn:formatString: [...]}',
      maxProperties: 1,
    },
  ],
};
const envMap = { type: 'object', additionalProperties: { $ref: '#/definitions/template' } };
const portList = { type: 'array', items: strOrNumber };
const duration = {
  type: ['string', 'number'],
  description: "e.g. '500ms', '10s', '5m'; a number is milliseconds",
};
const memory = { type: ['string', 'number'], description: "e.g. '256MiB', '512m', '2g'; a number is MiB" };
const cpu = { type: ['string', 'number'], description: "cores, e.g. 0.5, or millicores '500m'" };
const serviceRefs = { oneOf: [str, { type: 'array', items: str }] };
const replicaCount = { type: 'integer', minimum: 0, maximum: MAX_REPLICAS };

const configProperties = {
  image: { ...str, description: "Image reference, e.g. 'berth/busybox:1'" },
  'docker.image.name': str,
  imageTag: strOrNumber,
  'docker.image.tag': strOrNumber,
  pull: {
    enum: ['missing', 'always', 'never'],
    description: 'When the image is pulled: when the host lacks it (default), at every deploy, or never',
  },
  pull_policy: { enum: ['missing', 'always', 'never'] },
  registryAuth: {
    type: 'string',
    pattern: '^\\$\\{?secret:[A-Za-z_][A-Za-z0-9_-]*\\}?$',
    description: "Registry credentials from a Berth secret ('${secret:NAME}', its value 'user:password')",
  },
  dockerfile: {
    description:
      "A Dockerfile: an http(s) URL, a path (relative to the blueprint's folder, which it may not leave; or absolute), or inline text",
    oneOf: [
      str,
      { type: 'object', properties: { url: str, path: str, inline: str }, additionalProperties: false },
    ],
  },
  'docker.dockerfile.url': str,
  install: strList,
  'install.command': strList,
  customize: strList,
  'customize.command': strList,
  launch: strList,
  'launch.command': strList,
  command: { description: "A list of arguments, or a string run with 'sh -c'", ...strList },
  env: envMap,
  'docker.container.environment': envMap,
  'shell.env': envMap,
  ports: {
    ...portList,
    description: "'8080' (app network only), '8081:80' (host:container), '0:80/udp' (random host port)",
  },
  openPorts: portList,
  'docker.openPorts': portList,
  directPorts: portList,
  'docker.directPorts': portList,
  portBindings: { type: 'object', additionalProperties: { type: ['number', 'string'] } },
  'docker.port.bindings': { type: 'object', additionalProperties: { type: ['number', 'string'] } },
  'docker.container.portBindings': { type: 'object', additionalProperties: { type: ['number', 'string'] } },
  volumes: { type: 'array', items: str },
  'docker.container.volumes': { type: 'array', items: str },
  volumeMappings: { type: 'object', additionalProperties: str },
  'docker.volumeMappings': { type: 'object', additionalProperties: str },
  links: { type: 'object', additionalProperties: str },
  replicas: replicaCount,
  initialSize: replicaCount,
  'cluster.initial.size': replicaCount,
  memberSpec: { type: 'object' },
  'dynamiccluster.memberspec': { type: 'object' },
  resources: { type: 'object', properties: { cpu, cpus: cpu, memory }, additionalProperties: false },
  cpu,
  cpus: cpu,
  memory,
  'provisioning.properties': {
    type: 'object',
    properties: { minCores: cpu, minRam: memory },
    additionalProperties: false,
  },
  healthCheck: {
    type: 'object',
    properties: {
      command: strList,
      port: { type: 'integer' },
      interval: duration,
      timeout: duration,
      retries: { type: 'integer' },
    },
    additionalProperties: false,
  },
  restart: { enum: ['no', 'on-failure', 'always', 'unless-stopped'] },
  dnsNames: { type: 'array', items: str },
  placement: { $ref: '#/definitions/chain' },
  'docker.container.strategies': { $ref: '#/definitions/chain' },
  affinity: { $ref: '#/definitions/affinity' },
  'affinity.rules': { $ref: '#/definitions/affinity' },
  'docker.constraint.labels': strList,
  'docker.constraint.hostname': str,
  dependsOn: serviceRefs,
  'install.latch': str,
  'customize.latch': str,
  'launch.latch': str,
  'start.latch': str,
  update: { $ref: '#/definitions/update' },
  stopSignal: { type: ['string', 'integer'], description: 'Sent to stop an instance (default SIGTERM)' },
  stop_signal: { type: ['string', 'integer'] },
  stopGracePeriod: { ...duration, description: 'Time between the stop signal and SIGKILL (default 10s)' },
  stop_grace_period: duration,
};

const structureProperties = {
  id: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
  name: str,
  type: {
    type: 'string',
    description:
      'container, cluster, docker:IMAGE:TAG, or a Brooklyn alias (DynamicCluster, VanillaSoftwareProcess, ...)',
  },
  serviceType: str,
  description: str,
  config: { $ref: '#/definitions/config' },
  'brooklyn.config': { $ref: '#/definitions/config' },
  policies: { type: 'array', items: { $ref: '#/definitions/policy' } },
  'brooklyn.policies': { type: 'array', items: { $ref: '#/definitions/policy' } },
  enrichers: { type: 'array', items: { $ref: '#/definitions/policy' } },
  'brooklyn.enrichers': { type: 'array', items: { $ref: '#/definitions/policy' } },
};

export const BLUEPRINT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://berth.dev/schemas/blueprint.schema.json',
  title: 'Berth blueprint',
  description: 'A Berth application blueprint (native keys, or Clocker/Brooklyn CAMP keys).',
  type: 'object',
  required: ['id', 'services'],
  additionalProperties: false,
  properties: {
    id: {
      type: 'string',
      pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
      description: 'Application name (DNS label)',
    },
    name: str,
    description: str,
    origin: str,
    location: { oneOf: [str, { type: 'object' }] },
    locations: { type: 'array', items: { oneOf: [str, { type: 'object' }] } },
    network: {
      description: "The app's private network, an IPv4 CIDR like 10.201.3.0/24",
      oneOf: [
        str,
        { type: 'object', properties: { cidr: str }, required: ['cidr'], additionalProperties: false },
      ],
    },
    placement: { $ref: '#/definitions/chain' },
    update: { $ref: '#/definitions/update' },
    'brooklyn.config': {
      type: 'object',
      properties: { 'docker.container.strategies': { $ref: '#/definitions/chain' } },
      additionalProperties: false,
    },
    secrets: {
      description: 'Secret names (values are supplied at deploy time, never written here)',
      oneOf: [
        { type: 'array', items: str },
        {
          type: 'object',
          additionalProperties: {
            oneOf: [
              { type: 'null' },
              { type: 'object', properties: { description: str }, additionalProperties: false },
            ],
          },
        },
      ],
    },
    services: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_SERVICES,
      items: { $ref: '#/definitions/service' },
    },
  },
  definitions: {
    update: {
      type: 'object',
      description: "How a change is rolled out (a service's keys override the blueprint's)",
      properties: {
        parallelism: { type: 'integer', minimum: 1, description: 'Instances replaced at once (default 1)' },
        order: { enum: ['stop-first', 'start-first'], description: 'Default stop-first' },
        minReady: { ...duration, description: 'How long a new instance must stay ready (default 0)' },
        failureAction: { enum: ['rollback', 'pause', 'continue'], description: 'Default rollback' },
        maxFailureRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Default 0' },
        canary: { type: 'integer', minimum: 0, description: 'New instances started first, then promote' },
        autoPromote: { ...duration, description: 'Promote canaries ready this long by themselves' },
        drain: { ...duration, description: 'Out of DNS this long before the stop (default 1s)' },
      },
      additionalProperties: false,
    },
    template: templateValue,
    config: { type: 'object', properties: configProperties, additionalProperties: false },
    service: {
      type: 'object',
      properties: { ...structureProperties, ...configProperties },
      additionalProperties: false,
    },
    chain: {
      type: 'array',
      items: {
        oneOf: [
          {
            type: 'string',
            description: `A strategy: ${strategyNames().join(', ')}, or a Clocker strategy class`,
          },
          {
            type: 'object',
            minProperties: 1,
            maxProperties: 1,
            description:
              'NAME: value, NAME: {config}, or $brooklyn:object: {type: CLASS, brooklyn.config: {...}}',
          },
        ],
      },
    },
    affinity: {
      type: 'array',
      items: {
        oneOf: [
          { type: 'string', description: '[NOT] TYPE|NAME|ID|APPLICATION|EMPTY [param]' },
          {
            type: 'object',
            properties: {
              service: str,
              app: str,
              hostLabel: str,
              image: str,
              empty: { type: 'boolean' },
              not: { type: 'boolean' },
              hard: { type: 'boolean' },
              weight: { type: 'number' },
            },
            additionalProperties: false,
          },
        ],
      },
    },
    policy: {
      type: 'object',
      required: ['type'],
      properties: {
        type: {
          type: 'string',
          description:
            'autoscaler, restarter, replacer, failureDetector, transformer, or the Brooklyn class name',
        },
        id: str,
        name: str,
        config: { type: 'object' },
        'brooklyn.config': { type: 'object' },
      },
    },
  },
} as const;
