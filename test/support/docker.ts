import type Docker from 'dockerode';
import { createDockerClient } from '../../src/adapters/docker';
import { LABEL } from '../../src/core/names';

/**
 * Every app a test deploys is named `bt<pid>-...` (jest runs in band: one pid per run), so cleanup
 * finds exactly what this run made and never touches another run's apps.
 */
export const TEST_APP_PREFIX = `bt${process.pid}-`;

let counter = 0;
export function uniqueApp(stem: string): string {
  counter++;
  return `${TEST_APP_PREFIX}${stem}-${counter}`;
}

export const docker: Docker = createDockerClient();

export async function appContainers(app: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL.app}=${app}`] } });
}

export async function appNetworks(app: string): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`${LABEL.app}=${app}`] } });
}

/** Removes containers and networks of test apps (by label), even after a failed test. */
export async function removeTestApps(): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL.app] } });
  for (const c of containers.filter((c) => c.Labels[LABEL.app]?.startsWith(TEST_APP_PREFIX))) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
  const networks = await docker.listNetworks({ filters: { label: [LABEL.app] } });
  for (const n of networks.filter((n) => n.Labels?.[LABEL.app]?.startsWith(TEST_APP_PREFIX))) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  }
}
