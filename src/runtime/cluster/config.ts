import * as fs from 'fs';
import * as path from 'path';
import { SERVICES, frontendAddress, type ClusterLayout } from './layout';

/**
 * The Temporal server's and the UI server's configuration files, after Temporal's own
 * `config/development-postgres12.yaml`: PostgreSQL 12+ for both the default and the (advanced)
 * visibility store, one process per service on loopback. `base.yaml` is shared; each service starts
 * with `--env <service>`, whose file adds only its own metrics listener (one port per process).
 */

/** Connections per process: 4 processes × (20 + 10) stay well under PostgreSQL's max_connections. */
const DEFAULT_STORE_CONNS = 20;
const VISIBILITY_STORE_CONNS = 10;

function datastore(layout: ClusterLayout, database: string, conns: number, password: string): string {
  return `      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "127.0.0.1:${layout.ports.postgres}"
        connectProtocol: tcp
        user: temporal
        password: ${JSON.stringify(password)}
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
}

export function temporalBaseConfig(layout: ClusterLayout, shards: number, password: string): string {
  const p = layout.ports;
  const services = SERVICES.map((s) => {
    const rpc = p.services[s];
    return `  ${s}:
    rpc:
      grpcPort: ${rpc.grpc}
      membershipPort: ${rpc.membership}
      bindOnLocalHost: true${s === 'frontend' ? `\n      httpPort: ${p.frontendHttp}` : ''}`;
  }).join('\n');
  return `# Written by 'berth cluster up'; rewritten on every up (edit layout.ts/config.ts, not this file).
log:
  stdout: true
  level: ${process.env.BERTH_CLUSTER_LOG_LEVEL ?? 'warn'}

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  # Fixed for the life of the database: a later up refuses another value.
  numHistoryShards: ${shards}
  datastores:
    postgres-default:
${datastore(layout, 'temporal', DEFAULT_STORE_CONNS, password)}
    postgres-visibility:
${datastore(layout, 'temporal_visibility', VISIBILITY_STORE_CONNS, password)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: 0

services:
${services}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "${frontendAddress(layout)}"
      httpAddress: "127.0.0.1:${p.frontendHttp}"

dcRedirectionPolicy:
  policy: noop

archival:
  history:
    state: disabled
  visibility:
    state: disabled

namespaceDefaults:
  archival:
    history:
      state: disabled
    visibility:
      state: disabled

publicClient:
  hostPort: "${frontendAddress(layout)}"

dynamicConfigClient:
  filepath: ${JSON.stringify(path.join(layout.configDir, 'dynamicconfig.yaml'))}
  pollInterval: 10s
`;
}

export function temporalServiceConfig(layout: ClusterLayout, service: (typeof SERVICES)[number]): string {
  return `global:
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:${layout.ports.services[service].metrics}"
`;
}

/**
 * Dynamic config, polled by every process (edit it on a running cluster; `up` keeps an edited file).
 * Timers on time, as `berth server` sets for the dev server: policies tick every few hundred ms.
 * Every operation of a pool reserves hosts through the pool's one inventory workflow, as updates;
 * Temporal admits 10 unfinished updates per workflow by default and refuses the rest, which 50
 * deploys at once exceeded (bench:cluster): Berth's cluster admits 200.
 */
export const MAX_IN_FLIGHT_UPDATES = 200;
export const DYNAMIC_CONFIG = `# Temporal dynamic config for Berth's cluster; polled every 10 s, kept across 'berth cluster up'.
history.timerProcessorMaxTimeShift:
  - value: 10ms
# The pool's inventory takes every operation's reservations as updates (Temporal's default: 10).
history.maxInFlightUpdates:
  - value: ${MAX_IN_FLIGHT_UPDATES}
`;

export function uiConfig(layout: ClusterLayout): string {
  return `# Written by 'berth cluster up'.
temporalGrpcAddress: "${frontendAddress(layout)}"
host: 127.0.0.1
port: ${layout.ports.ui}
enableUi: true
defaultNamespace: ${JSON.stringify(layout.namespace)}
hideLogs: true
cors:
  cookieInsecure: true
codec:
  # Berth's codec server (started beside the UI): the browser asks it to decrypt payloads.
  endpoint: "http://localhost:${layout.ports.codec}"
`;
}

/** Config files are rewritten on every up (ports or password may have changed); secrets are 0600. */
export function writeClusterConfig(layout: ClusterLayout, shards: number, password: string): void {
  fs.mkdirSync(layout.configDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(layout.uiConfigDir, { recursive: true });
  fs.writeFileSync(path.join(layout.configDir, 'base.yaml'), temporalBaseConfig(layout, shards, password), {
    mode: 0o600,
  });
  for (const s of SERVICES)
    fs.writeFileSync(path.join(layout.configDir, `${s}.yaml`), temporalServiceConfig(layout, s));
  const dynamic = path.join(layout.configDir, 'dynamicconfig.yaml');
  if (!fs.existsSync(dynamic)) fs.writeFileSync(dynamic, DYNAMIC_CONFIG);
  fs.writeFileSync(path.join(layout.uiConfigDir, 'berth.yaml'), uiConfig(layout));
}
