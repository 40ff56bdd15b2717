import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { autoscalerConfig, decide } from '../../src/core/policy';
import { messageOf } from '../../src/core/failures';
import {
  DEFAULT_AUTOSCALER_INTERVAL_MS,
  DEFAULT_ITERATIONS_BEFORE_CONTINUE_AS_NEW,
  autoscalerReconfigureSignal,
  autoscalerReconfigureUpdate,
  metricSignal,
  type AutoscalerCarried,
  type AutoscalerPolicyInput,
  type AutoscalerPolicyState,
  type AutoscalerRecord,
  type AutoscalerReconfigure,
  type PushedMetric,
} from '../api/autoscaler';
import { pauseSignal, policyStateQuery, resumeSignal } from '../api/policies';
import {
  KEEP_DECISIONS,
  nowMs,
  operationPolicyActivities,
  pushBounded,
  quickPolicyActivities,
  recordFailure,
} from './common';

/**
 * Brooklyn's AutoScalerPolicy as a long-running workflow, one per app and service
 * (`berth-policy-<app>-<service>-autoscaler`): every `intervalMs` (a durable timer) it reads the
 * metric — `cpu`/`memory` sampled from the containers' stats, any other name the last value pushed
 * with the `metric` signal (`berth sensor`, the HTTP sensor endpoint) — and asks the pure `decide`
 * for a size; a new size becomes a `scale` operation of the app. The stabilisation window,
 * decisions, pushed metrics and the paused flag survive worker restarts (they are workflow state)
 * and continue-as-new (they are carried).
 */

function checkInterval(intervalMs: number | undefined): void {
  if (intervalMs !== undefined && (!Number.isFinite(intervalMs) || intervalMs < 10))
    throw new Error(`interval must be at least 10 ms, got ${intervalMs}`);
}

export async function autoscalerPolicy(input: AutoscalerPolicyInput): Promise<AutoscalerPolicyState> {
  const policy = new Autoscaler(input);
  setHandler(policyStateQuery, () => policy.snapshot());
  setHandler(pauseSignal, () => void (policy.s.paused = true));
  setHandler(resumeSignal, () => void (policy.s.paused = false));
  setHandler(metricSignal, (m) => policy.takeMetric(m));
  setHandler(autoscalerReconfigureUpdate, (req) => policy.reconfigureNow(req), {
    validator: (req) => {
      checkInterval(req?.intervalMs);
      autoscalerConfig(req?.config ?? {});
    },
  });
  setHandler(autoscalerReconfigureSignal, (req) => policy.reconfigureLater(req));

  const limit = input.iterationsBeforeContinueAsNew ?? DEFAULT_ITERATIONS_BEFORE_CONTINUE_AS_NEW;
  let round = 0;
  try {
    while (round < limit && !workflowInfo().continueAsNewSuggested) {
      // Paused: no timers at all until resumed (the history does not grow).
      await condition(() => !policy.s.paused);
      await sleep(policy.intervalMs);
      if (policy.s.paused) continue;
      round++;
      policy.s.iterations++;
      await policy.evaluate();
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    policy.stopped = true;
    return policy.snapshot();
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof autoscalerPolicy>(policy.carryOver());
}

/** One run of the policy: what it carries across runs (`s`) and its configuration. */
class Autoscaler {
  readonly s: AutoscalerCarried;
  private config: AutoscalerPolicyInput['config'];
  intervalMs: number;
  stopped = false;
  private readonly quick: ReturnType<typeof quickPolicyActivities>;
  private readonly slow: ReturnType<typeof operationPolicyActivities>;

  constructor(private readonly input: AutoscalerPolicyInput) {
    this.s = input.state ?? {
      paused: false,
      window: [],
      decisions: [],
      metrics: {},
      iterations: 0,
      failures: [],
      noData: { count: 0 },
      runs: 0,
    };
    this.s.runs++;
    this.config = input.config;
    this.intervalMs = input.intervalMs ?? DEFAULT_AUTOSCALER_INTERVAL_MS;
    this.quick = quickPolicyActivities(input.activities);
    this.slow = operationPolicyActivities(input.activities);
  }

  snapshot(): AutoscalerPolicyState {
    const { s } = this;
    return {
      kind: 'autoscaler',
      app: this.input.app,
      service: this.input.service,
      status: this.stopped ? 'stopped' : s.paused ? 'paused' : 'active',
      config: this.config,
      intervalMs: this.intervalMs,
      ...s,
    };
  }

  carryOver(): AutoscalerPolicyInput {
    return { ...this.input, config: this.config, intervalMs: this.intervalMs, state: this.s };
  }

  private fail(step: string, err: unknown): void {
    recordFailure(this.s.failures, step, err);
  }

  private reconfigure(req: AutoscalerReconfigure): void {
    this.config = autoscalerConfig(req.config);
    if (req.intervalMs !== undefined) this.intervalMs = req.intervalMs;
  }

  reconfigureNow(req: AutoscalerReconfigure): AutoscalerPolicyState {
    this.reconfigure(req);
    return this.snapshot();
  }

  /** The signal the app workflow sends (workflows cannot send updates): a bad one is recorded. */
  reconfigureLater(req: AutoscalerReconfigure): void {
    try {
      checkInterval(req?.intervalMs);
      this.reconfigure(req);
    } catch (err) {
      this.fail('reconfigure', err);
    }
  }

  takeMetric(m: PushedMetric): void {
    if (typeof m?.name !== 'string' || typeof m.value !== 'number' || !Number.isFinite(m.value)) {
      this.fail('metric', new Error(`ignored a malformed metric ${JSON.stringify(m)}`));
      return;
    }
    this.s.metrics[m.name] = { value: m.value, atMs: m.atMs ?? nowMs() };
  }

  /** The metric's value now: sampled (`cpu`, `memory`) or the last one pushed; undefined without data. */
  private async metric(name: string): Promise<number | undefined> {
    const { app, service } = this.input;
    if (name !== 'cpu' && name !== 'memory') return this.s.metrics[name]?.value;
    // On a pool of remote hosts the instances are sampled where they run.
    const hosts = await this.quick.serviceHosts({ app, service });
    const stats = await this.quick.sampleServiceStats({ app, service, ...(hosts.length ? { hosts } : {}) });
    if (stats.instances > 0) return name === 'cpu' ? stats.cpuPercentAvg : stats.memoryPercentAvg;
    return undefined;
  }

  /** One evaluation: metric → current size → decision → maybe a scale operation. */
  async evaluate(): Promise<void> {
    const { s, input } = this;
    const { app, service } = input;
    const name = this.config.metric;
    let value: number | undefined;
    try {
      value = await this.metric(name);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return this.fail('sampleServiceStats', err);
    }
    const atMs = nowMs();
    if (value === undefined || !Number.isFinite(value)) {
      s.noData = { count: s.noData.count + 1, lastAtMs: atMs };
      return;
    }
    s.lastMetric = { name, value, atMs };
    let current: number;
    try {
      current = await this.quick.serviceReplicas({ app, service });
      s.current = current;
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.fail('serviceReplicas', err);
      if (s.current === undefined) return;
      current = s.current;
    }
    const { window, decision } = decide(this.config, s.window, nowMs(), current, value);
    s.window = window;
    const record: AutoscalerRecord = { ...decision };
    pushBounded(s.decisions, record, KEEP_DECISIONS);
    if (decision.desired === current) return;
    try {
      const outcome = await this.slow.scaleService({
        app,
        service,
        replicas: decision.desired,
        ...(input.operationOptions ? { options: input.operationOptions } : {}),
      });
      Object.assign(record, outcome);
      if (outcome.ok) s.current = decision.desired;
    } catch (err) {
      if (isCancellation(err)) throw err;
      record.ok = false;
      record.error = messageOf(err);
      this.fail('scaleService', err);
    }
  }
}
