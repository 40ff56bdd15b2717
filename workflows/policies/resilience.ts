import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  MAX_DETECTOR_LOOKS,
  failureDetectorConfig,
  judge,
  onFailure,
  recoveryConfig,
} from '../../src/core/policy';
import type { ContainerFailure } from '../../src/core/policy/events';
import { messageOf } from '../../src/core/failures';
import { pauseSignal, policyStateQuery, resumeSignal } from '../api/policies';
import {
  DEFAULT_EVENTS_BEFORE_CONTINUE_AS_NEW,
  containerFailedSignal,
  resetSignal,
  resilienceReconfigureSignal,
  resilienceReconfigureUpdate,
  type InstanceHealth,
  type ResilienceAction,
  type ResilienceCarried,
  type ResiliencePolicyInput,
  type ResiliencePolicyState,
  type ResilienceReconfigure,
} from '../api/resilience';
import {
  KEEP_DECISIONS,
  nowMs,
  operationPolicyActivities,
  pushBounded,
  quickPolicyActivities,
  recordFailure,
} from './common';

/**
 * Brooklyn's ServiceRestarter and ServiceReplacer as one long-running workflow per app and service
 * (`berth-policy-<app>-<service>-resilience`). Host watchers signal `containerFailed` when a
 * container dies; per instance, the pure `onFailure` says recover (after a back-off) or give up.
 * The restarter starts the same container again; when it gives up (or the container is gone) and a
 * replacer is configured, the instance is replaced — removed and re-created by a `heal` of the app,
 * through placement — as Brooklyn escalates. With a failure detector, a failure is first given its
 * stabilisation delay: an instance running again by then (Docker's restart policy) is left alone.
 * An instance given up on is left alone until `resume` or `reset`.
 */

const KEEP_SEEN = 500;
/** Events for one container this close together are one death (Docker sends `oom` then `die`). */
const SAME_DEATH_MS = 1_000;

/** `web-3` of service `web` → 3. */
function indexOf(service: string, instance: string): number | undefined {
  const n = Number(instance.slice(service.length + 1));
  return instance.startsWith(`${service}-`) && Number.isInteger(n) ? n : undefined;
}

export async function resiliencePolicy(input: ResiliencePolicyInput): Promise<ResiliencePolicyState> {
  const { app, service } = input;
  const s: ResilienceCarried = input.state ?? {
    paused: false,
    instances: {},
    actions: [],
    seen: [],
    pending: [],
    failures: [],
    events: 0,
    runs: 0,
  };
  s.runs++;
  let restarter = input.restarter;
  let replacer = input.replacer;
  let detector = input.detector;
  let stopped = false;
  const quick = quickPolicyActivities(input.activities);
  const slow = operationPolicyActivities(input.activities);
  const busy = new Set<string>();

  const snapshot = (): ResiliencePolicyState => ({
    kind: 'resilience',
    app,
    service,
    status: stopped ? 'stopped' : s.paused ? 'paused' : 'active',
    ...(restarter ? { restarter } : {}),
    ...(replacer ? { replacer } : {}),
    ...(detector ? { detector } : {}),
    instances: Object.values(s.instances)
      .sort((a, b) => (indexOf(service, a.instance) ?? 0) - (indexOf(service, b.instance) ?? 0))
      .map(({ restarts: _r, replacements: _p, ...rest }) => rest),
    actions: s.actions,
    pending: s.pending.length,
    events: s.events,
    failures: s.failures,
    runs: s.runs,
  });
  const record = (action: ResilienceAction) => pushBounded(s.actions, action, KEEP_DECISIONS);
  const fail = (step: string, err: unknown) => recordFailure(s.failures, step, err);
  const reset = (instance?: string) => {
    for (const h of Object.values(s.instances)) {
      if (instance && h.instance !== instance) continue;
      if (h.state === 'gave-up') h.state = 'ok';
      delete h.reason;
      h.restarts = { failures: [] };
      h.replacements = { failures: [] };
      h.failuresInWindow = 0;
    }
  };
  const reconfigure = (req: ResilienceReconfigure) => {
    const next = {
      restarter:
        req.restarter === null ? undefined : req.restarter ? recoveryConfig(req.restarter) : restarter,
      replacer: req.replacer === null ? undefined : req.replacer ? recoveryConfig(req.replacer) : replacer,
      detector:
        req.detector === null ? undefined : req.detector ? failureDetectorConfig(req.detector) : detector,
    };
    restarter = next.restarter;
    replacer = next.replacer;
    detector = next.detector;
  };

  setHandler(policyStateQuery, snapshot);
  setHandler(pauseSignal, () => void (s.paused = true));
  setHandler(resumeSignal, () => {
    s.paused = false;
    reset();
  });
  setHandler(resetSignal, (req) => reset(req?.instance));
  setHandler(
    resilienceReconfigureUpdate,
    (req) => {
      reconfigure(req);
      return snapshot();
    },
    { validator: (req) => void reconfigureCheck(req) },
  );
  setHandler(resilienceReconfigureSignal, (req) => {
    try {
      reconfigure(req);
    } catch (err) {
      fail('reconfigure', err);
    }
  });
  setHandler(containerFailedSignal, (f) => {
    if (!f || typeof f.instance !== 'string' || typeof f.containerId !== 'string') {
      fail('containerFailed', new Error(`ignored a malformed failure ${JSON.stringify(f)}`));
      return;
    }
    const key = `${f.containerId}@${f.atMs}`;
    if (s.seen.includes(key)) return;
    pushBounded(s.seen, key, KEEP_SEEN);
    s.events++;
    const health = healthOf(f.instance);
    health.failures++;
    if (s.paused) {
      record({ ...base(f), action: 'ignore', result: 'policy paused', ok: true });
      return;
    }
    s.pending.push(f);
  });

  function healthOf(instance: string): InstanceHealth {
    return (s.instances[instance] ??= {
      instance,
      failures: 0,
      failuresInWindow: 0,
      state: 'ok',
      restarts: { failures: [] },
      replacements: { failures: [] },
    });
  }

  function base(f: ContainerFailure) {
    return { atMs: nowMs(), instance: f.instance, kind: f.kind, containerId: f.containerId };
  }

  /** Is the instance still part of the service's desired size (a scale-down removes the highest)? */
  async function stillDesired(instance: string): Promise<boolean> {
    const n = indexOf(service, instance);
    if (n === undefined) return false;
    try {
      return n <= (await quick.serviceReplicas({ app, service }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      fail('serviceReplicas', err);
      return false;
    }
  }

  function giveUp(f: ContainerFailure, health: InstanceHealth, reason: string, failuresInWindow: number) {
    health.state = 'gave-up';
    health.reason = reason;
    health.failuresInWindow = failuresInWindow;
    record({ ...base(f), action: 'give-up', failuresInWindow, result: reason, ok: false });
  }

  async function replace(f: ContainerFailure, health: InstanceHealth, why: string): Promise<void> {
    // A scale-down (queued, under way or done) removes the highest instances: not a failure.
    if (!(await stillDesired(f.instance))) {
      record({
        ...base(f),
        action: 'ignore',
        result: 'the instance is no longer desired (scaled down)',
        ok: true,
      });
      health.state = 'ok';
      return;
    }
    let delayMs = 0;
    let failuresInWindow: number | undefined;
    if (replacer) {
      const { history, next } = onFailure(replacer, health.replacements, nowMs());
      health.replacements = history;
      failuresInWindow = next.failuresInWindow;
      if (next.action === 'give-up')
        return giveUp(f, health, `replacer: ${next.reason}`, next.failuresInWindow);
      delayMs = next.delayMs;
      health.failuresInWindow = next.failuresInWindow;
    }
    if (delayMs > 0) await sleep(delayMs);
    const outcome = await slow.replaceInstance({
      app,
      service,
      instance: f.instance,
      containerId: f.containerId,
      ...(f.hostId ? { hostId: f.hostId } : {}),
      ...(input.operationOptions ? { options: input.operationOptions } : {}),
    });
    record({
      ...base(f),
      action: 'replace',
      delayMs,
      ...(failuresInWindow !== undefined ? { failuresInWindow } : {}),
      result: `${outcome.outcome} (${why})`,
      ok: outcome.ok,
      ...(outcome.operationId ? { operationId: outcome.operationId } : {}),
      ...(outcome.containerId ? { newContainerId: outcome.containerId } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    });
    if (outcome.ok) {
      // A new container starts with a clean restart record.
      health.restarts = { failures: [] };
      if (outcome.containerId) health.containerId = outcome.containerId;
    }
    health.state = 'ok';
  }

  /**
   * The failure detector's stabilisation: waits the failed delay, then looks (a few times at most,
   * while a restarted container has not been up long enough). Returns why the failure is over, if it is.
   */
  async function recoveredByItself(f: ContainerFailure): Promise<string | undefined> {
    if (!detector || detector.failedStabilizationMs <= 0) return undefined;
    await sleep(detector.failedStabilizationMs);
    for (let look = 0; look < MAX_DETECTOR_LOOKS; look++) {
      const observed = await quick.observeInstance({
        app,
        instance: f.instance,
        containerId: f.containerId,
        ...(f.hostId ? { hostId: f.hostId } : {}),
      });
      const verdict = judge(detector, observed, nowMs());
      if (verdict.verdict === 'recovered') return verdict.reason;
      if (verdict.verdict === 'failed') return undefined;
      await sleep(verdict.ms);
    }
    return undefined;
  }

  /** Recovers one failure; failures of one instance are handled one at a time. */
  async function handle(f: ContainerFailure): Promise<void> {
    const health = healthOf(f.instance);
    health.containerId = f.containerId;
    if (f.hostId) health.hostId = f.hostId;
    if (health.state === 'gave-up') {
      record({ ...base(f), action: 'ignore', result: `gave up earlier: ${health.reason}`, ok: true });
      return;
    }
    if (!restarter && !replacer) {
      record({ ...base(f), action: 'ignore', result: 'no restarter or replacer configured', ok: true });
      return;
    }
    health.state = 'recovering';
    const recovered = await recoveredByItself(f);
    if (recovered) {
      record({ ...base(f), action: 'ignore', result: recovered, ok: true });
      health.state = 'ok';
      return;
    }
    if (!restarter) return replace(f, health, 'replacer');
    const { history, next } = onFailure(restarter, health.restarts, nowMs());
    health.restarts = history;
    health.failuresInWindow = next.failuresInWindow;
    if (next.action === 'give-up') {
      if (replacer) return replace(f, health, `restarter gave up: ${next.reason}`);
      return giveUp(f, health, `restarter: ${next.reason}`, next.failuresInWindow);
    }
    if (next.delayMs > 0) await sleep(next.delayMs);
    const outcome = await quick.restartInstance({
      app,
      instance: f.instance,
      containerId: f.containerId,
      ...(f.hostId ? { hostId: f.hostId } : {}),
      ...(f.kind === 'unhealthy' ? { kind: f.kind } : {}),
    });
    if (outcome.outcome !== 'gone') {
      record({
        ...base(f),
        action: 'restart',
        delayMs: next.delayMs,
        failuresInWindow: next.failuresInWindow,
        result: outcome.outcome,
        ok: true,
        newContainerId: outcome.containerId,
      });
      health.state = 'ok';
      return;
    }
    return replace(f, health, 'container gone');
  }

  const run = (f: ContainerFailure): void => {
    busy.add(f.instance);
    handle(f)
      .catch((err) => {
        if (isCancellation(err)) return;
        const health = healthOf(f.instance);
        health.state = 'ok';
        record({ ...base(f), action: 'ignore', result: 'recovery failed', ok: false, error: messageOf(err) });
      })
      .finally(() => busy.delete(f.instance));
  };

  const limit = input.eventsBeforeContinueAsNew ?? DEFAULT_EVENTS_BEFORE_CONTINUE_AS_NEW;
  const startEvents = s.events;
  const wantsNewRun = () => s.events - startEvents >= limit || workflowInfo().continueAsNewSuggested;
  const ready = () => (s.paused ? -1 : s.pending.findIndex((f) => !busy.has(f.instance)));
  try {
    for (;;) {
      await condition(() => ready() >= 0 || (wantsNewRun() && busy.size === 0));
      const i = ready();
      if (i < 0) break;
      const [f] = s.pending.splice(i, 1);
      // Docker reports one death more than once (oom, then die): take it once.
      s.pending = s.pending.filter(
        (p) => !(p.containerId === f.containerId && Math.abs(p.atMs - f.atMs) < SAME_DEATH_MS),
      );
      run(f);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    stopped = true;
    return snapshot();
  }
  await condition(() => busy.size === 0 && allHandlersFinished());
  return continueAsNew<typeof resiliencePolicy>({ ...input, restarter, replacer, detector, state: s });
}

/** The update's validator: a bad configuration is refused with the parser's own message. */
function reconfigureCheck(req: ResilienceReconfigure): void {
  if (!req || typeof req !== 'object')
    throw new Error('reconfigure needs {restarter?, replacer?, detector?}');
  if (req.restarter) recoveryConfig(req.restarter);
  if (req.replacer) recoveryConfig(req.replacer);
  if (req.detector) failureDetectorConfig(req.detector);
}
