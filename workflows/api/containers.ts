/** Shapes exchanged between workflows and container activities (plain data, serialisable): a contract both sides import. */
import type { PortSpec, PullPolicy } from '../../src/core/blueprint/model';
import type { HostConnection } from '../../src/core/hosts';
import type { Mount } from '../../src/core/volumes';

export interface ContainerSpec {
  /** The host it runs on (default: the local engine). */
  host?: HostConnection;
  app: string;
  service: string;
  instance: string;
  image: string;
  command?: string[];
  env: Record<string, string>;
  ports: PortSpec[];
  network: string;
  /** Network-scoped DNS aliases (Docker's embedded DNS answers them inside the app network). */
  aliases: string[];
  /** The address Berth assigned in the app's subnet (kept when the container is replaced). */
  ip?: string;
  /** DNS servers (Berth's dnsmasq) for names under `.berth`. */
  dns?: string[];
  /** See LABEL.config. */
  configHash?: string;
  /** See LABEL.resolved. */
  resolvedHash?: string;
  /** Named volumes (the instance's own), bind mounts and anonymous volumes. */
  mounts?: Mount[];
  restart?: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  cpus?: number;
  memoryBytes?: number;
  /** The container's name when it is not the instance's own: a replacement started beside it. */
  name?: string;
  /** What stops it (Docker's `StopSignal`), and how long it has before SIGKILL (`StopTimeout`). */
  stopSignal?: string;
  stopGracePeriodMs?: number;
}

/** A container to stop gracefully and remove (its stop signal, then the grace period, then SIGKILL). */
export interface ContainerStop {
  id: string;
  host?: HostConnection;
  /** The grace period; default the container's own `StopTimeout` (10 s when unset). */
  gracePeriodMs?: number;
}

export interface ReadinessCheck {
  id: string;
  host?: HostConnection;
  /** Command run inside the container; exit 0 means ready. */
  command?: string[];
  /** A TCP port of the container that must accept connections. */
  port?: number;
  address?: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface LocalHost {
  id: string;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

/** A container port forwarded from its host. */
export interface ForwardedPort {
  container: number;
  protocol: string;
  hostIp: string;
  hostPort: number;
}

/** What a ready container looks like from outside: the ports its host forwards to it. */
export interface ReadyContainer {
  ports: ForwardedPort[];
}

export interface ContainerRef {
  id: string;
  name: string;
  /** False when an earlier attempt had already created it. */
  created: boolean;
}

export interface InstanceStatus {
  app: string;
  service: string;
  instance: string;
  container: string;
  id: string;
  /** Id of the host it runs on (`local` for the local engine). */
  host: string;
  image: string;
  state: string;
  status: string;
  ip?: string;
  configHash?: string;
  resolvedHash?: string;
  ports: ForwardedPort[];
}

export interface RemovedResources {
  containers: number;
  networks: number;
  /** Hosts that could not be reached (their containers are gone with them). */
  unreachable?: string[];
}

/** An image source as a deploy pinned it: what every instance runs, on every host, until the next deploy. */
export interface PinnedImage {
  /** As the blueprint wrote it (`127.0.0.1:5000/team/api:2`). */
  image: string;
  /** What containers are created from: `repo@sha256:…`, or the tag of an image only this engine has. */
  ref: string;
  /** The digest the tag named at the deploy; absent for an image no registry holds. */
  digest?: string;
}

export interface ResolveImageRequest {
  /** The engine that asks the registry (the pool's build host, else the local one). */
  host?: HostConnection;
  service: string;
  image: string;
  policy: PullPolicy;
  /** The value of the service's `registryAuth` secret (`user:password`); else this machine's Docker config. */
  credentials?: string;
}

export interface PullRequest {
  host?: HostConnection;
  service: string;
  /** The pinned reference to have on the host. */
  ref: string;
  policy: PullPolicy;
  credentials?: string;
}

export interface PullResult {
  /** False when the host had the image (and the policy did not ask for a pull). */
  pulled: boolean;
  layers?: number;
  downloaded?: number;
  bytes?: number;
  ms?: number;
}

/** A named volume an instance owns, and the host that holds it. */
export interface InstanceVolume {
  app: string;
  service: string;
  instance: string;
  volume: string;
  host: string;
  name: string;
}
