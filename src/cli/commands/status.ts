import type { Command } from 'commander';
import { instanceDnsName } from '../../core/names';
import type { AppStatus } from '../../../workflows/api/status';
import { announceStarted, info, printJson, setJsonMode, table } from '../output';
import { openSession, startRead } from '../session';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show apps' instances: state, address, forwarded ports, DNS names (runs a status workflow)")
    .argument('[app]', 'one app (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (app: string | undefined, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      // Status runs are reads: a unique ID per run, so several can run at once.
      const workflowId = `berth-status-${app ?? 'all'}-${Date.now()}`;
      const op = await startRead<AppStatus[]>(session, 'status', workflowId, [{ app }], app ?? '*');
      if (!opts.json) announceStarted(op, 'status');
      const apps = await op.result();
      const states = await Promise.all(apps.map((a) => session.apps.state(a.app)));
      if (opts.json) {
        printJson({
          workflowId,
          ui: op.ui,
          apps: apps.map((a, i) => ({
            ...a,
            desired: states[i]?.replicas,
            phase: states[i]?.phase,
            lastOperation: states[i]?.operations.at(-1),
            instances: a.instances.map((x) => ({ ...x, dns: instanceDnsName(a.app, x.service, x.instance) })),
          })),
        });
        return;
      }
      if (apps.length === 0) return info('no apps');
      for (const [i, a] of apps.entries()) {
        const state = states[i];
        const last = state?.operations.at(-1);
        info(
          `${a.app}: ${state?.phase ?? 'unmanaged'}` +
            (state
              ? `, desired ${Object.entries(state.replicas)
                  .map(([s, n]) => `${s}=${n}`)
                  .join(' ')}`
              : '') +
            (last ? `, last operation ${last.id} ${last.status}${last.error ? `: ${last.error}` : ''}` : ''),
        );
      }
      const rows = apps.flatMap((a) =>
        a.instances.map((i) => [
          a.app,
          i.service,
          i.instance,
          i.host,
          i.state,
          i.ip ?? '-',
          i.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.container}/${p.protocol}`).join(',') || '-',
          instanceDnsName(a.app, i.service, i.instance),
        ]),
      );
      info(table([['APP', 'SERVICE', 'INSTANCE', 'HOST', 'STATE', 'IP', 'PORTS', 'DNS'], ...rows]));
    });
}
