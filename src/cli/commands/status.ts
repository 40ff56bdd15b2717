import type { Command } from 'commander';
import { shortDigest } from '../../core/images';
import { instanceDnsName } from '../../core/names';
import type { AppStateView } from '../../../workflows/api/app';
import type { HostView } from '../../../workflows/api/inventory';
import type { AppStatus } from '../../../workflows/api/status';
import { UnknownAppError } from '../../clients/app';
import { announceStarted, info, printJson, setJsonMode, table } from '../output';
import { openSession, startRead, type Session } from '../session';

/**
 * `berth status` answers from queries: each app workflow's recorded instances (what its last
 * operation left), with each host's health and how long ago the inventory last sensed it. Nothing
 * is started, so the Web UI's list holds only the operations users ran. `--live` asks the engines
 * instead (a `status` workflow run).
 */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show apps' instances: host, address, forwarded ports, DNS names (from the app workflows)")
    .argument('[app]', 'one app (default: all)')
    .option('--live', "ask every host's engine what runs (runs a status workflow)")
    .option('--json', 'machine-readable output')
    .action(async (app: string | undefined, opts: { json?: boolean; live?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      if (opts.live) return liveStatus(session, app, Boolean(opts.json));
      const names = app ? [app] : await session.apps.list();
      const states = (await Promise.all(names.map((a) => session.apps.state(a)))).filter(
        (s): s is AppStateView => !!s && s.phase !== 'destroyed',
      );
      if (app && states.length === 0) throw new UnknownAppError(app);
      const hosts = await session.inventory.hosts().catch(() => [] as HostView[]);
      const hostOf = (id: string) => hosts.find((h) => h.id === id);
      const now = Date.now();
      const apps = states.map((s) => ({
        app: s.app,
        phase: s.phase,
        version: s.version,
        desired: s.replicas,
        images: s.images ?? {},
        waiting: s.waiting ?? [],
        lastOperation: s.operations.at(-1),
        instances: s.instances.map((i) => {
          const host = hostOf(i.host);
          return {
            ...i,
            state: host?.status === 'failed' ? 'host failed' : 'running',
            hostStatus: host?.status ?? (i.host === 'local' ? 'ready' : 'unknown'),
            ...(host?.sensors ? { sensedAgoMs: Math.max(0, now - host.sensors.atMs) } : {}),
            ports: i.ports ?? [],
            dns: instanceDnsName(s.app, i.service, i.instance),
          };
        }),
      }));
      if (opts.json) return printJson({ apps });
      if (apps.length === 0) return info('no apps');
      for (const a of apps) {
        const last = a.lastOperation;
        info(
          `${a.app}: ${a.phase}${a.version !== undefined ? `, version ${a.version}` : ''}, desired ${Object.entries(
            a.desired,
          )
            .map(([s, n]) => `${s}=${n}`)
            .join(' ')}` +
            (last ? `, last operation ${last.id} ${last.status}${last.error ? `: ${last.error}` : ''}` : ''),
        );
        const pinned = Object.entries(a.images).filter(([, p]) => p.digest);
        if (pinned.length)
          info(`  images: ${pinned.map(([s, p]) => `${s}=${p.image}@${shortDigest(p.digest!)}`).join(' ')}`);
        for (const w of a.waiting)
          info(
            `  ${w.instance} waits for host ${w.host}, which holds its volumes (${w.volumes.join(', ')}): 'berth heal ${a.app}' once it is back, or 'berth heal ${a.app} --allow-data-loss' to start it anew, empty`,
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
          i.dns,
          i.sensedAgoMs !== undefined ? `${Math.round(i.sensedAgoMs / 1000)}s ago` : '-',
        ]),
      );
      for (const a of apps)
        for (const w of a.waiting)
          rows.push([
            a.app,
            w.service,
            w.instance,
            w.host,
            'waiting for host and volume',
            '-',
            '-',
            '-',
            '-',
          ]);
      info(table([['APP', 'SERVICE', 'INSTANCE', 'HOST', 'STATE', 'IP', 'PORTS', 'DNS', 'SENSED'], ...rows]));
    });
}

/** What every engine says runs, through a `status` workflow (reads only; a unique ID per run). */
async function liveStatus(session: Session, app: string | undefined, json: boolean): Promise<void> {
  const workflowId = `berth-status-${app ?? 'all'}-${Date.now()}`;
  const op = await startRead<AppStatus[]>(session, 'status', workflowId, [{ app }], app ?? '*');
  if (!json) announceStarted(op, 'status');
  const apps = await op.result();
  if (json) {
    printJson({
      workflowId,
      ui: op.ui,
      apps: apps.map((a) => ({
        ...a,
        instances: a.instances.map((x) => ({ ...x, dns: instanceDnsName(a.app, x.service, x.instance) })),
      })),
    });
    return;
  }
  if (apps.length === 0) return info('no apps');
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
}
