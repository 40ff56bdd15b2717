/**
 * How a changed service is rolled out: the `update:` block's policy (Swarm's `update_config`,
 * Nomad's `update`, a Kubernetes Deployment's strategy), its batches, and when a rollout has failed.
 * Pure, so the operation workflow decides and the tests pin the rules down.
 */

export type UpdateOrder = 'stop-first' | 'start-first';
export type FailureAction = 'rollback' | 'pause' | 'continue';

export interface UpdatePolicy {
  /** Instances replaced at once. */
  parallelism: number;
  /** `stop-first`: the old instance goes, then its replacement starts (same name and address).
   *  `start-first`: the replacement starts beside it (a new address), then the old one goes. */
  order: UpdateOrder;
  /** How long a new instance must stay ready before the rollout moves on. */
  minReadyMs: number;
  /** What a failed rollout does: roll every instance back, wait for a person, or carry on. */
  failureAction: FailureAction;
  /** The share of replaced instances that may fail before the rollout has failed (0: none). */
  maxFailureRatio: number;
  /** New-version instances started beside the old ones first; the rollout then waits to be promoted. */
  canary: number;
  /** Promote the canaries by themselves once every one has stayed ready this long. */
  autoPromoteMs?: number;
  /** How long an instance out of DNS keeps serving before it is stopped (requests in flight finish). */
  drainMs: number;
}

/**
 * Swarm's and Nomad's defaults where they agree (one at a time, the old one first, no canary),
 * Kubernetes' `minReadySeconds: 0`, and the issue's `rollback` on failure. The drain is Berth's:
 * long enough for a client that resolved the name a moment ago to have connected.
 */
export const DEFAULT_UPDATE_POLICY: UpdatePolicy = {
  parallelism: 1,
  order: 'stop-first',
  minReadyMs: 0,
  failureAction: 'rollback',
  maxFailureRatio: 0,
  canary: 0,
  drainMs: 1_000,
};

/** The service's policy: its own `update:` keys over the blueprint's, over the defaults. */
export function updatePolicyOf(
  service: Partial<UpdatePolicy> | undefined,
  blueprint: Partial<UpdatePolicy> | undefined,
): UpdatePolicy {
  return { ...DEFAULT_UPDATE_POLICY, ...blueprint, ...service };
}

/** Items in batches of `parallelism` (at least one per batch), in order. */
export function batches<T>(items: readonly T[], parallelism: number): T[][] {
  const size = Math.max(1, Math.floor(parallelism));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A rollout has failed once more than `maxFailureRatio` of the instances it replaces have failed. */
export function rolloutFailed(failed: number, total: number, maxFailureRatio: number): boolean {
  if (failed === 0) return false;
  return total === 0 || failed / total > maxFailureRatio;
}

/** How many canaries a rollout of `replacing` instances starts (never more than it replaces). */
export function canaryCount(policy: UpdatePolicy, replacing: number): number {
  return Math.max(0, Math.min(policy.canary, replacing));
}
