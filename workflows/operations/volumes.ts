/**
 * Named volumes in a convergence: an instance whose volumes exist goes back to the host holding
 * them (the `volumeHost` placement filter), and waits when that host is gone rather than coming
 * back empty elsewhere, unless a heal was told it may lose the data (`--allow-data-loss`).
 */
import type { Blueprint } from '../../src/core/blueprint/model';
import type { HostConnection } from '../../src/core/hosts';
import type { ContainerDemand, Unplaced } from '../../src/core/placement';
import { namedVolumes } from '../../src/core/volumes';
import type { InstanceRecord, WaitingInstance } from '../api/operations';
import type { dockerActivities } from '../activity-options';

/** Services whose instances own named volumes, with those volumes' names. */
export function volumesByService(blueprint: Blueprint): Record<string, string[]> {
  return Object.fromEntries(
    blueprint.services
      .map((s) => [s.id, namedVolumes(s.volumes)] as const)
      .filter(([, volumes]) => volumes.length > 0),
  );
}

/**
 * Instance → the host holding its named volumes: what the app recorded (it moves only with
 * `--allow-data-loss`), else what the reachable engines hold (volumes made before it was recorded).
 */
export async function volumeHostsOf(
  docker: ReturnType<typeof dockerActivities>,
  app: string,
  hosts: HostConnection[],
  recorded: Record<string, string> | undefined,
): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const v of await docker.listAppVolumes(app, hosts)) found[v.instance] ??= v.host;
  return { ...found, ...recorded };
}

/** The demand, with every instance whose volumes exist pinned to their host. */
export function pinDemand(
  demand: ContainerDemand[],
  volumes: Record<string, string[]>,
  volumeHosts: Record<string, string>,
): ContainerDemand[] {
  return demand.map((c) => {
    const host = volumeHosts[c.instance];
    const names = volumes[c.service];
    return host && names ? { ...c, volumeHost: { host, volumes: names } } : c;
  });
}

/** The pinned instances placement could not place (all of them, or undefined when others failed too). */
export function pinnedUnplaced(
  demand: ContainerDemand[],
  unplaced: Unplaced[],
): { container: ContainerDemand; reason: string }[] | undefined {
  const pinned = unplaced.map((u) => ({
    container: demand.find((c) => c.instance === u.instance && c.volumeHost)!,
    reason: u.reason,
  }));
  return pinned.every((p) => p.container) ? pinned : undefined;
}

export function waitingOf(pinned: { container: ContainerDemand; reason: string }[]): WaitingInstance[] {
  return pinned.map(({ container, reason }) => ({
    service: container.service,
    instance: container.instance,
    host: container.volumeHost!.host,
    volumes: container.volumeHost!.volumes,
    reason,
  }));
}

/** What the app records after a convergence: every instance that ran with named volumes, and where. */
export function recordVolumeHosts(
  before: Record<string, string>,
  volumes: Record<string, string[]>,
  records: InstanceRecord[],
): Record<string, string> {
  const after = { ...before };
  for (const r of records) if (volumes[r.service]) after[r.instance] = r.host;
  return after;
}
