import type { Command } from 'commander';
import { listPolicies, parseKind, signalPolicies } from '../../clients/policies';
import { info, printJson, setJsonMode, table } from '../output';
import { openSession } from '../session';

/** `berth policy list|pause|resume`: the autoscaler and resilience policy workflows of apps. */
export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description("list, pause and resume apps' policies (autoscaler, restarter/replacer)");

  policy
    .command('list')
    .description('running policy workflows with their status and last decision or action')
    .argument('[app]', 'one app (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (app: string | undefined, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      const policies = await listPolicies(session.client, app);
      if (opts.json) return printJson({ policies });
      if (policies.length === 0) return info(app ? `no policies for app '${app}'` : 'no policies');
      info(
        table([
          ['APP', 'SERVICE', 'KIND', 'STATUS', 'LAST'],
          ...policies.map((p) => [p.app, p.service, p.kind, p.status, p.last ?? p.error ?? '-']),
        ]),
      );
    });

  for (const what of ['pause', 'resume'] as const) {
    policy
      .command(what)
      .description(
        what === 'pause'
          ? "stop a service's policies from acting (they keep their state)"
          : "let a service's paused policies act again (clears a resilience policy's give-ups)",
      )
      .argument('<app>', 'app name')
      .argument('<service>', 'service id')
      .argument('[kind]', 'autoscaler or resilience (default: both that exist)')
      .option('--json', 'machine-readable output')
      .action(
        async (app: string, service: string, kindText: string | undefined, opts: { json?: boolean }) => {
          setJsonMode(Boolean(opts.json));
          const kind = parseKind(kindText);
          const session = await openSession({ autostart: false });
          const done = await signalPolicies(session.client, app, service, kind, what);
          if (opts.json) return printJson({ app, service, [what === 'pause' ? 'paused' : 'resumed']: done });
          for (const d of done)
            info(
              `${what === 'pause' ? 'paused' : 'resumed'} the ${d.kind} policy of ${app}/${service} (${d.workflowId})`,
            );
        },
      );
  }
}
