import * as net from 'net';
import type Docker from 'dockerode';
import type { HostConnection } from '../core/hosts';
import { openSshSession, type ExecResult, type SshSession } from './ssh';

/**
 * One Docker client per host, kept for the worker's life: the local engine, or an engine behind one
 * persistent SSH connection (see `ssh.ts`). Activities ask the pool for the host they act on.
 */
export interface DockerPool {
  /** The client for `host` (undefined or `local`: the local engine). Connects on first use. */
  docker(host?: HostConnection): Promise<Docker>;
  /** Runs a command on the host (ssh and netns hosts only), bounded by `timeoutMs`. */
  exec(host: HostConnection, command: string, timeoutMs?: number): Promise<ExecResult>;
  /**
   * Does `address:port` accept a TCP connection, tried from the host itself (the worker for the
   * local engine, the host's sshd for the others)? Bounded by `timeoutMs`.
   */
  tcpAnswers(
    host: HostConnection | undefined,
    address: string,
    port: number,
    timeoutMs: number,
  ): Promise<boolean>;
  /** Drops a host's connection (after it failed, or when it is removed). */
  forget(hostId: string): void;
  close(): Promise<void>;
}

export function isLocal(host?: HostConnection): boolean {
  return !host || host.provider === 'local';
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function createDockerPool(local: Docker): DockerPool {
  const sessions = new Map<string, Promise<SshSession>>();
  const session = (host: HostConnection): Promise<SshSession> => {
    if (!host.ssh) throw new Error(`host ${host.id} has no SSH endpoint`);
    let s = sessions.get(host.id);
    if (!s) {
      s = openSshSession(host.ssh);
      sessions.set(host.id, s);
      // A failed or closed connection is dropped, so the next call reconnects.
      s.then(
        (open) => open.onClose(() => sessions.get(host.id) === s && sessions.delete(host.id)),
        () => sessions.get(host.id) === s && sessions.delete(host.id),
      );
    }
    return s;
  };
  return {
    async docker(host) {
      if (isLocal(host)) return local;
      return (await session(host!)).docker(host!.dockerSocket ?? DEFAULT_SOCKET);
    },
    async exec(host, command, timeoutMs = 60_000) {
      return (await session(host)).exec(command, timeoutMs);
    },
    async tcpAnswers(host, address, port, timeoutMs) {
      if (isLocal(host)) return localTcpAnswers(address, port, timeoutMs);
      return (await session(host!)).tcpAnswers(address, port, timeoutMs);
    },
    forget(hostId) {
      const s = sessions.get(hostId);
      sessions.delete(hostId);
      s?.then((open) => open.close()).catch(() => undefined);
    },
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.then((open) => open.close()).catch(() => undefined)));
    },
  };
}

function localTcpAnswers(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
