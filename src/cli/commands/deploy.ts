import type { Command } from 'commander';
import { operationWorkflowId } from '../../core/names';
import type { DeployInput, DeployProgress, DeployResult } from '../../../workflows/deploy';
import { loadBlueprint } from '../blueprint-file';
import { announceStarted, info, printJson, setJsonMode, table } from '../output';
import { openSession, startOperation, warnWhenNoWorker } from '../session';
import { parseDuration } from '../durations';

async function followProgress(query: () => Promise<DeployProgress>, done: Promise<unknown>): Promise<void> {
  let shown = 0;
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  // Bounded by the workflow itself: the loop ends when the result promise settles.
  while (!finished) {
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 300))]);
    const progress = await query().catch(() => undefined);
    if (!progress) continue;
    for (const i of progress.instances.slice(shown)) {
      info(
        `  ${i.created ? 'started' : 'kept   '} ${i.instance} (${i.container})  [${progress.started}/${progress.total}]`,
      );
    }
    shown = progress.instances.length;
  }
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('deploy a blueprint: starts a deploy workflow and waits for it')
    .argument('<file>', 'blueprint YAML file')
    .option('--json', 'machine-readable output')
    .option('--detach', 'print the workflow ID and return without waiting')
    .option('--stagger <duration>', 'pause between starting two instances (e.g. 2s)', '0')
    .option('--activity-timeout <duration>', 'upper bound for one Docker call', '60s')
    .action(
      async (
        file: string,
        opts: { json?: boolean; detach?: boolean; stagger: string; activityTimeout: string },
      ) => {
        setJsonMode(Boolean(opts.json));
        const blueprint = loadBlueprint(file);
        const input: DeployInput = {
          blueprint,
          staggerMs: parseDuration(opts.stagger, '--stagger'),
          activities: { startToCloseMs: parseDuration(opts.activityTimeout, '--activity-timeout') },
        };
        const session = await openSession({ autostart: true });
        const op = await startOperation<DeployResult>(
          session,
          'deploy',
          operationWorkflowId('deploy', blueprint.app),
          [input],
          blueprint.app,
          'deploy',
        );
        announceStarted(op, `deploying ${blueprint.app}`);
        await warnWhenNoWorker(session);
        if (opts.detach) {
          if (opts.json) printJson({ workflowId: op.workflowId, runId: op.runId, ui: op.ui });
          return;
        }
        const result = op.result();
        if (!opts.json) await followProgress(() => op.handle.query<DeployProgress>('progress'), result);
        const deployed = await result;
        if (opts.json) {
          printJson({ workflowId: op.workflowId, runId: op.runId, ui: op.ui, ...deployed });
          return;
        }
        info(
          `deployed ${deployed.app}: ${deployed.instances.length} container(s) on network ${deployed.network}`,
        );
        info(
          table([
            ['SERVICE', 'INSTANCE', 'CONTAINER'],
            ...deployed.instances.map((i) => [i.service, i.instance, i.container]),
          ]),
        );
      },
    );
}
