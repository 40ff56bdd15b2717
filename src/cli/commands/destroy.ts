import type { Command } from 'commander';
import { operationWorkflowId } from '../../core/names';
import type { RemovedResources } from '../../../activities/types';
import { announceStarted, info, printJson, setJsonMode } from '../output';
import { openSession, startOperation } from '../session';

export function registerDestroy(program: Command): void {
  program
    .command('destroy')
    .description("remove an app's containers and network (runs a destroy workflow)")
    .argument('<app>', 'app name (the blueprint id)')
    .option('--json', 'machine-readable output')
    .action(async (app: string, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      const op = await startOperation<RemovedResources>(
        session,
        'destroy',
        operationWorkflowId('destroy', app),
        [{ app }],
        app,
        'destroy',
      );
      announceStarted(op, `destroying ${app}`);
      const removed = await op.result();
      if (opts.json) printJson({ workflowId: op.workflowId, runId: op.runId, ui: op.ui, app, ...removed });
      else
        info(`destroyed ${app}: ${removed.containers} container(s), ${removed.networks} network(s) removed`);
    });
}
