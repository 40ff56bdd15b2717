import {
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import type { BerthActivities } from '../../activities';
import {
  DEFAULT_WATCH_ROUND_MS,
  DEFAULT_WATCH_ROUNDS,
  hostWatcherQuery,
  type HostWatcherInput,
  type HostWatcherState,
} from '../api/watcher';

/**
 * One host watcher per host (started by the inventory workflow): it runs the long, heartbeating
 * `watchHostEvents` activity, which follows the engine's event stream and signals `containerFailed`
 * to the resilience policy of the container's app and service. Each round runs `runForMs` and
 * returns the time of the last event it saw; the next round (and the next run, after
 * continue-as-new) resumes from there, so a worker restart loses no event. An engine that does not
 * answer is retried with back-off, forever.
 */

export async function hostWatcher(input: HostWatcherInput): Promise<HostWatcherState> {
  const runForMs = input.runForMs ?? DEFAULT_WATCH_ROUND_MS;
  const limit = input.roundsBeforeContinueAsNew ?? DEFAULT_WATCH_ROUNDS;
  const totals = { ...(input.totals ?? { rounds: 0, delivered: 0, runs: 0 }) };
  totals.runs++;
  let since = input.since;
  let stopped = false;
  const { watchHostEvents } = proxyActivities<BerthActivities>({
    startToCloseTimeout: runForMs + 60_000,
    heartbeatTimeout: 10_000,
    cancellationType: 'TRY_CANCEL',
    // No maximumAttempts: an unreachable engine is waited for (unlimited attempts), backing off to 30 s.
    retry: { initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 30_000 },
  });
  setHandler(hostWatcherQuery, () => ({
    hostId: input.hostId,
    ...(since !== undefined ? { since } : {}),
    ...totals,
    status: stopped ? 'stopped' : 'watching',
  }));

  try {
    for (let round = 0; round < limit && !workflowInfo().continueAsNewSuggested; round++) {
      const result = await watchHostEvents({
        ...(input.host ? { host: input.host } : {}),
        hostId: input.hostId,
        runForMs,
        ...(since !== undefined ? { since } : {}),
      });
      if (result.lastEventS !== undefined && result.lastEventS !== null) since = result.lastEventS;
      totals.rounds++;
      totals.delivered += result.delivered ?? 0;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    stopped = true;
    return { hostId: input.hostId, ...(since !== undefined ? { since } : {}), ...totals, status: 'stopped' };
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof hostWatcher>({ ...input, ...(since !== undefined ? { since } : {}), totals });
}
