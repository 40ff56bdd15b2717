import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { clusterLayout } from '../../runtime/cluster/layout';
import { COMPONENTS, clusterDown, clusterStatus, clusterUp, type Component } from '../../runtime/cluster';
import { info, printJson, setJsonMode, table, warn } from '../output';

function components(names: string[]): Component[] {
  for (const n of names)
    if (!(COMPONENTS as readonly string[]).includes(n))
      throw new UserError(`COMPONENT must be one of ${COMPONENTS.join(', ')}, got '${n}'`);
  return names.length ? (names as Component[]) : [...COMPONENTS];
}

async function up(opts: { json?: boolean; ui: boolean; historyShards?: string }): Promise<void> {
  setJsonMode(!!opts.json);
  const shards = opts.historyShards === undefined ? undefined : Number(opts.historyShards);
  if (shards !== undefined && !(Number.isInteger(shards) && shards >= 1 && shards <= 16384))
    throw new UserError(
      `--history-shards must be a whole number from 1 to 16384, got '${opts.historyShards}'`,
    );
  const layout = clusterLayout();
  const result = await clusterUp(layout, { log: (l) => info(l), ui: opts.ui, shards });
  if (opts.json) return printJson(result);
  info(
    `Temporal cluster up on ${result.address} (namespace ${result.namespace}; started ${result.started.join(', ') || 'nothing, all running'}; ${(result.ms / 1000).toFixed(1)} s)`,
  );
  if (result.uiUrl) info(`Web UI ${result.uiUrl} (payloads decrypted by Berth's codec server)`);
  info(
    `Use it: export TEMPORAL_ADDRESS=${result.address}${result.uiUrl ? ` BERTH_UI_URL=${result.uiUrl}` : ''}; berth worker`,
  );
}

async function down(names: string[], opts: { json?: boolean; purge?: boolean }): Promise<void> {
  setJsonMode(!!opts.json);
  const result = await clusterDown(clusterLayout(), components(names), { purge: opts.purge });
  if (opts.json) return printJson(result);
  info(result.stopped.length ? `stopped ${result.stopped.join(', ')}` : 'nothing was running');
  if (result.stuck.length) warn(`still running after SIGKILL: ${result.stuck.join(', ')}`);
  if (opts.purge) info('removed the cluster and its database');
}

function status(opts: { json?: boolean }): void {
  const rows = clusterStatus(clusterLayout());
  if (opts.json) return printJson({ components: rows });
  info(
    table([
      ['COMPONENT', 'STATUS', 'PID', 'PORT', 'LOG'],
      ...rows.map((r) => [
        r.component,
        r.running ? 'running' : 'stopped',
        r.pid ? String(r.pid) : '-',
        String(r.port),
        r.log,
      ]),
    ]),
  );
}

export function registerCluster(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'a real Temporal cluster on this machine: PostgreSQL, frontend/history/matching/worker processes, the Web UI (BERTH_CLUSTER_PORT, default 7233)',
    );
  cluster
    .command('up')
    .description('build what is missing (first time only), start what is not running, wait until usable')
    .option('--no-ui', 'without the Web UI server and the codec server')
    .option('--history-shards <n>', 'history shards of a new database (fixed for its life; default 16)')
    .option('--json', 'machine-readable output')
    .action(up);
  cluster
    .command('down [COMPONENT...]')
    .description(`stop the cluster, or only the named components (${COMPONENTS.join(', ')})`)
    .option('--purge', 'also delete the database and the configuration')
    .option('--json', 'machine-readable output')
    .action(down);
  cluster
    .command('status')
    .description('which components run')
    .option('--json', 'machine-readable output')
    .action(status);
}
