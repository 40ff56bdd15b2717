/**
 * Changing a running app safely: a waiting rollout's answers (`promote`, `abort`, `resume`,
 * `rollback`), `cancel`, the app's `history` of operations and versions, and `diff`, a dry run of a
 * blueprint against what runs.
 */
import type { Command } from 'commander';
import { diffApp, type AppDiff } from '../../core/diff';
import { UserError } from '../../core/errors';
import { messageOf } from '../../core/failures';
import { workflowUiLink } from '../../adapters/temporal';
import { loadBlueprint } from '../blueprint-file';
import { followOperation, requestOperation } from '../operation';
import { info, printJson, setJsonMode, table } from '../output';
import { openSession, requireWorker, type Session } from '../session';
import { operationOptions, withOperationFlags, type OperationFlags } from './deploy';

type Answer = 'promote' | 'abort' | 'resume';

const ANSWERS: Record<Answer, string> = {
  promote: "promote the app's canaries: the rollout goes on",
  abort: "abort the app's canaries: they are removed, the app stays at its version",
  resume: "resume the app's paused rollout",
};

async function answerAndFollow(
  session: Session,
  app: string,
  answer: Answer | 'rollback',
  flags: FollowFlags,
) {
  await requireWorker(session);
  const operationId = await session.apps.answer(app, answer);
  info(`${answer}: sent to ${operationId}`);
  await followOperation(session, operationId, { ...flags, verb: `${answer} of ${app}` });
}

interface FollowFlags {
  json?: boolean;
  detach?: boolean;
}

function registerAnswer(program: Command, answer: Answer): void {
  program
    .command(answer)
    .description(ANSWERS[answer])
    .argument('<app>', 'app name')
    .option('--json', 'machine-readable output')
    .option('--detach', 'return once the operation has the answer')
    .action(async (app: string, flags: FollowFlags) => {
      setJsonMode(Boolean(flags.json));
      const session = await openSession({ autostart: false });
      await answerAndFollow(session, app, answer, flags);
    });
}

export function registerRollout(program: Command): void {
  for (const answer of Object.keys(ANSWERS) as Answer[]) registerAnswer(program, answer);

  withOperationFlags(
    program
      .command('rollback')
      .description(
        'deploy an earlier version of an app through the same rollout (or roll back a paused rollout)',
      )
      .argument('<app>', 'app name')
      .option('--to <version>', 'the version (default: the one before the current)'),
  ).action(async (app: string, flags: OperationFlags & { to?: string }) => {
    setJsonMode(Boolean(flags.json));
    const toVersion = flags.to === undefined ? undefined : Number(flags.to);
    if (toVersion !== undefined && (!Number.isInteger(toVersion) || toVersion < 1))
      throw new UserError(`--to must be a version number (1 or more), got '${flags.to}'`);
    const session = await openSession({ autostart: false });
    const running = await session.apps.runningOperation(app);
    const waiting = running ? (await session.apps.progress(running.id))?.waiting : undefined;
    if (waiting && toVersion === undefined) return answerAndFollow(session, app, 'rollback', flags);
    const operationId = await requestOperation(session, app, {
      type: 'rollback',
      ...(toVersion !== undefined ? { toVersion } : {}),
      options: operationOptions(flags),
    });
    await followOperation(session, operationId, { ...flags, verb: `rolling back ${app}` });
  });

  program
    .command('cancel')
    .description("cancel an app's operation under way: it cleans up and rolls a rollout back first")
    .argument('<app>', 'app name')
    .option('--json', 'machine-readable output')
    .action(async (app: string, flags: { json?: boolean }) => {
      setJsonMode(Boolean(flags.json));
      const session = await openSession({ autostart: false });
      const operationId = await session.apps.cancel(app);
      info(`cancel: sent to ${operationId}; waiting for its clean-up`);
      const ended = await session.apps.result(operationId).then(
        () => 'completed before the cancellation took effect',
        (err: unknown) => messageOf(err),
      );
      await session.apps.settled(app, operationId);
      const state = await session.apps.state(app);
      const record = state?.operations.find((o) => o.id === operationId);
      const outcome = { operationId, status: record?.status ?? 'unknown', version: state?.version, ended };
      if (flags.json) return printJson(outcome);
      info(`${operationId} ${outcome.status} (${ended}); ${app} runs version ${state?.version ?? '?'}`);
    });

  program
    .command('history')
    .description("an app's operations (number, type, version, times, result, who asked) and versions")
    .argument('<app>', 'app name')
    .option('--json', 'machine-readable output')
    .action(async (app: string, flags: { json?: boolean }) => {
      setJsonMode(Boolean(flags.json));
      const session = await openSession({ autostart: false });
      const state = await session.apps.requireState(app);
      const operations = state.operations.map((o) => ({
        number: Number(o.id.slice(o.id.lastIndexOf('-') + 1)),
        id: o.id,
        type: o.type,
        version: o.version,
        queuedAt: time(o.queuedAtMs),
        startedAt: time(o.startedAtMs),
        endedAt: time(o.endedAtMs),
        result: o.status,
        ...(o.error ? { error: o.error } : {}),
        requestedBy: o.requestedBy,
        ui: workflowUiLink(session.target, o.id),
      }));
      const versions = (state.versions ?? []).map((v) => ({
        version: v.version,
        appliedAt: time(v.appliedAtMs),
        operationId: v.operationId,
        ...(v.rollbackOf !== undefined ? { rollbackOf: v.rollbackOf } : {}),
        current: v.version === state.version,
      }));
      if (flags.json) return printJson({ app, version: state.version, operations, versions });
      info(
        table([
          ['#', 'TYPE', 'VERSION', 'STARTED', 'ENDED', 'RESULT', 'BY', 'WORKFLOW'],
          ...operations.map((o) => [
            String(o.number),
            o.type,
            o.version === undefined ? '-' : String(o.version),
            o.startedAt ?? '-',
            o.endedAt ?? '-',
            o.error ? `${o.result}: ${o.error}` : o.result,
            o.requestedBy ?? '-',
            o.id,
          ]),
        ]),
      );
      if (versions.length)
        info(
          `versions: ${versions.map((v) => `${v.version}${v.current ? '*' : ''}${v.rollbackOf ? ` (rollback of ${v.rollbackOf})` : ''}`).join(', ')} (* runs now)`,
        );
    });

  program
    .command('diff')
    .description(
      'what deploying a blueprint would change in its running app (exit code 0: nothing, 2: changes)',
    )
    .argument('<file>', 'blueprint YAML file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, flags: { json?: boolean }) => {
      setJsonMode(Boolean(flags.json));
      const blueprint = loadBlueprint(file);
      const session = await openSession({ autostart: false });
      const state = await session.apps.state(blueprint.app);
      const current =
        state && state.phase !== 'destroyed' ? state : { replicas: {}, instances: [], blueprint: undefined };
      const diff = diffApp(current, blueprint);
      if (flags.json) printJson({ app: blueprint.app, ...diff });
      else printDiff(blueprint.app, diff);
      process.exitCode = diff.changed ? 2 : 0;
    });
}

function time(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function printDiff(app: string, diff: AppDiff): void {
  if (!diff.changed) return info(`${app}: no change`);
  for (const note of diff.notes) info(note);
  const rows = diff.instances
    .filter((i) => i.action !== 'keep')
    .map((i) => [i.instance, i.action, i.fields?.length ? `changed: ${i.fields.join(', ')}` : '']);
  const kept = diff.instances.filter((i) => i.action === 'keep').length;
  if (rows.length) info(table([['INSTANCE', 'ACTION', 'WHY'], ...rows]));
  if (kept) info(`${kept} instance(s) kept as they are`);
  for (const s of diff.settings)
    info(`${s.service}: settings change (${s.fields.join(', ')}), no container replaced for them`);
  for (const r of diff.rollouts) {
    const p = r.policy;
    info(
      `rollout of ${r.service}: ${r.replacing} instance(s), ${p.parallelism} at a time, ${p.order}` +
        `${p.canary ? `, ${p.canary} canary first` : ''}${p.minReadyMs ? `, ready for ${p.minReadyMs} ms each` : ''}` +
        `, on failure ${p.failureAction}`,
    );
  }
}
