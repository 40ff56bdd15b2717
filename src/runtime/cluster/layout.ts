import * as path from 'path';
import { UserError } from '../../core/errors';
import { berthHome } from '../../adapters/paths';

/**
 * Where a local Temporal cluster lives and which ports it uses. Everything hangs off one base port
 * (`BERTH_CLUSTER_PORT`, default 7233, the frontend) so a test or bench moves the whole cluster with
 * one number, and the defaults are Temporal's own (6933/7233/7243…) plus the embedded UI's 8233/8234.
 */

/** The four Temporal services, each its own process (the real topology, not `start-dev`'s one). */
export const SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof SERVICES)[number];

/** Offsets from the base port, as in Temporal's development configs (7233, 7234, 7235, 7239). */
const SERVICE_OFFSET: Record<TemporalService, number> = { frontend: 0, history: 1, matching: 2, worker: 6 };

export interface ServicePorts {
  grpc: number;
  membership: number;
  /** Prometheus metrics of this process on 127.0.0.1 (one listener per process). */
  metrics: number;
}

export interface ClusterLayout {
  home: string;
  /** Config, logs, pid files and state of the Temporal processes, the UI and the codec server. */
  dir: string;
  configDir: string;
  uiConfigDir: string;
  logDir: string;
  pidDir: string;
  /** `cluster.json`: what `up` created (shard count, versions), read back by later runs. */
  stateFile: string;
  /** PostgreSQL's own directory (data, socket, log), owned by the `postgres` user. */
  pgDir: string;
  /** The password of the `temporal` role, readable by root only. */
  pgPasswordFile: string;
  namespace: string;
  ports: {
    services: Record<TemporalService, ServicePorts>;
    frontendHttp: number;
    postgres: number;
    ui: number;
    codec: number;
  };
}

export const DEFAULT_BASE_PORT = 7233;

function basePort(env: NodeJS.ProcessEnv): number {
  const text = env.BERTH_CLUSTER_PORT;
  const port = text === undefined || text === '' ? DEFAULT_BASE_PORT : Number(text);
  // Membership ports sit 300 below and metrics 2006 above the base: all must be valid ports.
  if (!Number.isInteger(port) || port < 1324 || port > 63000)
    throw new UserError(`BERTH_CLUSTER_PORT must be a port between 1324 and 63000, got '${text}'`);
  return port;
}

export function clusterLayout(env: NodeJS.ProcessEnv = process.env): ClusterLayout {
  const home = env.BERTH_HOME ?? berthHome();
  const base = basePort(env);
  const dir = path.join(home, 'cluster');
  const services = Object.fromEntries(
    Object.entries(SERVICE_OFFSET).map(([name, offset]) => [
      name,
      { grpc: base + offset, membership: base - 300 + offset, metrics: base + 2000 + offset },
    ]),
  ) as Record<TemporalService, ServicePorts>;
  return {
    home,
    dir,
    configDir: path.join(dir, 'config'),
    uiConfigDir: path.join(dir, 'ui', 'config'),
    logDir: path.join(dir, 'logs'),
    pidDir: path.join(dir, 'pids'),
    stateFile: path.join(dir, 'cluster.json'),
    pgDir: path.join(home, 'pg'),
    pgPasswordFile: path.join(dir, 'pg-password'),
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    ports: {
      services,
      frontendHttp: base + 10,
      postgres: base + 199,
      ui: base + 1000,
      codec: base + 1001,
    },
  };
}

export function frontendAddress(layout: ClusterLayout): string {
  return `127.0.0.1:${layout.ports.services.frontend.grpc}`;
}

export function uiUrl(layout: ClusterLayout): string {
  return `http://localhost:${layout.ports.ui}`;
}
