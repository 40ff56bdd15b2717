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
  type FailureDetectorConfig,
  type RecoveryConfig,
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
  const policy = new Resilience(input);
  setHandler(policyStateQuery, () => policy.snapshot());
  setHandler(pauseSignal, () => policy.pause());
  setHandler(resumeSignal, () => policy.resume());
  setHandler(resetSignal, (req) => policy.reset(req?.instance));
  setHandler(resilienceReconfigureUpdate, (req) => policy.reconfigureNow(req), {
    validator: (req) => void reconfigureCheck(req),
  });
  setHandler(resilienceReconfigureSignal, (req) => policy.reconfigureLater(req));
  setHandler(containerFailedSignal, (f) => policy.take(f));
  try {
    await policy.run();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    policy.stopped = true;
    return policy.snapshot();
  }
  await condition(() => policy.busy.size === 0 && allHandlersFinished());
  return continueAsNew<typeof resiliencePolicy>(policy.carryOver());
}

/**
 * One run of the policy: what it carries across runs (`s`), its configuration, and the recoveries
 * under way (one per instance at a time, several instances at once).
 */
class Resilience {
  readonly app: string;
  readonly service: string;
  private readonly s: ResilienceCarried;
  private restarter: RecoveryConfig | undefined;
  private replacer: RecoveryConfig | undefined;
  private detector: FailureDetectorConfig | undefined;
  stopped = false;
  /** Instances whose failure is being handled. */
  readonly busy = new Set<string>();
  private readonly quick: ReturnType<typeof quickPolicyActivities>;
  private readonly slow: ReturnType<typeof operationPolicyActivities>;

  constructor(private readonly input: ResiliencePolicyInput) {
    this.app = input.app;
    this.service = input.service;
    this.s = input.state ?? {
      paused: false,
      instances: {},
      actions: [],
      seen: [],
      pending: [],
      failures: [],
      events: 0,
      runs: 0,
    };
    this.s.runs++;
    this.restarter = input.restarter;
    this.replacer = input.replacer;
    this.detector = input.detector;
    this.quick = quickPolicyActivities(input.activities);
    this.slow = operationPolicyActivities(input.activities);
  }

  snapshot(): ResiliencePolicyState {
    const { s, service, restarter, replacer, detector } = this;
    return {
      kind: 'resilience',
      app: this.app,
      service,
      status: this.stopped ? 'stopped' : s.paused ? 'paused' : 'active',
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
    };
  }

  carryOver(): ResiliencePolicyInput {
    const { restarter, replacer, detector } = this;
    return { ...this.input, restarter, replacer, detector, state: this.s };
  }

  // ---- handlers --------------------------------------------------------------------------------

  pause(): void {
    this.s.paused = true;
  }

  resume(): void {
    this.s.paused = false;
    this.reset();
  }

  /** Clears give-ups and failure histories: of one instance, or of all. */
  reset(instance?: string): void {
    for (const h of Object.values(this.s.instances)) {
      if (instance && h.instance !== instance) continue;
      if (h.state === 'gave-up') h.state = 'ok';
      delete h.reason;
      h.restarts = { failures: [] };
      h.replacements = { failures: [] };
      h.failuresInWindow = 0;
    }
  }

  private reconfigure(req: ResilienceReconfigure): void {
    const next = {
      restarter:
        req.restarter === null ? undefined : req.restarter ? recoveryConfig(req.restarter) : this.restarter,
      replacer:
        req.replacer === null ? undefined : req.replacer ? recoveryConfig(req.replacer) : this.replacer,
      detector:
        req.detector === null
          ? undefined
          : req.detector
            ? failureDetectorConfig(req.detector)
            : this.detector,
    };
    this.restarter = next.restarter;
    this.replacer = next.replacer;
    this.detector = next.detector;
  }

  /** The update (validated before it reaches history). */
  reconfigureNow(req: ResilienceReconfigure): ResiliencePolicyState {
    this.reconfigure(req);
    return this.snapshot();
  }

  /** The signal the app workflow sends (workflows cannot send updates): a bad one is recorded. */
  reconfigureLater(req: ResilienceReconfigure): void {
    try {
      this.reconfigure(req);
    } catch (err) {
      this.fail('reconfigure', err);
    }
  }

  /** A `containerFailed` signal: taken once per death, queued unless the policy is paused. */
  take(f: ContainerFailure): void {
    const { s } = this;
    if (!f || typeof f.instance !== 'string' || typeof f.containerId !== 'string') {
      this.fail('containerFailed', new Error(`ignored a malformed failure ${JSON.stringify(f)}`));
      return;
    }
    const key = `${f.containerId}@${f.atMs}`;
    if (s.seen.includes(key)) return;
    pushBounded(s.seen, key, KEEP_SEEN);
    s.events++;
    const health = this.healthOf(f.instance);
    health.failures++;
    if (s.paused) {
      this.record({ ...base(f), action: 'ignore', result: 'policy paused', ok: true });
      return;
    }
    s.pending.push(f);
  }

  // ---- the main loop ---------------------------------------------------------------------------

  /** Takes queued failures, one per instance at a time, until a new run is due (or cancellation). */
  async run(): Promise<void> {
    const { s } = this;
    const limit = this.input.eventsBeforeContinueAsNew ?? DEFAULT_EVENTS_BEFORE_CONTINUE_AS_NEW;
    const startEvents = s.events;
    const wantsNewRun = () => s.events - startEvents >= limit || workflowInfo().continueAsNewSuggested;
    const ready = () => (s.paused ? -1 : s.pending.findIndex((f) => !this.busy.has(f.instance)));
    for (;;) {
      await condition(() => ready() >= 0 || (wantsNewRun() && this.busy.size === 0));
      const i = ready();
      if (i < 0) break;
      const [f] = s.pending.splice(i, 1);
      // Docker reports one death more than once (oom, then die): take it once.
      s.pending = s.pending.filter(
        (p) => !(p.containerId === f.containerId && Math.abs(p.atMs - f.atMs) < SAME_DEATH_MS),
      );
      this.start(f);
    }
  }

  private start(f: ContainerFailure): void {
    this.busy.add(f.instance);
    this.handle(f)
      .catch((err) => {
        if (isCancellation(err)) return;
        const health = this.healthOf(f.instance);
        health.state = 'ok';
        this.record({
          ...base(f),
          action: 'ignore',
          result: 'recovery failed',
          ok: false,
          error: messageOf(err),
        });
      })
      .finally(() => this.busy.delete(f.instance));
  }

  // ---- one failure -----------------------------------------------------------------------------

  /** Recovers one failure; failures of one instance are handled one at a time. */
  private async handle(f: ContainerFailure): Promise<void> {
    const health = this.healthOf(f.instance);
    health.containerId = f.containerId;
    if (f.hostId) health.hostId = f.hostId;
    if (health.state === 'gave-up') {
      this.record({ ...base(f), action: 'ignore', result: `gave up earlier: ${health.reason}`, ok: true });
      return;
    }
    if (!this.restarter && !this.replacer) {
      this.record({ ...base(f), action: 'ignore', result: 'no restarter or replacer configured', ok: true });
      return;
    }
    health.state = 'recovering';
    const recovered = await this.recoveredByItself(f);
    if (recovered) {
      this.record({ ...base(f), action: 'ignore', result: recovered, ok: true });
      health.state = 'ok';
      return;
    }
    if (!this.restarter) return this.replace(f, health, 'replacer');
    const { history, next } = onFailure(this.restarter, health.restarts, nowMs());
    health.restarts = history;
    health.failuresInWindow = next.failuresInWindow;
    if (next.action === 'give-up') {
      if (this.replacer) return this.replace(f, health, `restarter gave up: ${next.reason}`);
      return this.giveUp(f, health, `restarter: ${next.reason}`, next.failuresInWindow);
    }
    if (next.delayMs > 0) await sleep(next.delayMs);
    const outcome = await this.quick.restartInstance({
      app: this.app,
      instance: f.instance,
      containerId: f.containerId,
      ...(f.hostId ? { hostId: f.hostId } : {}),
      ...(f.kind === 'unhealthy' ? { kind: f.kind } : {}),
    });
    if (outcome.outcome === 'gone') return this.replace(f, health, 'container gone');
    this.record({
      ...base(f),
      action: 'restart',
      delayMs: next.delayMs,
      failuresInWindow: next.failuresInWindow,
      result: outcome.outcome,
      ok: true,
      newContainerId: outcome.containerId,
    });
    health.state = 'ok';
  }

  /**
   * The failure detector's stabilisation: waits the failed delay, then looks (a few times at most,
   * while a restarted container has not been up long enough). Returns why the failure is over, if it is.
   */
  private async recoveredByItself(f: ContainerFailure): Promise<string | undefined> {
    const detector = this.detector;
    if (!detector || detector.failedStabilizationMs <= 0) return undefined;
    await sleep(detector.failedStabilizationMs);
    for (let look = 0; look < MAX_DETECTOR_LOOKS; look++) {
      const observed = await this.quick.observeInstance({
        app: this.app,
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

  private async replace(f: ContainerFailure, health: InstanceHealth, why: string): Promise<void> {
    // A scale-down (queued, under way or done) removes the highest instances: not a failure.
    if (!(await this.stillDesired(f.instance))) {
      this.record({
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
    if (this.replacer) {
      const { history, next } = onFailure(this.replacer, health.replacements, nowMs());
      health.replacements = history;
      failuresInWindow = next.failuresInWindow;
      if (next.action === 'give-up')
        return this.giveUp(f, health, `replacer: ${next.reason}`, next.failuresInWindow);
      delayMs = next.delayMs;
      health.failuresInWindow = next.failuresInWindow;
    }
    if (delayMs > 0) await sleep(delayMs);
    const outcome = await this.slow.replaceInstance({
      app: this.app,
      service: this.service,
      instance: f.instance,
      containerId: f.containerId,
      ...(f.hostId ? { hostId: f.hostId } : {}),
      ...(this.input.operationOptions ? { options: this.input.operationOptions } : {}),
    });
    this.record({
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

  /** Is the instance still part of the service's desired size (a scale-down removes the highest)? */
  private async stillDesired(instance: string): Promise<boolean> {
    const n = indexOf(this.service, instance);
    if (n === undefined) return false;
    try {
      return n <= (await this.quick.serviceReplicas({ app: this.app, service: this.service }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.fail('serviceReplicas', err);
      return false;
    }
  }

  private giveUp(
    f: ContainerFailure,
    health: InstanceHealth,
    reason: string,
    failuresInWindow: number,
  ): void {
    health.state = 'gave-up';
    health.reason = reason;
    health.failuresInWindow = failuresInWindow;
    this.record({ ...base(f), action: 'give-up', failuresInWindow, result: reason, ok: false });
  }

  private healthOf(instance: string): InstanceHealth {
    return (this.s.instances[instance] ??= {
      instance,
      failures: 0,
      failuresInWindow: 0,
      state: 'ok',
      restarts: { failures: [] },
      replacements: { failures: [] },
    });
  }

  private record(action: ResilienceAction): void {
    pushBounded(this.s.actions, action, KEEP_DECISIONS);
  }

  private fail(step: string, err: unknown): void {
    recordFailure(this.s.failures, step, err);
  }
}

function base(f: ContainerFailure) {
  return { atMs: nowMs(), instance: f.instance, kind: f.kind, containerId: f.containerId };
}

/** The update's validator: a bad configuration is refused with the parser's own message. */
function reconfigureCheck(req: ResilienceReconfigure): void {
  if (!req || typeof req !== 'object')
    throw new Error('reconfigure needs {restarter?, replacer?, detector?}');
  if (req.restarter) recoveryConfig(req.restarter);
  if (req.replacer) recoveryConfig(req.replacer);
  if (req.detector) failureDetectorConfig(req.detector);
}
