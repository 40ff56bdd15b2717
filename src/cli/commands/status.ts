import type { Command } from 'commander';
import type { AppStatus } from '../../../workflows/status';
import { announceStarted, info, printJson, setJsonMode, table } from '../output';
import { openSession, startOperation } from '../session';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show apps' instances: state, address, forwarded ports (runs a status workflow)")
    .argument('[app]', 'one app (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (app: string | undefined, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      // Status runs are reads: a unique ID per run, so several can run at once.
      const workflowId = `berth-status-${app ?? 'all'}-${Date.now()}`;
      const op = await startOperation<AppStatus[]>(
        session,
        'status',
        workflowId,
        [{ app }],
        app ?? '*',
        'status',
      );
      if (!opts.json) announceStarted(op, 'status');
      const apps = await op.result();
      if (opts.json) {
        printJson({ workflowId, ui: op.ui, apps });
        return;
      }
      if (apps.length === 0) return info('no apps');
      const rows = apps.flatMap((a) =>
        a.instances.map((i) => [
          a.app,
          i.service,
          i.instance,
          i.state,
          i.ip ?? '-',
          i.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.container}/${p.protocol}`).join(',') || '-',
          i.container,
        ]),
      );
      info(table([['APP', 'SERVICE', 'INSTANCE', 'STATE', 'IP', 'PORTS', 'CONTAINER'], ...rows]));
    });
}
