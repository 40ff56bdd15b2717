/**
 * Reading what an app's containers say, and running commands in them, from the machine that runs
 * Berth: client-side reads over the same engines the worker uses (the local one, and pool hosts
 * through their SSH-forwarded sockets, see `docker-pool.ts`). No workflow is involved.
 */
import type { Duplex, Readable, Writable } from 'stream';
import type Docker from 'dockerode';
import type { HostConnection } from '../core/hosts';
import { LABEL } from '../core/names';
import type { DockerPool } from './docker-pool';

/** One of an app's containers, and the engine it lives on. */
export interface AppContainer {
  id: string;
  service: string;
  instance: string;
  host: HostConnection | undefined;
  hostId: string;
  state: string;
  /** Unix seconds. */
  created: number;
}

/** The payloads of a whole multiplexed stream (Docker's 8-byte-header stdout/stderr frames), in order. */
export function demultiplexed(raw: Buffer): string {
  let output = '';
  for (let i = 0; i + 8 <= raw.length;) {
    const size = raw.readUInt32BE(i + 4);
    output += raw.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return output;
}

/** Every container of `app` (instances, replacements beside them) on each reachable host. */
export async function appContainersOn(
  pool: DockerPool,
  hosts: (HostConnection | undefined)[],
  app: string,
): Promise<AppContainer[]> {
  const filters = { label: [`${LABEL.app}=${app}`, `${LABEL.kind}=container`] };
  const found = await Promise.allSettled(
    hosts.map(async (host) => {
      const docker = await pool.docker(host);
      return (await docker.listContainers({ all: true, filters })).map((c) => ({
        id: c.Id,
        service: c.Labels[LABEL.service],
        instance: c.Labels[LABEL.instance],
        host,
        hostId: host?.id ?? 'local',
        state: c.State,
        created: c.Created,
      }));
    }),
  );
  return found
    .flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
    .sort((a, b) => a.instance.localeCompare(b.instance, 'en', { numeric: true }) || a.created - b.created);
}

export type StreamName = 'stdout' | 'stderr';

/**
 * Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, big-endian length; what the
 * engine sends for a container without a TTY), as frames, whatever the chunks it arrives in.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: StreamName, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      this.onFrame(this.pending[0] === 2 ? 'stderr' : 'stdout', this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
  }
}

/** A multiplexed stream as whole lines per stream. */
export class LineSplitter {
  private readonly reader = new FrameReader((stream, payload) => this.text(stream, payload.toString('utf8')));
  private partial: Record<StreamName, string> = { stdout: '', stderr: '' };

  constructor(private readonly onLine: (line: string, stream: StreamName) => void) {}

  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  private text(stream: StreamName, text: string): void {
    const lines = (this.partial[stream] + text).split('\n');
    this.partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.onLine(line.replace(/\r$/, ''), stream);
  }

  /** What is left without a final newline. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.onLine(this.partial[stream], stream);
      this.partial[stream] = '';
    }
  }
}

export interface LogOptions {
  follow: boolean;
  /** Lines from the end, per container. */
  tail?: number;
  /** Unix seconds (fractional). */
  since?: number;
}

/**
 * One container's log lines, each with its engine timestamp (RFC 3339, nanoseconds), until the
 * stream ends: at once without `follow`, when the container stops with it, or on `signal`.
 */
export async function containerLogLines(
  docker: Docker,
  id: string,
  options: LogOptions,
  onLine: (line: { at: string; text: string; stream: StreamName }) => void,
  signal?: AbortSignal,
): Promise<void> {
  const splitter = new LineSplitter((raw, stream) => {
    const space = raw.indexOf(' ');
    onLine({
      at: space > 0 ? raw.slice(0, space) : '',
      text: space > 0 ? raw.slice(space + 1) : raw,
      stream,
    });
  });
  const container = docker.getContainer(id);
  const common = {
    stdout: true,
    stderr: true,
    timestamps: true,
    ...(options.tail !== undefined ? { tail: options.tail } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
  };
  if (!options.follow) {
    const all = (await container.logs({ ...common, follow: false })) as unknown as Buffer;
    splitter.push(Buffer.isBuffer(all) ? all : Buffer.from(String(all)));
    splitter.end();
    return;
  }
  const stream = (await container.logs({ ...common, follow: true })) as unknown as Readable;
  // Aborted while the engine was answering: an 'abort' listener added now would never fire, and a
  // running container's stream never ends by itself.
  if (signal?.aborted) {
    stream.destroy();
    return;
  }
  await new Promise<void>((resolve) => {
    const stop = () => stream.destroy();
    signal?.addEventListener('abort', stop, { once: true });
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    const done = () => {
      signal?.removeEventListener('abort', stop);
      splitter.end();
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

export interface ExecIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  stdout: Writable & { columns?: number; rows?: number };
  stderr: Writable;
  /** A pseudo-terminal (when the caller's stdin is one): raw input, one output stream, resizes. */
  tty: boolean;
}

/**
 * Runs `cmd` in a container with the caller's stdin attached, like `docker compose exec`, and
 * resolves with its exit code. With `tty`, the terminal is raw for the command's life and its size
 * follows the caller's.
 */
export async function execInContainer(
  docker: Docker,
  id: string,
  cmd: string[],
  io: ExecIo,
): Promise<number> {
  const exec = await docker.getContainer(id).exec({
    Cmd: cmd,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: io.tty,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: io.tty })) as Duplex;
  const resize = () =>
    io.stdout.columns && io.stdout.rows
      ? exec.resize({ h: io.stdout.rows, w: io.stdout.columns }).catch(() => undefined)
      : undefined;
  if (io.tty) {
    io.stdin.setRawMode?.(true);
    void resize();
    process.on('SIGWINCH', resize);
  }
  const frames = new FrameReader((name, payload) =>
    (name === 'stderr' ? io.stderr : io.stdout).write(payload),
  );
  const finished = new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => (io.tty ? io.stdout.write(chunk) : frames.push(chunk)));
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
  const forward = (chunk: Buffer) => stream.write(chunk);
  io.stdin.on('data', forward);
  // A finished input (a pipe, a file) is the command's end of input too.
  const endInput = () => stream.end();
  io.stdin.once('end', endInput);
  io.stdin.resume();
  try {
    await finished;
  } finally {
    io.stdin.off('data', forward);
    io.stdin.off('end', endInput);
    io.stdin.pause();
    if (io.tty) {
      io.stdin.setRawMode?.(false);
      process.off('SIGWINCH', resize);
    }
  }
  // The exec ends a moment after its output does: ask until the engine has its exit code (bounded).
  for (let i = 0; i < 50; i++) {
    const state = await exec.inspect();
    if (!state.Running && state.ExitCode !== null && state.ExitCode !== undefined) return state.ExitCode;
    await new Promise((r) => setTimeout(r, 20));
  }
  return (await exec.inspect()).ExitCode ?? 1;
}
