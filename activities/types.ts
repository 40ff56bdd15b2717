/** Shapes exchanged between workflows and activities (plain data, serialisable). */
import type { PortSpec } from '../src/core/blueprint/model';

export interface ContainerSpec {
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
  restart?: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  cpus?: number;
  memoryBytes?: number;
}

export interface ReadinessCheck {
  id: string;
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
  image: string;
  state: string;
  status: string;
  ip?: string;
  configHash?: string;
  ports: { container: number; protocol: string; hostIp: string; hostPort: number }[];
}

export interface RemovedResources {
  containers: number;
  networks: number;
}
