import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { MAX_REPLICAS } from '../../core/blueprint/limits';
import { followOperation, requestOperation, requestRetry } from '../operation';
import { setJsonMode } from '../output';
import { openSession } from '../session';
import { operationOptions, withOperationFlags, type OperationFlags } from './deploy';

export function registerScale(program: Command): void {
  withOperationFlags(
    program
      .command('scale')
      .description("set a service's number of instances")
      .argument('<app>', 'app name')
      .argument('<service>', 'service id')
      .argument('<replicas>', 'instances wanted (0 or more)'),
  ).action(async (app: string, service: string, replicasText: string, flags: OperationFlags) => {
    setJsonMode(Boolean(flags.json));
    const replicas = Number(replicasText);
    if (!/^\d+$/.test(replicasText) || replicas > MAX_REPLICAS)
      throw new UserError(`replicas must be a whole number from 0 to ${MAX_REPLICAS}, got '${replicasText}'`);
    const session = await openSession({ autostart: false });
    const operationId = await requestOperation(session, app, {
      type: 'scale',
      service,
      replicas,
      options: operationOptions(flags),
    });
    await followOperation(session, operationId, {
      ...flags,
      verb: `scaling ${app}/${service} to ${replicas}`,
    });
  });
}

export function registerHeal(program: Command): void {
  withOperationFlags(
    program
      .command('heal')
      .description('reconcile an app to its desired state: restart, recreate or remove instances')
      .argument('<app>', 'app name')
      .option(
        '--allow-data-loss',
        'place instances whose volumes are on a host that is gone anew, with empty volumes',
      ),
  ).action(async (app: string, flags: OperationFlags & { allowDataLoss?: boolean }) => {
    setJsonMode(Boolean(flags.json));
    const session = await openSession({ autostart: false });
    const operationId = await requestOperation(session, app, {
      type: 'heal',
      ...(flags.allowDataLoss ? { allowDataLoss: true } : {}),
      options: operationOptions(flags),
    });
    await followOperation(session, operationId, { ...flags, verb: `healing ${app}` });
  });
}

export function registerDestroy(program: Command): void {
  withOperationFlags(
    program
      .command('destroy')
      .description(
        "stop and remove an app's containers, network, DNS names and reservations (named volumes stay)",
      )
      .argument('<app>', 'app name')
      .option('--volumes', "remove the app's named volumes too (their data is lost)"),
  ).action(async (app: string, flags: OperationFlags & { volumes?: boolean }) => {
    setJsonMode(Boolean(flags.json));
    const session = await openSession({ autostart: false });
    const operationId = await requestOperation(session, app, {
      type: 'destroy',
      ...(flags.volumes ? { volumes: true } : {}),
      options: operationOptions(flags),
    });
    await followOperation(session, operationId, { ...flags, verb: `destroying ${app}` });
  });
}

export function registerRetry(program: Command): void {
  program
    .command('retry')
    .description('run a failed operation again (it converges: nothing is created twice)')
    .argument('<workflow-id>', 'the failed operation, e.g. berth-deploy-web-3')
    .option('--json', 'machine-readable output')
    .option('--detach', 'return without waiting')
    .action(async (workflowId: string, flags: { json?: boolean; detach?: boolean }) => {
      setJsonMode(Boolean(flags.json));
      const session = await openSession({ autostart: false });
      const operationId = await requestRetry(session, workflowId);
      await followOperation(session, operationId, { ...flags, verb: `retrying ${workflowId}` });
    });
}
