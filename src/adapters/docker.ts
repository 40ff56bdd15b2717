import Docker from 'dockerode';
import { UserError } from '../core/errors';

/** Where the Docker engine is, as the user would write it. */
export function dockerTarget(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/** A dockerode client for DOCKER_HOST (unix://, tcp://) or the default socket. */
export function createDockerClient(target = dockerTarget()): Docker {
  if (target.startsWith('unix://')) return new Docker({ socketPath: target.slice('unix://'.length) });
  if (target.startsWith('tcp://') || target.startsWith('http://')) {
    const url = new URL(target.replace(/^tcp:/, 'http:'));
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  if (target.startsWith('/')) return new Docker({ socketPath: target });
  throw new UserError(
    `unsupported DOCKER_HOST '${target}': use unix:///path/to/docker.sock or tcp://host:port`,
  );
}

const CONNECTION_CODES = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/** True when the error means the engine could not be reached at all (as opposed to an API error). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

export function unreachableMessage(err: unknown, target = dockerTarget()): string {
  const code = (err as { code?: string })?.code ?? (err as Error)?.message;
  return `Docker engine unreachable at ${target} (${code}): start dockerd (scripts/setup.sh does) or set DOCKER_HOST`;
}

/** Fails with a one-line UserError when the engine does not answer. */
export async function pingDocker(docker: Docker, target = dockerTarget()): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new UserError(
      isConnectionError(err)
        ? unreachableMessage(err, target)
        : `Docker engine at ${target}: ${(err as Error).message}`,
    );
  }
}
