import type Docker from 'dockerode';
import { createDockerClient } from '../../src/adapters/docker';
import { demultiplexed } from '../../src/adapters/logs';
import { LABEL } from '../../src/core/names';

/**
 * Every app a test deploys is named `bt<pid>-...` (jest runs in band: one pid per run), so cleanup
 * finds exactly what this run made and never touches another run's apps.
 */
export const TEST_APP_PREFIX = `bt${process.pid}-`;

/** Netns hosts of this run are `<prefix>-h<n>` (a prefix is at most 8 characters). */
export function multihostPrefix(): string {
  return `bm${process.pid % 100000}`.slice(0, 8);
}

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
  // Named volumes outlive a destroy (as with `docker compose down`): a test run leaves none.
  for (const v of await appVolumes()) {
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
  }
}

/** Named volumes of this run's test apps (of `app` when given). */
export async function appVolumes(app?: string): Promise<Docker.VolumeInspectInfo[]> {
  const { Volumes } = await docker.listVolumes({
    filters: { label: [app ? `${LABEL.app}=${app}` : LABEL.app] },
  });
  return (Volumes ?? []).filter((v) => v.Labels?.[LABEL.app]?.startsWith(TEST_APP_PREFIX));
}

/** Runs a command in a container (on `engine`, default the local one): exit code and combined output. */
export async function execIn(
  id: string,
  cmd: string[],
  engine: Docker = docker,
): Promise<{ code: number; output: string }> {
  const exec = await engine.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
  const output = demultiplexed(Buffer.concat(chunks));
  return { code: (await exec.inspect()).ExitCode ?? -1, output };
}
