import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  defineUpdate,
  isCancellation,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  autoscalerConfig,
  decide,
  type AutoscalerConfig,
  type AutoscalerDecision,
  type Recommendation,
} from '../../src/core/policy';
import type { ActivityTuning } from '../activity-options';
import type { OperationOptions } from '../operations/types';
import {
  KEEP_DECISIONS,
  messageOf,
  nowMs,
  operationPolicyActivities,
  pauseSignal,
  policyStateQuery,
  pushBounded,
  quickPolicyActivities,
  recordFailure,
  resumeSignal,
  type PolicyFailure,
  type PolicyStatus,
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

export const DEFAULT_AUTOSCALER_INTERVAL_MS = 15_000;
export const DEFAULT_ITERATIONS_BEFORE_CONTINUE_AS_NEW = 500;
/** Metrics the policy samples itself from `docker stats`; any other name is pushed. */
export const SAMPLED_METRICS = ['cpu', 'memory'] as const;

export interface PushedMetric {
  name: string;
  value: number;
  atMs?: number;
}

/** A decision and, when it resized, the scale operation it asked for. */
export interface AutoscalerRecord extends AutoscalerDecision {
  operationId?: string;
  ok?: boolean;
  error?: string;
}

/** Carried across continue-as-new: nothing the policy learned is lost. */
export interface AutoscalerCarried {
  paused: boolean;
  window: Recommendation[];
  decisions: AutoscalerRecord[];
  metrics: Record<string, { value: number; atMs: number }>;
  lastMetric?: { name: string; value: number; atMs: number };
  iterations: number;
  failures: PolicyFailure[];
  noData: { count: number; lastAtMs?: number };
  current?: number;
  runs: number;
}

export interface AutoscalerPolicyInput {
  app: string;
  service: string;
  config: AutoscalerConfig;
  /** Evaluation period. Default 15 s. */
  intervalMs?: number;
  /** Continue-as-new after this many evaluations (or when the server suggests it). Default 500. */
  iterationsBeforeContinueAsNew?: number;
  /** Options of the scale operations the policy asks for. */
  operationOptions?: OperationOptions;
  activities?: ActivityTuning;
  state?: AutoscalerCarried;
}

export interface AutoscalerPolicyState extends AutoscalerCarried {
  kind: 'autoscaler';
  app: string;
  service: string;
  status: PolicyStatus;
  config: AutoscalerConfig;
  intervalMs: number;
}

/** A new configuration: the blueprint's policy config (as parsed) and, optionally, a new period. */
export interface AutoscalerReconfigure {
  config: Record<string, unknown>;
  intervalMs?: number;
}

export const metricSignal = defineSignal<[PushedMetric]>('metric');
export const autoscalerReconfigureUpdate = defineUpdate<AutoscalerPolicyState, [AutoscalerReconfigure]>(
  'reconfigure',
);
export const autoscalerReconfigureSignal = defineSignal<[AutoscalerReconfigure]>('reconfigureSignal');

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
