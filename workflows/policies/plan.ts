import type { Blueprint } from '../../src/core/blueprint/model';
import { canonicalJson } from '../../src/core/hash';
import { autoscalerConfig, failureDetectorConfig, recoveryConfig } from '../../src/core/policy';
import {
  DEFAULT_AUTOSCALER_INTERVAL_MS,
  type AutoscalerPolicyInput,
  type AutoscalerReconfigure,
} from '../api/autoscaler';
import type { PolicyKind } from '../api/policies';
import { policyWorkflowId } from '../../src/core/names';
import type { ResiliencePolicyInput, ResilienceReconfigure } from '../api/resilience';

/**
 * Which policy workflows an app's blueprint asks for: per service, one `autoscalerPolicy` for an
 * `autoscaler` policy and one `resiliencePolicy` for `restarter` and/or `replacer` (with the
 * `failureDetector`'s delays when there is one). Pure, so the app
 * workflow computes it deterministically after every deploy, scale and heal.
 */

export type PolicyPlan =
  | {
      kind: 'autoscaler';
      service: string;
      workflowId: string;
      workflowType: 'autoscalerPolicy';
      input: AutoscalerPolicyInput;
      reconfigure: AutoscalerReconfigure;
      /** Changes when the configuration does: the app then sends `reconfigureSignal`. */
      fingerprint: string;
    }
  | {
      kind: 'resilience';
      service: string;
      workflowId: string;
      workflowType: 'resiliencePolicy';
      input: ResiliencePolicyInput;
      reconfigure: ResilienceReconfigure;
      fingerprint: string;
    }
  | { kind: PolicyKind; service: string; workflowId: string; error: string };

/** The policy config key for the evaluation period (`pollPeriod` in a blueprint). */
function configuredInterval(config: Record<string, unknown>): number | undefined {
  const v = config.pollPeriodMs ?? config.intervalMs;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Drops the keys only the workflow wrapper reads, so the pure config sees what it knows. */
function withoutInterval(config: Record<string, unknown>): Record<string, unknown> {
  const { pollPeriodMs: _p, intervalMs: _i, ...rest } = config;
  return rest;
}

function errorOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * @param intervalOverrideMs the deploy's `policyIntervalMs` option: wins over the blueprint's
 *   `pollPeriod` and the default (tests run policies in seconds).
 */
export function plannedPolicies(blueprint: Blueprint, intervalOverrideMs?: number): PolicyPlan[] {
  const plans: PolicyPlan[] = [];
  const app = blueprint.app;
  for (const service of blueprint.services) {
    const policies = service.policies ?? [];
    const autoscaler = policies.find((p) => p.type === 'autoscaler');
    if (autoscaler) {
      const workflowId = policyWorkflowId(app, service.id, 'autoscaler');
      try {
        const raw = withoutInterval(autoscaler.config);
        const config = autoscalerConfig(raw);
        const intervalMs =
          intervalOverrideMs ?? configuredInterval(autoscaler.config) ?? DEFAULT_AUTOSCALER_INTERVAL_MS;
        plans.push({
          kind: 'autoscaler',
          service: service.id,
          workflowId,
          workflowType: 'autoscalerPolicy',
          input: { app, service: service.id, config, intervalMs },
          reconfigure: { config: raw, intervalMs },
          fingerprint: canonicalJson({ config, intervalMs }),
        });
      } catch (err) {
        plans.push({ kind: 'autoscaler', service: service.id, workflowId, error: errorOf(err) });
      }
    }
    const restarter = policies.find((p) => p.type === 'restarter');
    const replacer = policies.find((p) => p.type === 'replacer');
    // A detector only delays what a restarter or replacer does: alone, it starts nothing.
    const detector = policies.find((p) => p.type === 'failureDetector');
    if (restarter || replacer) {
      const workflowId = policyWorkflowId(app, service.id, 'resilience');
      try {
        const input: ResiliencePolicyInput = {
          app,
          service: service.id,
          ...(restarter ? { restarter: recoveryConfig(restarter.config) } : {}),
          ...(replacer ? { replacer: recoveryConfig(replacer.config) } : {}),
          ...(detector ? { detector: failureDetectorConfig(detector.config) } : {}),
        };
        plans.push({
          kind: 'resilience',
          service: service.id,
          workflowId,
          workflowType: 'resiliencePolicy',
          input,
          reconfigure: {
            restarter: restarter?.config ?? null,
            replacer: replacer?.config ?? null,
            detector: detector?.config ?? null,
          },
          // Without a detector the fingerprint is what it was before detectors existed (running apps
          // are not reconfigured by an upgrade).
          fingerprint: canonicalJson({
            restarter: input.restarter,
            replacer: input.replacer,
            ...(input.detector ? { detector: input.detector } : {}),
          }),
        });
      } catch (err) {
        plans.push({ kind: 'resilience', service: service.id, workflowId, error: errorOf(err) });
      }
    }
  }
  return plans;
}

/** Every policy workflow ID the blueprint could have (for cancelling on destroy). */
export function possiblePolicyIds(blueprint: Blueprint | undefined): string[] {
  if (!blueprint) return [];
  return blueprint.services.flatMap((s) =>
    (s.policies ?? []).length > 0
      ? [
          policyWorkflowId(blueprint.app, s.id, 'autoscaler'),
          policyWorkflowId(blueprint.app, s.id, 'resilience'),
        ]
      : [],
  );
}
