/**
 * The application model: what a blueprint means once parsed and validated.
 * Workflows consume only this model, never raw YAML.
 */
import type { AffinityRule, StrategyConfig } from '../placement/types';
import type { UpdatePolicy } from '../rollout';

/** Where a value came from in a blueprint file, for located error messages. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface Problem extends SourcePosition {
  /** Dotted path of the key the problem is about, e.g. `services[1].brooklyn.config.image`. */
  key?: string;
  message: string;
}

export type ImageSource =
  /** A local (or registry) image reference, `name:tag`. */
  | { kind: 'image'; image: string }
  /** A Dockerfile given as a URL, a path relative to the blueprint, or inline text. */
  | { kind: 'dockerfile'; url?: string; path?: string; inline?: string }
  /** Clocker's entity definition: a base image plus commands, committed into an image. */
  | { kind: 'entity'; base: string; install: string[]; customize: string[]; launch?: string };

export interface PortSpec {
  container: number;
  /** Host port to forward to; `0` asks for a random free port; absent means not forwarded. */
  host?: number;
  protocol: 'tcp' | 'udp';
}

export interface VolumeSpec {
  /** Host path or named volume; absent for an anonymous volume. */
  source?: string;
  target: string;
  readOnly: boolean;
}

export interface HealthCheck {
  /** Command run inside the container; exit 0 means healthy. */
  command?: string[];
  /** Alternatively, a TCP port that must accept connections. */
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
}

/** Placement's own vocabulary, which a service carries (the placement engine owns it). */
export type { AffinityRule, StrategyConfig } from '../placement/types';

export interface PolicySpec {
  /** Native policy name: `autoscaler`, `restarter`, `replacer`, `failureDetector`. */
  type: string;
  config: Record<string, unknown>;
}

/** A derived attribute published by a service (Brooklyn's Transformer enricher). */
export interface EnricherSpec {
  /** Native enricher name: `transformer`. */
  type: string;
  config: Record<string, unknown>;
}

export type RestartPolicy = 'no' | 'on-failure' | 'always' | 'unless-stopped';

/** When an image is pulled (default `missing`). */
export type PullPolicy = 'missing' | 'always' | 'never';

export interface Service {
  id: string;
  name: string;
  /** `container`: one instance; `cluster`: `replicas` identical instances. */
  type: 'container' | 'cluster';
  /** The Clocker/Brooklyn type name as written, when an alias was used. */
  declaredType?: string;
  replicas: number;
  source: ImageSource;
  /** When an image source is pulled; absent means `missing`. */
  pull?: PullPolicy;
  /** The secret whose value (`user:password`) authenticates pulls of the image. */
  registryAuth?: string;
  /** Overrides the image's command. */
  command?: string[];
  /**
   * Environment; values may hold references in the native form `${service.attribute}` and secrets
   * as `${secret:NAME}` (Brooklyn forms are normalised to these by the parser).
   */
  env: Record<string, string>;
  ports: PortSpec[];
  volumes: VolumeSpec[];
  resources: { cpus?: number; memoryBytes?: number };
  healthCheck?: HealthCheck;
  restart: RestartPolicy;
  /** Extra DNS names (beyond `<service>.<app>.berth`). */
  dnsNames: string[];
  placement: StrategyConfig[];
  affinity: AffinityRule[];
  /** Explicit and reference-derived dependencies, by service id. */
  dependsOn: string[];
  policies: PolicySpec[];
  /** Derived attributes (Brooklyn enrichers); values are templates like `env`. */
  enrichers?: EnricherSpec[];
  /** Clocker's `links`: alias -> service id (each also a dependency); the alias resolves like the id. */
  links?: Record<string, string>;
  /** Names of the secrets this service's env uses (values are never in the model). */
  secrets?: string[];
  /** How a change is rolled out (over the blueprint's `update`, over the defaults). */
  update?: Partial<UpdatePolicy>;
  /** Sent to stop an instance (default SIGTERM), then `stopGracePeriodMs` (default 10 s) before SIGKILL. */
  stopSignal?: string;
  stopGracePeriodMs?: number;
  position: SourcePosition;
}

export interface Blueprint {
  /** The application name: DNS-safe, used in labels, workflow IDs and DNS names. */
  app: string;
  name: string;
  description?: string;
  locations: string[];
  network?: { cidr: string };
  placement: StrategyConfig[];
  /** Secret names declared by the blueprint (values are never stored in the model). */
  secrets: string[];
  /** In dependency order: every service comes after the services it depends on. */
  services: Service[];
  /** The default rollout of every service (each may override keys in its own `update`). */
  update?: Partial<UpdatePolicy>;
}
