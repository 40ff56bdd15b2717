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
  ports: { container: number; protocol: string; hostIp: string; hostPort: number }[];
}

export interface RemovedResources {
  containers: number;
  networks: number;
}
