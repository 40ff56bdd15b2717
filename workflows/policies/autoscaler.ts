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
  const { app, service } = input;
  const s: AutoscalerCarried = input.state ?? {
    paused: false,
    window: [],
    decisions: [],
    metrics: {},
    iterations: 0,
    failures: [],
    noData: { count: 0 },
    runs: 0,
  };
  s.runs++;
  let config = input.config;
  let intervalMs = input.intervalMs ?? DEFAULT_AUTOSCALER_INTERVAL_MS;
  let stopped = false;
  const quick = quickPolicyActivities(input.activities);
  const slow = operationPolicyActivities(input.activities);

  const snapshot = (): AutoscalerPolicyState => ({
    kind: 'autoscaler',
    app,
    service,
    status: stopped ? 'stopped' : s.paused ? 'paused' : 'active',
    config,
    intervalMs,
    ...s,
  });
  const fail = (step: string, err: unknown) => recordFailure(s.failures, step, err);
  const reconfigure = (req: AutoscalerReconfigure): void => {
    config = autoscalerConfig(req.config);
    if (req.intervalMs !== undefined) intervalMs = req.intervalMs;
  };

  setHandler(policyStateQuery, snapshot);
  setHandler(pauseSignal, () => void (s.paused = true));
  setHandler(resumeSignal, () => void (s.paused = false));
  setHandler(metricSignal, (m) => {
    if (typeof m?.name !== 'string' || typeof m.value !== 'number' || !Number.isFinite(m.value)) {
      fail('metric', new Error(`ignored a malformed metric ${JSON.stringify(m)}`));
      return;
    }
    s.metrics[m.name] = { value: m.value, atMs: m.atMs ?? nowMs() };
  });
  setHandler(
    autoscalerReconfigureUpdate,
    (req) => {
      reconfigure(req);
      return snapshot();
    },
    {
      validator: (req) => {
        checkInterval(req?.intervalMs);
        autoscalerConfig(req?.config ?? {});
      },
    },
  );
  setHandler(autoscalerReconfigureSignal, (req) => {
    try {
      checkInterval(req?.intervalMs);
      reconfigure(req);
    } catch (err) {
      fail('reconfigure', err);
    }
  });

  /** One evaluation: metric → current size → decision → maybe a scale operation. */
  const evaluate = async (): Promise<void> => {
    const name = config.metric;
    let value: number | undefined;
    if (name === 'cpu' || name === 'memory') {
      try {
        // On a pool of remote hosts the instances are sampled where they run.
        const hosts = await quick.serviceHosts({ app, service });
        const stats = await quick.sampleServiceStats({ app, service, ...(hosts.length ? { hosts } : {}) });
        if (stats.instances > 0) value = name === 'cpu' ? stats.cpuPercentAvg : stats.memoryPercentAvg;
      } catch (err) {
        if (isCancellation(err)) throw err;
        return fail('sampleServiceStats', err);
      }
    } else {
      value = s.metrics[name]?.value;
    }
    const atMs = nowMs();
    if (value === undefined || !Number.isFinite(value)) {
      s.noData = { count: s.noData.count + 1, lastAtMs: atMs };
      return;
    }
    s.lastMetric = { name, value, atMs };
    let current: number;
    try {
      current = await quick.serviceReplicas({ app, service });
      s.current = current;
    } catch (err) {
      if (isCancellation(err)) throw err;
      fail('serviceReplicas', err);
      if (s.current === undefined) return;
      current = s.current;
    }
    const { window, decision } = decide(config, s.window, nowMs(), current, value);
    s.window = window;
    const record: AutoscalerRecord = { ...decision };
    pushBounded(s.decisions, record, KEEP_DECISIONS);
    if (decision.desired === current) return;
    try {
      const outcome = await slow.scaleService({
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
      fail('scaleService', err);
    }
  };

  const limit = input.iterationsBeforeContinueAsNew ?? DEFAULT_ITERATIONS_BEFORE_CONTINUE_AS_NEW;
  let round = 0;
  try {
    while (round < limit && !workflowInfo().continueAsNewSuggested) {
      // Paused: no timers at all until resumed (the history does not grow).
      await condition(() => !s.paused);
      await sleep(intervalMs);
      if (s.paused) continue;
      round++;
      s.iterations++;
      await evaluate();
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    stopped = true;
    return snapshot();
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof autoscalerPolicy>({ ...input, config, intervalMs, state: s });
}
