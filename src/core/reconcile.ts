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
  /**
   * Hash of what the container is given once references, secrets and the image digest are
   * resolved. Compared only with containers that carry one: those from before it was recorded are
   * current while `configHash` matches (an upgrade recreates nothing), unless `recreateUnrecorded`.
   */
  resolvedHash?: string;
  /** Containers without a resolved hash are out of date (they lack something new, e.g. mounts). */
  recreateUnrecorded?: boolean;
}

export interface LiveInstance {
  service: string;
  instance: string;
  id: string;
  state: string;
  configHash?: string;
  resolvedHash?: string;
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
  services: {
    id: string;
    replicas: number;
    configHash: string;
    resolvedHash?: string;
    recreateUnrecorded?: boolean;
  }[],
): DesiredInstance[] {
  return services.flatMap((s) =>
    Array.from({ length: s.replicas }, (_, i) => ({
      service: s.id,
      instance: instanceName(s.id, i + 1),
      configHash: s.configHash,
      ...(s.resolvedHash !== undefined ? { resolvedHash: s.resolvedHash } : {}),
      ...(s.recreateUnrecorded ? { recreateUnrecorded: true } : {}),
    })),
  );
}

/** Is the live container what the desired instance asks for? */
export function isCurrent(l: LiveInstance, d: DesiredInstance): boolean {
  if (l.configHash !== d.configHash) return false;
  if (d.resolvedHash === undefined) return true;
  return l.resolvedHash !== undefined ? l.resolvedHash === d.resolvedHash : !d.recreateUnrecorded;
}

export function reconcile(desired: DesiredInstance[], live: LiveInstance[]): ReconcilePlan {
  const byInstance = new Map<string, LiveInstance[]>();
  for (const l of live) byInstance.set(l.instance, [...(byInstance.get(l.instance) ?? []), l]);
  const plan: ReconcilePlan = { keep: [], start: [], recreate: [], create: [], remove: [] };
  const duplicates: LiveInstance[] = [];
  for (const d of desired) {
    const found = byInstance.get(d.instance) ?? [];
    byInstance.delete(d.instance);
    const l = bestOf(found, d);
    duplicates.push(...found.filter((x) => x !== l));
    if (!l) plan.create.push(d);
    else if (!isCurrent(l, d)) plan.recreate.push({ desired: d, live: l });
    else if (l.state !== 'running') plan.start.push(l);
    else plan.keep.push(l);
  }
  // Highest index first, so a scale-down removes the newest instances (like a ReplicaSet).
  plan.remove = [...[...byInstance.values()].flat(), ...duplicates].sort(
    (a, b) => instanceIndex(b.instance) - instanceIndex(a.instance),
  );
  return plan;
}

/**
 * Of the containers of one instance (two after a start-first replacement was interrupted), the one
 * to keep: up to date and running, else up to date, else running, else any. The others go.
 */
function bestOf(found: LiveInstance[], desired: DesiredInstance): LiveInstance | undefined {
  const current = (l: LiveInstance) => isCurrent(l, desired);
  const running = (l: LiveInstance) => l.state === 'running';
  return (
    found.find((l) => current(l) && running(l)) ?? found.find(current) ?? found.find(running) ?? found[0]
  );
}

export function instanceIndex(instance: string): number {
  const n = Number(instance.slice(instance.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : 0;
}
