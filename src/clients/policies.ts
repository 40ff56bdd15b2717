import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { UserError, printable } from '../core/errors';
import { SENSOR_VALUE_EXPECTED, isPlainDecimal, parseDecimal, sensorTargetProblem } from '../core/sensors';
import { policyWorkflowId } from '../core/names';
import { metricSignal, type AutoscalerPolicyState } from '../../workflows/api/autoscaler';
import { appState } from './app';
import {
  POLICY_KINDS,
  pauseSignal,
  policyStateQuery,
  resumeSignal,
  type PolicyKind,
} from '../../workflows/api/policies';
import type { ResiliencePolicyState } from '../../workflows/api/resilience';
import { BERTH_APP } from '../../workflows/api/search-attributes';

/**
 * The client side of policy workflows, shared by the CLI (`berth policy`, `berth sensor`) and the
 * HTTP sensor endpoint: find them, query them, signal them.
 */

/** No running policy where one was asked for (the HTTP endpoint answers 404). */
export class PolicyNotFoundError extends UserError {
  override readonly name = 'PolicyNotFoundError';
}

/** A sensor value or name Berth does not accept (the HTTP endpoint answers 400). */
export class BadSensorValueError extends UserError {
  override readonly name = 'BadSensorValueError';
}

export type PolicyState = AutoscalerPolicyState | ResiliencePolicyState;

export interface PolicySummary {
  workflowId: string;
  app: string;
  service: string;
  kind: PolicyKind;
  status: string;
  /** The last decision (autoscaler) or action (resilience), in one line. */
  last?: string;
  state?: PolicyState;
  error?: string;
}

/** `42`, `-1.5`: a plain decimal number (`src/core/sensors.ts`), else a one-line error naming the value. */
export function parseSensorValue(text: string): number {
  const value = parseDecimal(text.trim());
  if (value === undefined)
    throw new BadSensorValueError(
      `VALUE must be ${SENSOR_VALUE_EXPECTED}, got '${printable(text.length > 40 ? `${text.slice(0, 37)}...` : text)}'`,
    );
  return value;
}

export function parseKind(text: string | undefined): PolicyKind | undefined {
  if (text === undefined) return undefined;
  if (!(POLICY_KINDS as string[]).includes(text))
    throw new UserError(`KIND must be one of ${POLICY_KINDS.join(', ')}, got '${text}'`);
  return text as PolicyKind;
}

/** App and service by Berth's name rules, and a metric name (`src/core/sensors.ts`), or BadSensorValueError. */
export function checkSensorTarget(app: string, service: string, name: string): void {
  const problem = sensorTargetProblem(app, service, name);
  if (problem) throw new BadSensorValueError(problem);
}

/** Sends a value to the autoscaler policy of `app`/`service` (signal `metric`). */
export async function pushMetric(
  client: Client,
  req: { app: string; service: string; name: string; value: number; atMs?: number },
): Promise<{ workflowId: string }> {
  checkSensorTarget(req.app, req.service, req.name);
  if (!isPlainDecimal(req.value))
    throw new BadSensorValueError(`VALUE must be ${SENSOR_VALUE_EXPECTED}, got '${req.value}'`);
  const workflowId = policyWorkflowId(req.app, req.service, 'autoscaler');
  try {
    await client.workflow.getHandle(workflowId).signal(metricSignal, {
      name: req.name,
      value: req.value,
      ...(req.atMs !== undefined ? { atMs: req.atMs } : {}),
    });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new PolicyNotFoundError(`no autoscaler policy for ${req.app}/${req.service}`);
    throw err;
  }
  return { workflowId };
}

/** Why no policy answers for `app`/`service`: an unknown app, an unknown service, or none configured. */
async function explainMissing(
  client: Client,
  app: string,
  service: string,
  kind?: PolicyKind,
): Promise<never> {
  const state = await appState(client, app);
  if (!state || state.phase === 'destroyed') throw new PolicyNotFoundError(`unknown app '${app}'`);
  const services = state.blueprint?.services.map((s) => s.id) ?? [];
  if (!services.includes(service))
    throw new PolicyNotFoundError(
      `app '${app}' has no service '${service}' (services: ${services.join(', ')})`,
    );
  throw new PolicyNotFoundError(`no ${kind ? `${kind} ` : ''}policy for ${app}/${service}`);
}

/** Pauses or resumes the policies of a service (one kind, or every kind that runs). */
export async function signalPolicies(
  client: Client,
  app: string,
  service: string,
  kind: PolicyKind | undefined,
  what: 'pause' | 'resume',
): Promise<{ workflowId: string; kind: PolicyKind }[]> {
  const done: { workflowId: string; kind: PolicyKind }[] = [];
  for (const k of kind ? [kind] : POLICY_KINDS) {
    const workflowId = policyWorkflowId(app, service, k);
    try {
      await client.workflow.getHandle(workflowId).signal(what === 'pause' ? pauseSignal : resumeSignal);
      done.push({ workflowId, kind: k });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  if (done.length === 0) await explainMissing(client, app, service, kind);
  return done;
}

function lastOf(state: PolicyState): string | undefined {
  if (state.kind === 'autoscaler') {
    const d = state.decisions.at(-1);
    if (!d) return state.noData.count > 0 ? `no data for ${state.config.metric}` : undefined;
    const outcome = d.operationId ? ` (${d.ok ? d.operationId : `failed: ${d.error ?? d.operationId}`})` : '';
    return `${d.reason}${outcome}`;
  }
  const a = state.actions.at(-1);
  if (!a) return undefined;
  return `${a.action} ${a.instance}: ${a.result}${a.error ? ` (${a.error})` : ''}`;
}

/** Running policy workflows (visibility: workflow IDs starting `berth-policy-`), each queried. */
export async function listPolicies(client: Client, app?: string): Promise<PolicySummary[]> {
  const prefix = app ? policyWorkflowId(app, '', 'autoscaler').replace(/-autoscaler$/, '') : 'berth-policy-';
  const query = `WorkflowId STARTS_WITH '${prefix.replace(/'/g, "\\'")}' AND ExecutionStatus = 'Running'`;
  const found: { workflowId: string; app?: string }[] = [];
  for await (const w of client.workflow.list({ query })) {
    found.push({ workflowId: w.workflowId, app: w.typedSearchAttributes.get(BERTH_APP) });
  }
  const summaries = await Promise.all(
    found.map(async ({ workflowId, app: saApp }): Promise<PolicySummary> => {
      const kind: PolicyKind = workflowId.endsWith('-autoscaler') ? 'autoscaler' : 'resilience';
      try {
        const state = (await client.workflow.getHandle(workflowId).query(policyStateQuery)) as PolicyState;
        return {
          workflowId,
          app: state.app,
          service: state.service,
          kind: state.kind,
          status: state.status,
          last: lastOf(state),
          state,
        };
      } catch (err) {
        return {
          workflowId,
          app: saApp ?? '?',
          service: '?',
          kind,
          status: 'unknown',
          error: (err as Error).message.split('\n')[0],
        };
      }
    }),
  );
  return summaries
    .filter((s) => !app || s.app === app || s.app === '?')
    .sort(
      (a, b) =>
        a.app.localeCompare(b.app) || a.service.localeCompare(b.service) || a.kind.localeCompare(b.kind),
    );
}
