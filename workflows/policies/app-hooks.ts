import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, getExternalWorkflowHandle, startChild, workflowInfo } from '@temporalio/workflow';
import { watchHostsSignal } from '../api/inventory';
import type { Blueprint } from '../../src/core/blueprint/model';
import { messageOf } from '../../src/core/failures';
import { inventoryWorkflowId } from '../../src/core/names';
import { autoscalerReconfigureSignal } from '../api/autoscaler';
import type { OperationRequest } from '../api/operations';
import type { PolicyRecord } from '../api/policies';
import { resilienceReconfigureSignal } from '../api/resilience';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from '../api/search-attributes';
import { plannedPolicies, type PolicyPlan } from './plan';

/**
 * The app workflow's side of policies: after a successful deploy, scale or heal it makes sure the
 * blueprint's policy workflows run (children with parent-close ABANDON, so they outlive the app
 * run's continue-as-new), tells them about a changed configuration, and cancels those the blueprint
 * no longer has; before a destroy it cancels them all. Nothing here throws: a policy that cannot
 * start is recorded in the app state, never fails the operation.
 */

export interface PolicyHolder {
  app: string;
  blueprint?: Blueprint;
  policies?: Record<string, PolicyRecord>;
  /** From the last deploy's `policyIntervalMs` option. */
  policyIntervalMs?: number;
}

async function cancelPolicy(workflowId: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(workflowId).cancel();
  } catch {
    // Not found or already closed: nothing to stop.
  }
}

async function startOrReconfigure(
  state: PolicyHolder,
  plan: Extract<PolicyPlan, { fingerprint: string }>,
  known?: PolicyRecord,
): Promise<PolicyRecord> {
  const record: PolicyRecord = { kind: plan.kind, service: plan.service, fingerprint: plan.fingerprint };
  try {
    await startChild(plan.workflowType, {
      workflowId: plan.workflowId,
      args: [plan.input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: BERTH_APP, value: state.app },
        { key: BERTH_OPERATION, value: 'policy' },
        { key: BERTH_STATUS, value: 'running' },
      ],
    });
    return record;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) return { ...record, error: messageOf(err) };
  }
  // Already running: only a changed configuration is sent.
  if (known?.fingerprint === plan.fingerprint && !known.error) return record;
  try {
    const handle = getExternalWorkflowHandle(plan.workflowId);
    if (plan.kind === 'autoscaler') await handle.signal(autoscalerReconfigureSignal, plan.reconfigure);
    else await handle.signal(resilienceReconfigureSignal, plan.reconfigure);
    return record;
  } catch (err) {
    return { ...record, error: messageOf(err) };
  }
}

export async function ensurePolicies(state: PolicyHolder, request: OperationRequest): Promise<void> {
  if (request.type === 'deploy') state.policyIntervalMs = request.options?.policyIntervalMs;
  if (!state.blueprint) return;
  const plans = plannedPolicies(state.blueprint, state.policyIntervalMs);
  const before = state.policies ?? {};
  if (plans.length === 0 && Object.keys(before).length === 0) return;
  const after: Record<string, PolicyRecord> = {};
  for (const plan of plans) {
    if ('error' in plan)
      after[plan.workflowId] = { kind: plan.kind, service: plan.service, error: plan.error };
    else after[plan.workflowId] = await startOrReconfigure(state, plan, before[plan.workflowId]);
  }
  for (const id of Object.keys(before)) if (!after[id]) await cancelPolicy(id);
  state.policies = after;
  // Resilience needs failure events: the pool then runs a watcher of every host's Docker events.
  if (Object.values(after).some((p) => p.kind === 'resilience' && !p.error)) {
    try {
      await getExternalWorkflowHandle(inventoryWorkflowId(workflowInfo().taskQueue)).signal(watchHostsSignal);
    } catch {
      // No pool yet (never placed anything): the next deploy asks again.
    }
  }
}

/** Before a destroy: every policy of the app stops (ends with status `stopped`). */
export async function stopPolicies(state: PolicyHolder): Promise<void> {
  const ids = new Set(Object.keys(state.policies ?? {}));
  if (state.blueprint) for (const p of plannedPolicies(state.blueprint)) ids.add(p.workflowId);
  for (const id of ids) await cancelPolicy(id);
  if (state.policies) state.policies = {};
}
