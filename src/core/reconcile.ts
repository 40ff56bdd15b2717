/**
 * Reconciliation, the heart of deploy, scale and heal: from the desired instances and what runs,
 * what to create, start, recreate and remove. Pure and deterministic.
 */
import { instanceName } from './names';

export interface DesiredInstance {
  service: string;
  instance: string;
  /** Hash of the container's configuration; a live container with another hash is recreated. */
  configHash: string;
}

export interface LiveInstance {
  service: string;
  instance: string;
  id: string;
  state: string;
  configHash?: string;
}

export interface ReconcilePlan {
  keep: LiveInstance[];
  start: LiveInstance[];
  recreate: { desired: DesiredInstance; live: LiveInstance }[];
  create: DesiredInstance[];
  remove: LiveInstance[];
}

/** Instances `<service>-1..n` per service, in the given service order. */
export function desiredInstances(
  services: { id: string; replicas: number; configHash: string }[],
): DesiredInstance[] {
  return services.flatMap((s) =>
    Array.from({ length: s.replicas }, (_, i) => ({
      service: s.id,
      instance: instanceName(s.id, i + 1),
      configHash: s.configHash,
    })),
  );
}

export function reconcile(desired: DesiredInstance[], live: LiveInstance[]): ReconcilePlan {
  const byInstance = new Map(live.map((l) => [l.instance, l]));
  const plan: ReconcilePlan = { keep: [], start: [], recreate: [], create: [], remove: [] };
  for (const d of desired) {
    const l = byInstance.get(d.instance);
    byInstance.delete(d.instance);
    if (!l) plan.create.push(d);
    else if (l.configHash !== d.configHash) plan.recreate.push({ desired: d, live: l });
    else if (l.state !== 'running') plan.start.push(l);
    else plan.keep.push(l);
  }
  // Highest index first, so a scale-down removes the newest instances (like a ReplicaSet).
  plan.remove = [...byInstance.values()].sort(
    (a, b) => instanceIndex(b.instance) - instanceIndex(a.instance),
  );
  return plan;
}

export function instanceIndex(instance: string): number {
  const n = Number(instance.slice(instance.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : 0;
}
