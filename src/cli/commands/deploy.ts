import type { Command } from 'commander';
import { OPERATION_DEFAULTS, type OperationOptions } from '../../../workflows/api/operations';
import { loadBlueprint } from '../blueprint-file';
import { parseCount, parseDuration } from '../durations';
import { followOperation, requestOperation } from '../operation';
import { setJsonMode } from '../output';
import { resolveSecrets } from '../secrets';
import { openSession } from '../session';

const DEFAULT_READY_TIMEOUT = `${OPERATION_DEFAULTS.readyTimeoutMs / 1000}s`;
const DEFAULT_PARALLELISM = String(OPERATION_DEFAULTS.parallelism);

export interface OperationFlags {
  json?: boolean;
  detach?: boolean;
  stagger?: string;
  activityTimeout?: string;
  readyTimeout?: string;
  parallelism?: string;
}

/** The flags every operation verb takes (progress, timing). */
export function withOperationFlags(command: Command): Command {
  return command
    .option('--json', 'machine-readable output')
    .option('--detach', 'print the operation workflow ID and return without waiting')
    .option('--stagger <duration>', 'pause between starting two containers (e.g. 2s)', '0')
    .option(
      '--ready-timeout <duration>',
      'how long an instance may take to become ready',
      DEFAULT_READY_TIMEOUT,
    )
    .option('--parallelism <n>', 'containers of one service brought up at once', DEFAULT_PARALLELISM)
    .option('--activity-timeout <duration>', 'upper bound for one Docker call', '60s');
}

export function operationOptions(flags: OperationFlags): OperationOptions {
  return {
    staggerMs: parseDuration(flags.stagger ?? '0', '--stagger'),
    readyTimeoutMs: parseDuration(flags.readyTimeout ?? DEFAULT_READY_TIMEOUT, '--ready-timeout'),
    parallelism: parseCount(flags.parallelism ?? DEFAULT_PARALLELISM, '--parallelism'),
    activities: { startToCloseMs: parseDuration(flags.activityTimeout ?? '60s', '--activity-timeout') },
  };
}

export function registerDeploy(program: Command): void {
  withOperationFlags(
    program
      .command('deploy')
      .description(
        "deploy a blueprint (or apply a changed one): runs a deploy operation on the app's workflow",
      )
      .argument('<file>', 'blueprint YAML file')
      .option('--keep-on-failure', 'keep what a failed deploy created (default: roll it back)'),
  ).action(async (file: string, flags: OperationFlags & { keepOnFailure?: boolean }) => {
    setJsonMode(Boolean(flags.json));
    const blueprint = loadBlueprint(file);
    const secrets = resolveSecrets(blueprint);
    const session = await openSession({ autostart: true });
    const options = { ...operationOptions(flags), keepOnFailure: Boolean(flags.keepOnFailure) };
    const operationId = await requestOperation(session, blueprint.app, {
      type: 'deploy',
      blueprint,
      secrets,
      options,
    });
    await followOperation(session, operationId, { ...flags, verb: `deploying ${blueprint.app}` });
  });
}
