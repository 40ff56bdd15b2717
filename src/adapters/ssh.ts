import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { inspect } from 'util';
import type { Duplex } from 'stream';
import Docker from 'dockerode';
import { Client, utils, type ClientChannel } from 'ssh2';
import type { SshEndpoint } from '../core/hosts';

/** What a command run on a host over SSH gave back. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * One persistent SSH connection per host (ssh2), carrying both Docker API requests (each one a
 * `direct-streamlocal` channel to the engine's unix socket, so no TCP port is exposed on the host
 * and a request costs no new handshake) and commands (`exec`).
 */
export interface SshSession {
  /** A dockerode client whose every request goes through this connection to `socketPath`. */
  docker(socketPath: string): Docker;
  exec(command: string, timeoutMs: number): Promise<ExecResult>;
  /**
   * Does `address:port`, as the host sees it, accept a TCP connection? (A `direct-tcpip` channel
   * opened by the host's sshd, closed at once: a readiness probe run from the host, as a kubelet's.)
   */
  tcpAnswers(address: string, port: number, timeoutMs: number): Promise<boolean>;
  onClose(listener: () => void): void;
  close(): Promise<void>;
  /** The host key fingerprint seen at connect (`SHA256:<base64>`): what `hostKey` pins. */
  hostKey: string;
}

export type SshErrorKind = 'unreachable' | 'auth' | 'hostKey' | 'keyFile' | 'timeout' | 'closed';

/**
 * A failure with a one-line message a CLI can print as is. `code` carries a Node-style connection
 * code where one applies, so Docker-error classification (`isConnectionError`) treats a dead
 * engine behind SSH like a dead local one.
 */
export class SshError extends Error {
  readonly kind: SshErrorKind;
  readonly code?: string;
  constructor(kind: SshErrorKind, message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'SshError';
    this.kind = kind;
    this.code = options?.code;
  }
}

/**
 * The one rule for a shared connection (every activity on a host uses it): an SSH failure drops
 * it, so the pool reconnects on next use — except a command that ran out of time, which says
 * nothing about the connection. A Docker error carried over a healthy connection never drops it.
 */
export function dropsConnection(err: unknown): boolean {
  return (err as Error)?.name === 'SshError' && (err as SshError).kind !== 'timeout';
}

export interface SshOptions {
  /** TCP connect + handshake + authentication. Default 5 s. */
  readyTimeoutMs?: number;
  /** Keep-alive probes: a silent host is declared gone after interval × 3. Default 5 s. */
  keepaliveIntervalMs?: number;
}

/** OpenSSH's fingerprint of a host key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

const normalise = (fingerprint: string) => fingerprint.trim().replace(/=+$/, '');

// Codes meaning "nothing answers there" (as opposed to "something answered and said no").
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
]);

const MAX_OUTPUT = 4 * 1024 * 1024;

/** The key file's bytes, checked up front so a bad file is its own error rather than a failed login. */
async function readKey(keyFile: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await fs.promises.readFile(keyFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SshError('keyFile', `cannot read SSH key ${keyFile} (${code})`, { cause: err });
  }
  const parsed = utils.parseKey(raw);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key)
    throw new SshError('keyFile', `SSH key ${keyFile} is not a usable private key (${key?.message})`);
  if (!key.isPrivateKey())
    throw new SshError('keyFile', `SSH key ${keyFile} is a public key: give the private key file`);
  return raw;
}

export async function openSshSession(endpoint: SshEndpoint, options: SshOptions = {}): Promise<SshSession> {
  const key = await readKey(endpoint.keyFile);
  const where = `${endpoint.host}:${endpoint.port}`;
  const client = new Client();
  let seen = '';
  let pinnedMismatch = false;

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: SshError) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      client.end();
      reject(err);
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('error');
      resolve();
    };
    client.once('ready', onReady);
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (pinnedMismatch)
        return fail(
          new SshError(
            'hostKey',
            `host key of ${where} changed (pinned ${endpoint.hostKey}, got ${seen}): ` +
              'if the host was reinstalled, remove and add it again',
          ),
        );
      if (err.level === 'client-authentication')
        return fail(
          new SshError(
            'auth',
            `SSH authentication as ${endpoint.user}@${endpoint.host} failed: the key ${endpoint.keyFile} is not accepted`,
            { cause: err },
          ),
        );
      if (err.level === 'client-timeout')
        return fail(
          new SshError(
            'unreachable',
            `cannot reach ${where} over SSH (no SSH handshake within ${(options.readyTimeoutMs ?? 5000) / 1000} s)`,
            { cause: err, code: 'ETIMEDOUT' },
          ),
        );
      if (err.code && UNREACHABLE_CODES.has(err.code))
        return fail(
          new SshError('unreachable', `cannot reach ${where} over SSH (${err.code})`, {
            cause: err,
            code: err.code,
          }),
        );
      // something answered but the SSH handshake failed (not an SSH server, no common algorithm)
      fail(
        new SshError('closed', `SSH handshake with ${where} failed (${err.message})`, {
          cause: err,
          code: 'ECONNRESET',
        }),
      );
    });
    client.once('close', () =>
      fail(
        new SshError('closed', `SSH connection to ${where} closed during the handshake`, {
          code: 'ECONNRESET',
        }),
      ),
    );
    client.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey: key,
      readyTimeout: options.readyTimeoutMs ?? 5000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 5000,
      keepaliveCountMax: 3,
      hostVerifier: (blob: Buffer) => {
        seen = fingerprintOf(blob);
        pinnedMismatch = !!endpoint.hostKey && normalise(endpoint.hostKey) !== seen;
        return !pinnedMismatch;
      },
    });
  });

  // Nagle would hold back each small request for ~40 ms waiting for the previous one's ACK.
  client.setNoDelay(true);
  return createSession(client, endpoint, seen);
}

/** The host key fingerprint of an SSH server (connects and authenticates, then disconnects). */
export async function fetchHostKey(endpoint: SshEndpoint, options?: SshOptions): Promise<string> {
  const session = await openSshSession({ ...endpoint, hostKey: undefined }, options);
  await session.close();
  return session.hostKey;
}

async function createSession(client: Client, endpoint: SshEndpoint, hostKey: string): Promise<SshSession> {
  const where = `${endpoint.host}:${endpoint.port}`;
  let closed = false;
  const listeners: Array<() => void> = [];
  const onGone = () => {
    if (closed) return;
    closed = true;
    for (const l of listeners.splice(0)) l();
  };
  client.on('close', onGone);
  client.on('end', onGone);
  // Late errors (keep-alive timeout, reset) arrive here; 'close' follows and tells the listeners.
  client.on('error', () => undefined);

  const dockers = new Map<string, Docker>();
  /** `open()` on the live connection, or a `closed` SshError once it has gone. */
  const whenOpen = <T>(open: () => Promise<T>): Promise<T> =>
    closed
      ? Promise.reject(new SshError('closed', `SSH connection to ${where} is closed`, { code: 'ECONNRESET' }))
      : open();
  const session: SshSession = {
    hostKey,
    docker(socketPath) {
      let d = dockers.get(socketPath);
      if (!d) {
        d = dockerOver(client, socketPath, endpoint.host, () => closed);
        dockers.set(socketPath, d);
      }
      return d;
    },
    exec(command, timeoutMs) {
      return whenOpen(() => execOver(client, command, timeoutMs, where, () => closed));
    },
    tcpAnswers(address, port, timeoutMs) {
      return whenOpen(() => tcpOver(client, address, port, timeoutMs));
    },
    onClose(listener) {
      if (closed) queueMicrotask(listener);
      else listeners.push(listener);
    },
    close() {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          client.destroy();
          resolve();
        }, 2000);
        client.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        client.end();
      });
    },
  };
  // OpenSSH's sshd sets TCP_NODELAY on the connection only when its first session starts; before
  // that a Docker response can wait ~40 ms for a delayed ACK (measured: first ping ~45 ms without
  // this exec, ~3 ms with it).
  try {
    await session.exec('true', 10_000);
  } catch (err) {
    client.end();
    throw err;
  }
  return session;
}

/**
 * dockerode over the connection: an HTTP agent whose "sockets" are SSH channels to the engine's
 * unix socket. keepAlive stays off: a channel serves one request and closes, so the agent never
 * pools channels that the server may already have closed.
 */
function dockerOver(client: Client, socketPath: string, host: string, isClosed: () => boolean): Docker {
  const agent = new http.Agent({ keepAlive: false });
  const connect = (_opts: unknown, cb: (err: Error | null, socket?: Duplex) => void) => {
    const unreachable = (why: string, code: string, cause?: unknown) => {
      const kind = isClosed() ? 'closed' : 'unreachable';
      cb(new SshError(kind, `Docker engine at ${socketPath} on ${host}: ${why}`, { cause, code }));
    };
    if (isClosed()) return unreachable('the SSH connection is closed', 'ECONNRESET');
    try {
      client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
        // sshd refuses the channel when nothing listens on the socket (engine down)
        if (err) return unreachable(`not answering (${err.message})`, 'ECONNREFUSED', err);
        cb(null, asSocket(channel));
      });
    } catch (err) {
      unreachable(`the SSH connection is closed (${(err as Error).message})`, 'ECONNRESET', err);
    }
  };
  (agent as unknown as { createConnection: typeof connect }).createConnection = connect;
  // docker-modem formats every request's options with util.inspect (all properties, unlimited
  // depth) whether or not its debug log is on. Through this agent that walked every open channel
  // and the whole SSH connection behind it: seconds per request once event and stats streams were
  // open, and a worker at 100% CPU.
  Object.defineProperty(agent, inspect.custom, { value: () => `[docker over ssh ${host}:${socketPath}]` });
  return new Docker({
    protocol: 'http',
    host: 'docker',
    port: 80,
    agent,
  } as Docker.DockerOptions);
}

// Node's HTTP client may call socket-only methods on what the agent returns; a channel has none.
function asSocket(channel: ClientChannel): Duplex {
  const s = channel as unknown as Record<string, unknown>;
  for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref'])
    if (typeof s[m] !== 'function') s[m] = () => channel;
  return channel;
}

function tcpOver(client: Client, address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, channel?: ClientChannel) => {
      channel?.close();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    try {
      // sshd answers "open failed" when the connection is refused or unreachable from the host.
      client.forwardOut('127.0.0.1', 0, address, port, (err, channel) => done(!err, channel));
    } catch {
      done(false);
    }
  });
}

function execOver(
  client: Client,
  command: string,
  timeoutMs: number,
  where: string,
  isClosed: () => boolean,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    let channelRef: ClientChannel | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Ask for the process to die, then drop the channel: sshd closes its pipes either way.
      channelRef?.signal('KILL');
      channelRef?.close();
      const what = command.split('\n')[0].slice(0, 80);
      reject(
        new SshError('timeout', `command on ${where} did not finish within ${timeoutMs / 1000} s: ${what}`),
      );
    }, timeoutMs);
    try {
      client.exec(command, (err, channel) => {
        if (err) {
          clearTimeout(timer);
          return reject(
            new SshError('closed', `cannot run a command on ${where} (${err.message})`, {
              cause: err,
              code: 'ECONNRESET',
            }),
          );
        }
        channelRef = channel;
        if (timedOut) return channel.close();
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let size = 0;
        const keep = (into: Buffer[]) => (chunk: Buffer) => {
          if (size < MAX_OUTPUT) into.push(chunk);
          size += chunk.length;
        };
        let code: number | undefined;
        channel.on('data', keep(out));
        channel.stderr.on('data', keep(errOut));
        // (null, signal name) when a signal ended it
        channel.on('exit', (c: number | null) => (code = c ?? -1));
        channel.on('close', () => {
          clearTimeout(timer);
          if (timedOut) return;
          if (code === undefined && isClosed())
            return reject(new SshError('closed', `SSH connection to ${where} closed while a command ran`));
          resolve({
            code: code ?? -1,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
          });
        });
        // No stdin: a command that reads it sees EOF instead of hanging.
        channel.end();
      });
    } catch (err) {
      clearTimeout(timer);
      reject(
        new SshError('closed', `SSH connection to ${where} is closed`, { cause: err, code: 'ECONNRESET' }),
      );
    }
  });
}
