import * as fs from 'fs';
import * as path from 'path';
import type { Readable } from 'stream';
import type Docker from 'dockerode';
import * as tar from 'tar-stream';
import { UserError } from '../core/errors';
import {
  BUILDER_COMMAND,
  builderContainerName,
  commitChanges,
  describeEntityStep,
  entityBuildSteps,
  splitImageRef,
} from '../core/images';
import { LABEL } from '../core/names';
import type { RegistryAuth } from './registry-auth';

/**
 * Images for real: Dockerfile builds (an in-memory tar context, Docker's legacy builder), Clocker's
 * entity builds (a builder container, `docker exec` per step, `docker commit`), and pushes to and
 * pulls from a registry (Berth's own runs from `registry.ts`).
 *
 * Long operations report every progress line to `onProgress` (activities heartbeat from it) and
 * stop when `signal` aborts. Nothing here knows about Temporal.
 */

/** A build that failed because of its definition (a step exited non-zero, a bad Dockerfile). */
export class ImageBuildError extends Error {
  constructor(
    message: string,
    /** The failing step as Docker names it (`Step 3/5 : RUN false`), when known. */
    readonly step: string | undefined,
    /** Docker's (or the step's) own message. */
    readonly reason: string,
    /** The last lines of output before the failure. */
    readonly output: string[],
  ) {
    super(message);
    this.name = 'ImageBuildError';
  }
}

/** An image a build needs (an entity's base) is not on the engine; Berth does not pull it from anywhere. */
export class MissingImageError extends Error {
  constructor(readonly image: string) {
    super(`image '${image}' is not on the Docker engine`);
    this.name = 'MissingImageError';
  }
}

/** A Dockerfile that could not be read or fetched; `retryable` when the cause may pass (5xx, network). */
export class DockerfileUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DockerfileUnavailableError';
  }
}

/** A registry push or pull that Docker reported as failed (the stream's `{error}` line). */
export class RegistryTransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryTransferError';
  }
}

export interface ProgressOptions {
  /** Called with every progress line (build output, step names, push/pull status). */
  onProgress?: (line: string) => void;
  /** Aborts the operation (the build request is closed, the builder container removed). */
  signal?: AbortSignal;
}

const OUTPUT_TAIL = 20;

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

/** Docker's own message of a dockerode error, without dockerode's `(HTTP code 400) unexpected - ` prefix. */
function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: string } | null }).json;
  if (json?.message) return json.message.trim();
  const message = (err as Error).message ?? String(err);
  return message.replace(/^\(HTTP code \d+\)\s+[^-]*-\s*/, '').trim();
}

/** The image's inspect data, or undefined when the engine does not have it. */
export async function inspectImage(
  docker: Docker,
  ref: string,
): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted${reason ? `: ${String(reason)}` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// JSON progress streams

export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
}

/**
 * Reads a Docker JSON-lines progress stream (build, push, pull), which arrives in arbitrary chunks.
 * Unlike dockerode's `followProgress`, an `{error, errorDetail}` line is returned as the failure:
 * `onEvent` sees every event, and the first error event ends the read.
 */
export async function followJsonStream(
  stream: NodeJS.ReadableStream,
  onEvent: (event: ProgressEvent) => void,
  signal?: AbortSignal,
): Promise<ProgressEvent | undefined> {
  let pending = '';
  const handle = (line: string): ProgressEvent | undefined => {
    const text = line.trim();
    if (!text) return undefined;
    let event: ProgressEvent;
    try {
      event = JSON.parse(text) as ProgressEvent;
    } catch {
      event = { stream: `${text}\n` };
    }
    onEvent(event);
    return event.error || event.errorDetail ? event : undefined;
  };
  const destroy = () => (stream as Readable).destroy?.();
  signal?.addEventListener('abort', destroy, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const failed = handle(line);
        if (failed) {
          destroy();
          return failed;
        }
      }
    }
    return handle(pending);
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', destroy);
  }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile builds

/** A build context as an in-memory tar stream: the Dockerfile plus any extra files. */
export function buildContext(
  dockerfile: string,
  files: Record<string, string | Buffer> = {},
): NodeJS.ReadableStream {
  const pack = tar.pack();
  const mtime = new Date(0); // the context's bytes depend on its content alone
  for (const [name, content] of Object.entries(files)) {
    const clean = path.posix.normalize(name).replace(/^\/+/, '');
    if (clean.startsWith('..') || clean === 'Dockerfile')
      throw new UserError(`build context file '${name}' must be a relative path inside the context`);
    pack.entry({ name: clean, mode: 0o644, mtime }, content);
  }
  pack.entry({ name: 'Dockerfile', mode: 0o644, mtime }, dockerfile);
  pack.finalize();
  // tar-stream 3 packs are streamx streams: they pipe like Node's, which is all dockerode does with them.
  return pack as unknown as NodeJS.ReadableStream;
}

export interface DockerfileBuild extends ProgressOptions {
  /** The Dockerfile's text. */
  dockerfile: string;
  tag: string;
  labels: Record<string, string>;
  /** Extra files of the build context (relative path → content). */
  contextFiles?: Record<string, string | Buffer>;
}

/**
 * Builds a Dockerfile with the engine's legacy builder (the API's default, whatever DOCKER_BUILDKIT
 * says) and tags it. A failing step raises ImageBuildError naming the step and Docker's message;
 * intermediate containers are always removed (`forcerm`). Always builds: Docker's cache makes a
 * rebuild of an unchanged Dockerfile cheap, and callers check for the tag first.
 */
export async function buildFromDockerfile(
  docker: Docker,
  build: DockerfileBuild,
): Promise<{ image: string; id: string }> {
  const context = buildContext(build.dockerfile, build.contextFiles);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(context, {
      t: build.tag,
      labels: build.labels,
      rm: true,
      forcerm: true,
      ...(build.signal ? { abortSignal: build.signal } : {}),
    });
  } catch (err) {
    if (build.signal?.aborted) throw abortError(build.signal);
    // 400: the daemon rejected the Dockerfile itself (parse error, unknown instruction).
    if (statusOf(err) === 400) {
      const reason = dockerMessage(err);
      throw new ImageBuildError(`the Dockerfile was rejected: ${reason}`, undefined, reason, []);
    }
    throw err;
  }
  let step: string | undefined;
  let stepOutput: string[] = [];
  let id: string | undefined;
  const failed = await followJsonStream(
    stream,
    (event) => {
      if (event.aux?.ID) id = event.aux.ID;
      if (event.stream === undefined) return;
      for (const line of event.stream.split('\n')) {
        const text = line.replace(/\r$/, '');
        if (!text.trim()) continue;
        build.onProgress?.(text);
        if (/^Step \d+\/\d+ : /.test(text)) {
          step = text.trim();
          stepOutput = [];
        } else if (!/^ ---> /.test(text) && !/^Removing intermediate container /.test(text)) {
          stepOutput.push(text);
          if (stepOutput.length > OUTPUT_TAIL) stepOutput.shift();
        }
      }
    },
    build.signal,
  );
  if (failed) {
    const reason = (failed.errorDetail?.message ?? failed.error ?? 'unknown error').trim();
    const message = step ? `${step}: ${reason}` : reason;
    throw new ImageBuildError(message, step, reason, stepOutput);
  }
  const inspected = await docker.getImage(build.tag).inspect();
  return { image: build.tag, id: id ?? inspected.Id };
}

const MAX_DOCKERFILE_BYTES = 1024 * 1024;

/**
 * A Dockerfile from an http(s) URL. A 4xx (or a redirect loop, a non-http URL, an oversized body)
 * is the user's error; a network failure or a 5xx may pass and is marked retryable.
 */
export async function fetchDockerfile(url: string, timeoutMs = 30_000): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DockerfileUnavailableError(`'${url}' is not a URL`, false);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new DockerfileUnavailableError(`Dockerfile URL ${url}: only http and https are supported`, false);
  let response: Response;
  try {
    response = await fetch(parsed, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new DockerfileUnavailableError(`cannot fetch the Dockerfile at ${url}: ${why}`, true);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new DockerfileUnavailableError(
      `cannot fetch the Dockerfile at ${url}: HTTP ${response.status} ${response.statusText}`.trim(),
      response.status >= 500 || response.status === 429,
    );
  }
  const text = await response.text();
  if (Buffer.byteLength(text) > MAX_DOCKERFILE_BYTES)
    throw new DockerfileUnavailableError(`the Dockerfile at ${url} is larger than 1 MiB`, false);
  return text;
}

/** A Dockerfile on this machine's disk, relative to the blueprint's directory when not absolute. */
export function readDockerfile(file: string, blueprintDir?: string): string {
  if (!path.isAbsolute(file) && !blueprintDir)
    throw new DockerfileUnavailableError(
      `Dockerfile path '${file}' is relative and no blueprint directory was given (the CLI inlines local Dockerfiles)`,
      false,
    );
  const full = path.resolve(blueprintDir ?? '/', file);
  try {
    const stat = fs.statSync(full);
    if (!stat.isFile()) throw new DockerfileUnavailableError(`${full} is not a file`, false);
    if (stat.size > MAX_DOCKERFILE_BYTES)
      throw new DockerfileUnavailableError(`${full} is larger than 1 MiB`, false);
    return fs.readFileSync(full, 'utf8');
  } catch (err) {
    if (err instanceof DockerfileUnavailableError) throw err;
    throw new DockerfileUnavailableError(
      `cannot read the Dockerfile ${full} on this worker: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      false,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Entity builds (Clocker: run the base image, install into it, commit it)

export interface EntityBuild extends ProgressOptions {
  base: string;
  install: string[];
  customize: string[];
  launch?: string;
  tag: string;
  /** Labels of the committed image (the builder container gets them too, with `berth.kind=builder`). */
  labels: Record<string, string>;
}

const MAX_EXEC_OUTPUT = 64 * 1024;

/**
 * Runs `argv` in a running container; returns its exit code and the last lines of its combined
 * output. Docker multiplexes stdout/stderr in frames with 8-byte headers (no TTY), which may be split
 * across chunks.
 */
async function execIn(
  docker: Docker,
  container: Docker.Container,
  argv: string[],
  onLine?: (line: string) => void,
): Promise<{ exitCode: number; output: string[] }> {
  const exec = await container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await exec.start({ hijack: true, stdin: false });
  let pending = Buffer.alloc(0);
  let text = '';
  let partialLine = '';
  const payload = (data: Buffer) => {
    const s = data.toString('utf8');
    text = (text + s).slice(-MAX_EXEC_OUTPUT);
    if (onLine) {
      const lines = (partialLine + s).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    }
  };
  await new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4);
        if (pending.length < 8 + size) break;
        payload(pending.subarray(8, 8 + size));
        pending = pending.subarray(8 + size);
      }
    });
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  // The stream can end a moment before the daemon records the exit code.
  let info = await exec.inspect();
  for (let i = 0; i < 100 && info.Running; i++) {
    await new Promise((r) => setTimeout(r, 20));
    info = await exec.inspect();
  }
  const output = text.split('\n').filter((l) => l.trim() !== '');
  return { exitCode: info.Running ? -1 : (info.ExitCode ?? -1), output: output.slice(-OUTPUT_TAIL) };
}

async function removeContainer(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getContainer(name).remove({ force: true, v: true });
  } catch (err) {
    // 404: gone already; 409: removal already in progress (a concurrent attempt's cleanup).
    if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
  }
}

/**
 * Clocker's entity build: the base image runs as a builder container (`berth-build-<tag>`, label
 * `berth.kind=builder`; a leftover of a crashed attempt is removed first), every install then
 * customize command runs in it with `sh -c`, and the container is committed to `tag` with
 * `CMD ["sh","-c",launch]` and the labels. The builder is always removed. Idempotent: when `tag`
 * exists it is returned without building (`built: false`).
 */
export async function buildEntity(
  docker: Docker,
  build: EntityBuild,
): Promise<{ image: string; id: string; built: boolean }> {
  const existing = await inspectImage(docker, build.tag);
  if (existing) return { image: build.tag, id: existing.Id, built: false };
  let base: Docker.ImageInspectInfo;
  try {
    base = await docker.getImage(build.base).inspect();
  } catch (err) {
    if (statusOf(err) === 404) throw new MissingImageError(build.base);
    throw err;
  }
  const name = builderContainerName(build.tag);
  await removeContainer(docker, name);
  const { signal } = build;
  if (signal?.aborted) throw abortError(signal);
  const container = await docker.createContainer({
    name,
    Image: build.base,
    // No entrypoint (a base image's would swallow the command); committed images then have none either.
    Entrypoint: [''],
    Cmd: BUILDER_COMMAND,
    Labels: { ...build.labels, [LABEL.kind]: 'builder' },
    HostConfig: { AutoRemove: false },
  });
  const kill = () => void removeContainer(docker, name).catch(() => undefined);
  signal?.addEventListener('abort', kill, { once: true });
  try {
    try {
      await container.start();
    } catch (err) {
      const reason = dockerMessage(err);
      // A base image without a shell cannot be an entity's base: the definition's error, not Docker's.
      if (/executable file not found|no such file or directory/i.test(reason))
        throw new ImageBuildError(
          `the base image '${build.base}' cannot run sh (entity builds run their commands with sh -c): ${reason}`,
          undefined,
          reason,
          [],
        );
      throw err;
    }
    for (const step of entityBuildSteps(build)) {
      const label = describeEntityStep(step);
      build.onProgress?.(label);
      let result: { exitCode: number; output: string[] };
      try {
        result = await execIn(docker, container, step.argv, build.onProgress);
      } catch (err) {
        // Aborting removes the builder under the running exec: report the abort, not the 404.
        throw signal?.aborted ? abortError(signal) : err;
      }
      if (signal?.aborted) throw abortError(signal);
      const { exitCode, output } = result;
      if (exitCode !== 0) {
        const reason = `'${step.command}' returned a non-zero code: ${exitCode}`;
        const tail = output.length > 0 ? `; last output:\n${output.join('\n')}` : '';
        throw new ImageBuildError(`${label}: ${reason}${tail}`, label, reason, output);
      }
    }
    const { repository, tag } = splitImageRef(build.tag);
    const changes = commitChanges({
      launch: build.launch,
      base: { entrypoint: base.Config?.Entrypoint as string[] | null, cmd: base.Config?.Cmd },
      labels: build.labels,
    });
    build.onProgress?.(`commit ${build.tag}`);
    const committed = (await container.commit({ repo: repository, tag, changes, pause: true })) as {
      Id: string;
    };
    return { image: build.tag, id: committed.Id, built: true };
  } finally {
    signal?.removeEventListener('abort', kill);
    await removeContainer(docker, name).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Registry transfers

/** Credentials for a private registry (sent as X-Registry-Auth; none for Berth's loopback registry). */
export type { RegistryAuth } from './registry-auth';

async function followTransfer(
  what: string,
  stream: NodeJS.ReadableStream,
  options: ProgressOptions,
): Promise<string | undefined> {
  let digest: string | undefined;
  const failed = await followJsonStream(
    stream,
    (event) => {
      if (event.aux?.Digest) digest = event.aux.Digest;
      if (event.status) options.onProgress?.(`${event.id ? `${event.id}: ` : ''}${event.status}`);
    },
    options.signal,
  );
  if (failed)
    throw new RegistryTransferError(`${what}: ${(failed.errorDetail?.message ?? failed.error ?? '').trim()}`);
  return digest;
}

/**
 * Tags `localRef` as `<registry>/<repository>:<tag>` and pushes it. Docker treats 127.0.0.0/8
 * registries as insecure (plain HTTP) by default; other hosts need `insecure-registries` or TLS.
 * Pushing again is cheap (the registry already has every layer) and returns the same digest.
 */
export async function pushImage(
  docker: Docker,
  localRef: string,
  registry: string,
  options: ProgressOptions & { auth?: RegistryAuth } = {},
): Promise<{ ref: string; digest?: string }> {
  const host = registry.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  const { repository, tag } = splitImageRef(localRef);
  const target = `${host}/${repository}`;
  await docker.getImage(localRef).tag({ repo: target, tag });
  const stream = await docker.getImage(target).push({
    tag,
    // The daemon requires the header even for a registry without authentication.
    authconfig: options.auth ? { ...options.auth, serveraddress: host } : {},
    ...(options.signal ? { abortSignal: options.signal } : {}),
  } as Docker.ImagePushOptions);
  const digest = await followTransfer(`push ${target}:${tag}`, stream, options);
  return { ref: `${target}:${tag}`, digest };
}

/** Pulls `ref` (e.g. `127.0.0.1:5000/berth/app-web:0123…`) and checks it arrived. */
export async function pullImage(
  docker: Docker,
  ref: string,
  options: ProgressOptions & { auth?: RegistryAuth } = {},
): Promise<{ ref: string; id: string }> {
  const stream: NodeJS.ReadableStream = await docker.pull(ref, {
    ...(options.auth ? { authconfig: options.auth } : {}),
    ...(options.signal ? { abortSignal: options.signal } : {}),
  });
  await followTransfer(`pull ${ref}`, stream, options);
  const inspected = await docker.getImage(ref).inspect();
  return { ref, id: inspected.Id };
}

// ---------------------------------------------------------------------------------------------
// Images from any registry: digests and pulls

/**
 * What a registry's answer (or the lack of one) means for a deploy: an image that is not there, a
 * refused pull and a name no resolver knows are the user's to fix (fail at once); a registry that
 * cannot be reached may come back (retry, bounded).
 */
export type RegistryProblem = 'missing' | 'denied' | 'unknown-registry' | 'misconfigured' | 'unreachable';

export class RegistryAnswerError extends Error {
  constructor(
    message: string,
    readonly problem: RegistryProblem,
    /** Docker's own words, without the request it made. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'RegistryAnswerError';
  }

  get retryable(): boolean {
    return this.problem === 'unreachable';
  }
}

const PROBLEMS: [RegExp, RegistryProblem][] = [
  [/no such host|server misbehaving|name or service not known|no address associated/i, 'unknown-registry'],
  [
    /unauthorized|authentication required|no basic auth credentials|denied|forbidden|incorrect username or password/i,
    'denied',
  ],
  [/manifest unknown|not found|does not exist|name unknown/i, 'missing'],
  [/server gave HTTP response to HTTPS client|x509|certificate|invalid reference format/i, 'misconfigured'],
];

/**
 * One line naming the image and the registry's answer, classified: `image 'x/y:1': registry
 * r.example answered: manifest unknown`.
 */
export function registryAnswer(err: unknown, image: string, registry: string): RegistryAnswerError {
  const status = statusOf(err);
  const raw = dockerMessage(err) || (err as Error).message || String(err);
  // `Head "http://r/v2/x/manifests/1": no basic auth credentials` → what the registry said.
  const reason = raw
    .replace(/^(?:Get|Head|Post)\s+"[^"]*":\s*/, '')
    .replace(/\s+/g, ' ')
    .trim();
  const found = PROBLEMS.find(([re]) => re.test(raw))?.[1];
  const problem: RegistryProblem =
    found ?? (status === 404 ? 'missing' : status === 401 || status === 403 ? 'denied' : 'unreachable');
  const subject = `image '${image}'`;
  const message =
    problem === 'unreachable'
      ? `${subject}: registry ${registry} cannot be reached: ${reason}`
      : problem === 'unknown-registry'
        ? `${subject}: registry ${registry} is unknown: ${reason}`
        : `${subject}: registry ${registry} answered: ${reason}`;
  return new RegistryAnswerError(message, problem, reason);
}

/**
 * The digest a tag names now, asked of the registry through the engine (`GET /distribution`: no
 * layers move). The engine's own registry settings apply (insecure registries, mirrors).
 */
export async function resolveDigest(
  docker: Docker,
  ref: string,
  registry: string,
  auth?: RegistryAuth,
): Promise<string> {
  let answer: { Descriptor?: { digest?: string } };
  try {
    answer = (await docker
      .getImage(ref)
      .distribution({ authconfig: auth ?? {} } as never)) as unknown as typeof answer;
  } catch (err) {
    throw registryAnswer(err, ref, registry);
  }
  const digest = answer.Descriptor?.digest;
  if (!digest)
    throw new RegistryAnswerError(`image '${ref}': registry ${registry} gave no digest`, 'missing', '');
  return digest;
}

export interface PullStats {
  /** Layers the image has (downloaded now, or there already). */
  layers: number;
  /** Layers fetched by this pull. */
  downloaded: number;
  /** Bytes fetched, as the engine reported them. */
  bytes: number;
  ms: number;
}

/**
 * Pulls `ref` with `auth`, counting layers and bytes from the progress stream (each line also goes
 * to `onProgress`). A failure is a classified `RegistryAnswerError`.
 */
export async function pullWithStats(
  docker: Docker,
  ref: string,
  registry: string,
  options: ProgressOptions & { auth?: RegistryAuth } = {},
): Promise<PullStats> {
  const started = Date.now();
  const layers = new Set<string>();
  const downloaded = new Set<string>();
  const sizes = new Map<string, number>();
  let failed: ProgressEvent | undefined;
  try {
    const stream: NodeJS.ReadableStream = await docker.pull(ref, {
      authconfig: options.auth ?? {},
      ...(options.signal ? { abortSignal: options.signal } : {}),
    });
    failed = await followJsonStream(
      stream,
      (event) => {
        const detail = (event as { progressDetail?: { total?: number } }).progressDetail;
        if (event.id && /^(Pulling fs layer|Already exists|Waiting)/.test(event.status ?? ''))
          layers.add(event.id);
        if (event.id && event.status === 'Downloading' && detail?.total) sizes.set(event.id, detail.total);
        if (event.id && event.status === 'Pull complete') downloaded.add(event.id);
        if (event.status) options.onProgress?.(`${event.id ? `${event.id}: ` : ''}${event.status}`);
      },
      options.signal,
    );
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw registryAnswer(err, ref, registry);
  }
  if (failed)
    throw registryAnswer(new Error(failed.errorDetail?.message ?? failed.error ?? ''), ref, registry);
  let bytes = 0;
  for (const id of downloaded) bytes += sizes.get(id) ?? 0;
  return { layers: layers.size, downloaded: downloaded.size, bytes, ms: Date.now() - started };
}
