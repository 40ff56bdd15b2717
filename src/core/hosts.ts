/**
 * How Berth reaches a Docker host: plain data, kept in the inventory workflow's state and passed to
 * activities, which turn it into a client (`src/adapters/docker-pool.ts`).
 */

export type HostProvider = 'local' | 'ssh' | 'netns';

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** Private key file on the worker's machine. */
  keyFile: string;
  /** Host key fingerprint pinned when the host was added (`SHA256:<base64>`, as OpenSSH prints it). */
  hostKey?: string;
}

export interface HostConnection {
  /** Stable id, unique in the pool: `local`, or the name given at `hosts add` (default: the address). */
  id: string;
  provider: HostProvider;
  /** `ssh` and `netns` hosts: the engine is reached through one persistent SSH connection. */
  ssh?: SshEndpoint;
  /** The engine's socket on that host (default /var/run/docker.sock). */
  dockerSocket?: string;
  /** Address the other hosts reach this one at (swarm advertise address, registry). */
  address?: string;
}

export const LOCAL_HOST: HostConnection = { id: 'local', provider: 'local' };

/** Parses `ssh://user@host[:port]` (user defaults to root, port to 22). */
export function parseSshUrl(url: string): { user: string; host: string; port: number } | undefined {
  const m = /^ssh:\/\/(?:([^@/:]+)@)?(\[[^\]]+\]|[^/:@]+)(?::(\d+))?\/?$/.exec(url);
  if (!m) return undefined;
  const port = m[3] ? Number(m[3]) : 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { user: m[1] ?? 'root', host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** How a host is addressed, for messages: `local`, or `id (ssh://user@host:port)`. */
export function describeHost(host: HostConnection): string {
  if (!host.ssh) return host.id;
  return `${host.id} (ssh://${host.ssh.user}@${host.ssh.host}:${host.ssh.port})`;
}
