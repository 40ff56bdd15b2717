/**
 * The live inventory for `berth plan` without `--inventory`: one host, `local`, from the local
 * Docker engine (capacity and labels from `info()`, Berth's containers by their `berth.*` labels).
 */
import Docker from 'dockerode';
import { LABEL } from '../core/names';
import type { HostContainer, HostSupply } from '../core/placement/types';

/** Docker reports engine labels as `key=value` strings. */
export function engineLabels(labels: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels ?? []) {
    const i = l.indexOf('=');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
    else if (l) out[l] = '';
  }
  return out;
}

export async function liveInventory(docker: Docker = new Docker()): Promise<HostSupply[]> {
  const info = (await docker.info()) as { NCPU?: number; MemTotal?: number; Labels?: string[] };
  const listed = await docker.listContainers({ all: false, filters: { label: [LABEL.app] } });
  const containers: HostContainer[] = listed.map((c) => ({
    app: c.Labels?.[LABEL.app] ?? '',
    service: c.Labels?.[LABEL.service] ?? '',
    image: c.Image,
  }));
  return [
    {
      id: 'local',
      cpus: info.NCPU ?? 1,
      memoryBytes: info.MemTotal ?? 0,
      labels: engineLabels(info.Labels),
      containers,
    },
  ];
}
