/**
 * The rollout of one service's changed instances: canaries first (started beside the old ones,
 * then a wait for `promote`), then batches of `parallelism` in the policy's order, each new
 * instance watched for `minReady`; when more than `maxFailureRatio` of them fail, the policy's
 * `failureAction` (roll back, pause for a person, or carry on).
 *
 * It decides; the steps that touch containers and DNS are the caller's (`RolloutSteps`), as are the
 * clock and the wait for a person, so the decisions are tested as plain units.
 */
import { isCancellation } from '@temporalio/workflow';
import { messageOf } from '../../src/core/failures';
import { batches, canaryCount, rolloutFailed, type UpdatePolicy } from '../../src/core/rollout';
import type { InstanceRecord, RolloutWait } from '../api/operations';
import type { Answer } from './control';

/**
 * Why a step failed, for the rollout's failure count; a cancellation is not a failed instance but
 * the whole operation being cancelled, so it goes on up (to the non-cancellable way back) instead
 * of being counted — counted, it became a "failed" rollout whose way back then ran in the
 * cancelled scope and stopped at its first activity.
 */
function reasonOf(err: unknown): string {
  if (isCancellation(err)) throw err;
  return messageOf(err);
}

/** One instance to replace: its name, and the container that runs it now. */
export interface Replacement {
  instance: string;
  containerId: string;
}

/** A replacement started beside its instance (start-first or canary), not yet in its place. */
export interface Surge {
  replacement: Replacement;
  record: InstanceRecord;
}

export interface RolloutSteps {
  /** Old one out of DNS, drained, stopped; the new one at its name and address, ready, in DNS. */
  stopFirst(r: Replacement): Promise<InstanceRecord>;
  /** The new one beside the old (its own name and address), ready, in DNS. */
  surge(r: Replacement): Promise<Surge>;
  /** The old one out of DNS, drained, stopped; the surge takes the instance's name. */
  retire(s: Surge): Promise<InstanceRecord>;
  /** A surge out of DNS, drained, stopped (an aborted canary); the old one stays. */
  withdraw(s: Surge): Promise<void>;
  /** Is the new instance still ready (after `minReady`)? Throws why not. */
  checkReady(record: InstanceRecord): Promise<void>;
}

export interface RolloutEnv {
  sleep(ms: number): Promise<void>;
  wait(wait: Omit<RolloutWait, 'sinceMs'>, timeoutMs?: number): Promise<Answer | undefined>;
  say(line: string): void;
}

/** Why a rollout stopped: the policy's failure (to roll back), or a person's abort. */
export class RolloutStopped extends Error {
  constructor(
    message: string,
    readonly reason: 'failed' | 'aborted',
  ) {
    super(message);
    this.name = 'RolloutStopped';
  }
}

interface Failed {
  instance: string;
  reason: string;
}

export async function rollOutService(
  service: string,
  replacing: Replacement[],
  policy: UpdatePolicy,
  steps: RolloutSteps,
  env: RolloutEnv,
): Promise<InstanceRecord[]> {
  const total = replacing.length;
  const done: InstanceRecord[] = [];
  let failed: Failed[] = [];

  /** After failures: the policy's failure action (throws to roll back; waits when paused). */
  const onFailures = async (): Promise<void> => {
    if (!rolloutFailed(failed.length, total, policy.maxFailureRatio)) return;
    const first = failed[0];
    const why = `${first.instance}: ${first.reason}`;
    if (policy.failureAction === 'continue') {
      env.say(
        `${service}: ${failed.length} of ${total} failed (${why}); continuing (failureAction: continue)`,
      );
      return;
    }
    if (policy.failureAction === 'pause') {
      const answer = await env.wait({
        kind: 'paused',
        service,
        reason: `rollout of ${service} paused after ${failed.length} failure(s) (${why}): resume or rollback`,
        instances: failed.map((f) => f.instance),
      });
      if (answer === 'resume') {
        failed = []; // resumed: the count starts again; what failed is left as it is
        return;
      }
    }
    throw new RolloutStopped(`rollout of ${service} failed: ${why}`, 'failed');
  };

  const canaries = canaryCount(policy, total);
  if (canaries > 0)
    done.push(...(await canaryStage(service, replacing.slice(0, canaries), policy, steps, env)));
  for (const batch of batches(replacing.slice(canaries), policy.parallelism)) {
    const outcomes = await Promise.all(
      batch.map((r) =>
        (policy.order === 'start-first'
          ? steps.surge(r).then((s) => steps.retire(s))
          : steps.stopFirst(r)
        ).then(
          (record) => ({ record }),
          (err: unknown) => ({ failure: { instance: r.instance, reason: reasonOf(err) } }),
        ),
      ),
    );
    const ok = outcomes.flatMap((o) => ('record' in o ? [o.record] : []));
    failed.push(...outcomes.flatMap((o) => ('failure' in o ? [o.failure] : [])));
    if (policy.minReadyMs > 0 && ok.length > 0) {
      await env.sleep(policy.minReadyMs);
      for (const record of ok) {
        try {
          await steps.checkReady(record);
        } catch (err) {
          failed.push({
            instance: record.instance,
            reason: `not ready after ${policy.minReadyMs} ms: ${reasonOf(err)}`,
          });
        }
      }
    }
    done.push(...ok);
    await onFailures();
  }
  return done;
}

/**
 * Canaries: new instances beside the old ones, then a wait for `promote` (or, with `autoPromote`,
 * that long with every canary ready). Promoted, each takes its instance's place; aborted, they go.
 */
async function canaryStage(
  service: string,
  replacing: Replacement[],
  policy: UpdatePolicy,
  steps: RolloutSteps,
  env: RolloutEnv,
): Promise<InstanceRecord[]> {
  const started = await Promise.all(
    replacing.map((r) =>
      steps.surge(r).then(
        (s) => ({ s }),
        (err: unknown) => ({ failure: `${r.instance}: ${reasonOf(err)}` }),
      ),
    ),
  );
  const surges = started.flatMap((x) => ('s' in x ? [x.s] : []));
  const withdrawAll = async () => {
    for (const s of surges) await steps.withdraw(s);
  };
  const broken = started.flatMap((x) => ('failure' in x ? [x.failure] : []));
  if (broken.length > 0) {
    await withdrawAll();
    throw new RolloutStopped(`canary of ${service} failed: ${broken[0]}`, 'failed');
  }
  const names = surges.map((s) => s.record.instance);
  const answer = await env.wait(
    {
      kind: 'canary',
      service,
      reason: `${surges.length} canary instance(s) of ${service} ready (${names.join(', ')}): promote or abort${
        policy.autoPromoteMs !== undefined
          ? ` (promoted by itself after ${policy.autoPromoteMs} ms ready)`
          : ''
      }`,
      instances: names,
    },
    policy.autoPromoteMs,
  );
  if (answer === 'abort' || answer === 'rollback') {
    await withdrawAll();
    throw new RolloutStopped(`canary of ${service} aborted: canaries removed`, 'aborted');
  }
  if (answer === undefined) {
    // autoPromote: only if every canary is still ready.
    for (const s of surges) {
      try {
        await steps.checkReady(s.record);
      } catch (err) {
        const reason = reasonOf(err);
        await withdrawAll();
        throw new RolloutStopped(`canary of ${service} failed: ${s.record.instance}: ${reason}`, 'failed');
      }
    }
    env.say(`${service}: canaries ready for ${policy.autoPromoteMs} ms, promoted`);
  } else env.say(`${service}: canaries promoted`);
  const promoted: InstanceRecord[] = [];
  for (const s of surges) promoted.push(await steps.retire(s));
  return promoted;
}
