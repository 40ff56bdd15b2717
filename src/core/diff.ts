/**
 * What applying a blueprint to a running app would change, instance by instance (`berth diff`,
 * like `nomad job plan` or `terraform plan`), and the replica counts a deploy keeps. Pure: the CLI
 * runs it on the app workflow's state, the app workflow runs `replicasFor` itself.
 */
import type { Blueprint, Service } from './blueprint/model';
import { canonicalJson } from './hash';
import { instanceName } from './names';
import { updatePolicyOf, type UpdatePolicy } from './rollout';

/**
 * A deploy keeps a service's current size (the autoscaler's, or a `berth scale`) unless the
 * blueprint's own count for it changed: `kubectl apply` beside an HPA. Returns the sizes and, in
 * words, what was kept.
 */
export function replicasFor(
  current: { blueprint?: Blueprint; replicas: Record<string, number> },
  next: Blueprint,
): { replicas: Record<string, number>; notes: string[] } {
  const replicas: Record<string, number> = {};
  const notes: string[] = [];
  for (const s of next.services) {
    const before = current.blueprint?.services.find((x) => x.id === s.id);
    const now = current.replicas[s.id];
    const keep = before !== undefined && before.replicas === s.replicas && now !== undefined;
    replicas[s.id] = keep ? now : s.replicas;
    if (keep && now !== s.replicas)
      notes.push(
        `${s.id}: keeping its ${now} instance(s) (the blueprint's count, ${s.replicas}, did not change)`,
      );
  }
  return { replicas, notes };
}

/** What a container of the service is made from: a change here replaces its instances. */
const CONTAINER_FIELDS = [
  'source',
  'command',
  'env',
  'ports',
  'volumes',
  'resources',
  'restart',
  'healthCheck',
  'stopSignal',
  'stopGracePeriodMs',
] as const;

export interface InstanceChange {
  service: string;
  instance: string;
  action: 'create' | 'replace' | 'remove' | 'keep';
  /** For `replace`: the service's fields that changed. */
  fields?: string[];
}

export interface ServiceRolloutPlan {
  service: string;
  replacing: number;
  policy: UpdatePolicy;
}

export interface AppDiff {
  instances: InstanceChange[];
  /** Service settings that change nothing in a container (placement, policies, update, DNS names). */
  settings: { service: string; fields: string[] }[];
  rollouts: ServiceRolloutPlan[];
  notes: string[];
  changed: boolean;
}

function changedFields(a: Service | undefined, b: Service, fields: readonly string[]): string[] {
  if (!a) return [];
  const get = (s: Service, f: string) => canonicalJson((s as unknown as Record<string, unknown>)[f] ?? null);
  return fields.filter((f) => get(a, f) !== get(b, f));
}

/**
 * The change from what runs (`current`: the applied blueprint, the current sizes, the instances
 * recorded) to `next`. A service gone from `next` has all its instances removed.
 */
export function diffApp(
  current: {
    blueprint?: Blueprint;
    replicas: Record<string, number>;
    instances: { service: string; instance: string }[];
  },
  next: Blueprint,
): AppDiff {
  const { replicas, notes } = replicasFor(current, next);
  const instances: InstanceChange[] = [];
  const settings: AppDiff['settings'] = [];
  const rollouts: ServiceRolloutPlan[] = [];
  const running = (service: string) =>
    current.instances.filter((i) => i.service === service).map((i) => i.instance);
  for (const s of next.services) {
    const before = current.blueprint?.services.find((x) => x.id === s.id);
    const fields = changedFields(before, s, CONTAINER_FIELDS);
    const other = changedFields(before, s, ['placement', 'affinity', 'policies', 'update', 'dnsNames']);
    if (other.length) settings.push({ service: s.id, fields: other });
    const have = new Set(running(s.id));
    const want = Array.from({ length: replicas[s.id] }, (_, i) => instanceName(s.id, i + 1));
    let replacing = 0;
    for (const instance of want) {
      if (!have.has(instance)) instances.push({ service: s.id, instance, action: 'create' });
      else if (fields.length) {
        instances.push({ service: s.id, instance, action: 'replace', fields });
        replacing++;
      } else instances.push({ service: s.id, instance, action: 'keep' });
    }
    for (const instance of [...have].filter((i) => !want.includes(i)).sort())
      instances.push({ service: s.id, instance, action: 'remove' });
    if (replacing) rollouts.push({ service: s.id, replacing, policy: updatePolicyOf(s.update, next.update) });
  }
  for (const s of current.blueprint?.services ?? [])
    if (!next.services.some((x) => x.id === s.id))
      for (const instance of running(s.id).sort())
        instances.push({ service: s.id, instance, action: 'remove' });
  const changed = instances.some((i) => i.action !== 'keep') || settings.length > 0 || !current.blueprint;
  return { instances, settings, rollouts, notes, changed };
}
