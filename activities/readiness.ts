import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { isLocal } from '../src/adapters/docker-pool';
import { Failure } from '../src/core/failures';
import type { ForwardedPort, ReadinessCheck, ReadyContainer } from '../workflows/api/containers';
import { heartbeat, type HostCalls } from './common';
import { isNotFound } from './docker-errors';

/**
 * Readiness, as a kubelet probes a pod: a health command inside the container, or a TCP port —
 * reached by the worker for a local container, opened by the host's own sshd for a remote one.
 */
export function createReadinessActivities({ pool, guarded }: HostCalls) {
  return {
    /**
     * Waits, bounded by `timeoutMs`, until the container is ready: its check command exits 0, or its
     * port accepts a TCP connection, or (with neither) it is running. Heartbeats while it waits.
     */
    async waitReady(check: ReadinessCheck): Promise<ReadyContainer> {
      const host = check.host;
      const docker = await guarded('connect', () => pool.docker(host), host);
      const deadline = Date.now() + check.timeoutMs;
      let last = 'not checked yet';
      for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, check.intervalMs));
        heartbeat(last);
        const state = await guarded('inspect container', () => docker.getContainer(check.id).inspect(), host);
        if (!state.State.Running) {
          last = `container is ${state.State.Status} (exit code ${state.State.ExitCode})`;
          if (state.State.Status === 'exited' && attempt > 2) break;
          continue;
        }
        if (check.command) {
          const code = await guarded(
            'run health check',
            () => execExitCode(docker, check.id, check.command!),
            host,
          );
          if (code === 0) return readyOf(state);
          last = `health check '${check.command.join(' ')}' exited ${code}`;
        } else if (check.port && check.address) {
          // The worker reaches a local container's own address. A remote host is probed from the
          // host itself (its sshd opens the connection, as a kubelet probes a pod): the port it
          // forwards, else the container's address on docker_gwbridge, which an overlay network
          // gives every container; with neither the container counts as ready once it runs.
          const target = isLocal(host)
            ? { address: check.address, port: check.port }
            : (forwardedTarget(state, check.port) ??
              (await guarded(
                'inspect docker_gwbridge',
                () => gatewayTarget(docker, state.Id, check.port!),
                host,
              )));
          if (!target) return readyOf(state);
          const timeoutMs = Math.min(1000, check.intervalMs * 4);
          const answers = await guarded(
            'probe port',
            () => pool.tcpAnswers(host, target.address, target.port, timeoutMs),
            host,
          );
          if (answers) return readyOf(state);
          last = `port ${check.port} on ${target.address}:${target.port} does not answer`;
        } else {
          return readyOf(state);
        }
      }
      throw ApplicationFailure.nonRetryable(
        `container ${check.id.slice(0, 12)} not ready: ${last}`,
        Failure.NotReady,
      );
    },
  };
}

async function execExitCode(docker: Docker, id: string, command: string[]): Promise<number> {
  const exec = await docker.getContainer(id).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
    stream.resume();
  });
  const inspected = await exec.inspect();
  return inspected.ExitCode ?? -1;
}

/** Where a container's port is forwarded on its host, as the host itself reaches it. */
function forwardedTarget(
  state: Docker.ContainerInspectInfo,
  port: number,
): { address: string; port: number } | undefined {
  const bindings = (state.NetworkSettings?.Ports ?? {}) as Record<
    string,
    { HostIp: string; HostPort: string }[] | null
  >;
  const binding = (bindings[`${port}/tcp`] ?? [])[0];
  if (!binding?.HostPort) return undefined;
  const address = !binding.HostIp || binding.HostIp === '0.0.0.0' ? '127.0.0.1' : binding.HostIp;
  return { address, port: Number(binding.HostPort) };
}

/** The container's address on its host's docker_gwbridge (present when it is on an overlay network). */
async function gatewayTarget(
  docker: Docker,
  containerId: string,
  port: number,
): Promise<{ address: string; port: number } | undefined> {
  let info: { Containers?: Record<string, { IPv4Address?: string }> };
  try {
    info = (await docker.getNetwork('docker_gwbridge').inspect()) as typeof info;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const address = info.Containers?.[containerId]?.IPv4Address?.split('/')[0];
  return address ? { address, port } : undefined;
}

/** The ports a container's host forwards to it, as `docker port` lists them. */
export function forwardedPorts(state: Docker.ContainerInspectInfo): ForwardedPort[] {
  const bindings = (state.NetworkSettings?.Ports ?? {}) as Record<
    string,
    { HostIp: string; HostPort: string }[] | null
  >;
  return Object.entries(bindings).flatMap(([key, list]) => {
    const [port, protocol] = key.split('/');
    return (list ?? [])
      .filter((b) => b.HostPort)
      .map((b) => ({ container: Number(port), protocol, hostIp: b.HostIp, hostPort: Number(b.HostPort) }));
  });
}

function readyOf(state: Docker.ContainerInspectInfo): ReadyContainer {
  return { ports: forwardedPorts(state) };
}
