import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImageSource } from '../src/core/blueprint/model';
import { UserError } from '../src/core/errors';
import {
  builtImageLabels,
  builtImageTag,
  dockerfileBaseImages,
  registryImageRef,
  registryOf,
  splitImageRef,
  type BuildDefinition,
} from '../src/core/images';
import { dockerTarget } from '../src/adapters/docker';
import { createDockerPool, isLocal, type DockerPool } from '../src/adapters/docker-pool';
import { describeHost, type HostConnection } from '../src/core/hosts';
import {
  DockerfileUnavailableError,
  ImageBuildError,
  MissingImageError,
  RegistryTransferError,
  buildEntity,
  buildFromDockerfile,
  fetchDockerfile,
  inspectImage,
  pullImage,
  pushImage,
  readDockerfile,
  type ProgressOptions,
  type RegistryAuth,
} from '../src/adapters/images';
import { asActivityFailure } from './docker-errors';
import { Failure } from '../src/core/failures';

export interface ImageActivityDeps {
  docker: Docker;
  /** How the engine is addressed, for error messages. */
  dockerTarget?: string;
  /**
   * A registry every host can pull from (`127.0.0.1:5000` for Berth's own, see `ensureRegistry`).
   * When set, built images are pushed there, and a missing built image is pulled from it before
   * building (another host may have built it).
   */
  registry?: { address: string; auth?: RegistryAuth };
}

export interface EnsureImageInput {
  /** The host to build on (default: the local engine). */
  host?: HostConnection;
  /** The pool's registry (`host:port`), overriding the worker's own setting. */
  registry?: string;
  app: string;
  service: string;
  source: ImageSource;
  /**
   * Directory a relative Dockerfile `path` is read from, on the worker. The CLI should rather inline
   * a local Dockerfile's text (`inline`), since the worker may run on another machine.
   */
  blueprintDir?: string;
}

export interface EnsureImageResult {
  /** The image containers are created from (a local tag). */
  image: string;
  /** True when this call built it. */
  built: boolean;
  /** The image's reference in the registry, when one is configured and the image was built. */
  registryImage?: string;
}

/** Progress for long operations: heartbeats inside an activity (no-op when called directly). */
function activityProgress(): { options: ProgressOptions; stop(): void } {
  let context: Context | undefined;
  try {
    context = Context.current();
  } catch {
    context = undefined; // outside an activity (direct calls in tests, the CLI)
  }
  if (!context) return { options: {}, stop() {} };
  let last = '';
  const beat = () => {
    try {
      context!.heartbeat(last);
    } catch {
      // the activity already finished
    }
  };
  // A silent step (`RUN sleep 60`) produces no lines: heartbeat on a timer too.
  const timer = setInterval(beat, 2000);
  return {
    options: {
      onProgress(line: string) {
        last = line.slice(0, 200);
        beat();
      },
      signal: context.cancellationSignal,
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Images for a service: an image source must be on the engine (or in Berth's registry); a Dockerfile
 * or entity source is built once into `berth/<app>-<service>:<hash of the definition>` and reused
 * while that tag exists. A definition that does not build is the user's error (non-retryable
 * `ImageBuildFailed`, naming the step); Docker failures are classified as everywhere else.
 */
export function createImageActivities(given: ImageActivityDeps & { pool?: DockerPool }) {
  const deps = { ...given, pool: given.pool ?? createDockerPool(given.docker) };
  return {
    async ensureImage(input: EnsureImageInput): Promise<EnsureImageResult> {
      if (isLocal(input.host) && !input.registry) return imageOperations(deps).ensureImage(input);
      let docker: Docker;
      try {
        docker = await deps.pool.docker(input.host);
      } catch (err) {
        throw ApplicationFailure.retryable(
          `connect to host ${input.host?.id}: ${(err as Error).message}`,
          Failure.HostUnreachable,
        );
      }
      return imageOperations({
        docker,
        dockerTarget: input.host ? describeHost(input.host) : deps.dockerTarget,
        registry: input.registry ? { address: input.registry } : deps.registry,
      }).ensureImage(input);
    },
  };
}

/** What `ensureImage` does on one engine (a factory: its steps share the engine and the registry). */
function imageOperations({ docker, dockerTarget: target = dockerTarget(), registry }: ImageActivityDeps) {
  const notFound = (image: string, why: string) =>
    ApplicationFailure.nonRetryable(
      `image '${image}' ${why} is not on the Docker engine at ${target}; build or load it first (scripts/setup.sh builds berth/busybox:1)`,
      Failure.ImageNotFound,
    );

  const fromRegistry = (ref: string) =>
    registry !== undefined && registryOf(ref) === registry.address.replace(/^[a-z]+:\/\//, '');

  /** Pulls `ref` from the configured registry; false when it is not there (or the registry is down). */
  async function tryPull(ref: string, progress: ProgressOptions): Promise<boolean> {
    try {
      await pullImage(docker, ref, { ...progress, auth: registry?.auth });
      return true;
    } catch (err) {
      if (err instanceof RegistryTransferError || (err as { statusCode?: number }).statusCode === 404)
        return false;
      // A 5xx for a registry that cannot be reached is not worth failing a build for either.
      if ((err as { statusCode?: number }).statusCode === 500) return false;
      throw err;
    }
  }

  async function resolveDefinition(input: EnsureImageInput): Promise<BuildDefinition> {
    const { source } = input;
    if (source.kind === 'entity')
      return {
        kind: 'entity',
        base: source.base,
        install: source.install,
        customize: source.customize,
        launch: source.launch,
      };
    if (source.kind !== 'dockerfile') throw new Error(`not a built source: ${source.kind}`);
    let dockerfile: string;
    if (source.inline !== undefined) dockerfile = source.inline;
    else if (source.path !== undefined) dockerfile = readDockerfile(source.path, input.blueprintDir);
    else if (source.url !== undefined) dockerfile = await fetchDockerfile(source.url);
    else throw new DockerfileUnavailableError('a dockerfile source needs url, path or inline text', false);
    return { kind: 'dockerfile', dockerfile };
  }

  /** The images a definition starts from must be here (or in Berth's registry): never pulled from Docker Hub. */
  async function checkBases(input: EnsureImageInput, definition: BuildDefinition, progress: ProgressOptions) {
    const bases =
      definition.kind === 'entity' ? [definition.base] : dockerfileBaseImages(definition.dockerfile);
    for (const base of bases) {
      if (await inspectImage(docker, base)) continue;
      if (fromRegistry(base) && (await tryPull(base, progress))) continue;
      throw notFound(
        base,
        `(the base of ${input.service}'s ${definition.kind === 'entity' ? 'entity' : 'Dockerfile'})`,
      );
    }
  }

  async function build(
    input: EnsureImageInput,
    definition: BuildDefinition,
    tag: string,
    progress: ProgressOptions,
  ): Promise<void> {
    const labels = builtImageLabels(input.app, input.service);
    if (definition.kind === 'entity') await buildEntity(docker, { ...definition, tag, labels, ...progress });
    else await buildFromDockerfile(docker, { dockerfile: definition.dockerfile, tag, labels, ...progress });
  }

  function asImageFailure(err: unknown, input: EnsureImageInput, what: string): ApplicationFailure {
    if (err instanceof ApplicationFailure) return err;
    if (err instanceof ImageBuildError)
      return ApplicationFailure.create({
        message: `building the image of ${input.service} failed: ${err.message}`,
        type: Failure.ImageBuildFailed,
        nonRetryable: true,
        details: [{ step: err.step, reason: err.reason, output: err.output }],
      });
    if (err instanceof DockerfileUnavailableError)
      return err.retryable
        ? ApplicationFailure.retryable(err.message, Failure.DockerfileUnavailable)
        : ApplicationFailure.nonRetryable(`${input.service}: ${err.message}`, Failure.ImageBuildFailed);
    if (err instanceof UserError)
      return ApplicationFailure.nonRetryable(`${input.service}: ${err.message}`, Failure.ImageBuildFailed);
    if (err instanceof MissingImageError) return notFound(err.image, `(the base of ${input.service})`);
    if (err instanceof RegistryTransferError)
      return ApplicationFailure.retryable(err.message, Failure.RegistryError);
    return asActivityFailure(err, what, target);
  }

  return {
    async ensureImage(input: EnsureImageInput): Promise<EnsureImageResult> {
      const { source } = input;
      const heartbeats = activityProgress();
      const progress = heartbeats.options;
      try {
        if (source.kind === 'image') {
          try {
            if (await inspectImage(docker, source.image)) return { image: source.image, built: false };
            if (fromRegistry(source.image) && (await tryPull(source.image, progress)))
              return { image: source.image, built: false };
          } catch (err) {
            throw asActivityFailure(err, `inspect image ${source.image}`, target);
          }
          throw notFound(source.image, `(service ${input.service})`);
        }
        let tag = '';
        try {
          const definition = await resolveDefinition(input);
          tag = builtImageTag(input.app, input.service, definition);
          const remote = registry ? registryImageRef(registry.address, tag) : undefined;
          let built = false;
          if (!(await inspectImage(docker, tag))) {
            // Another host may have built and pushed it: pull and tag it rather than build again.
            if (remote && (await tryPull(remote, progress))) {
              const { repository, tag: version } = splitImageRef(tag);
              await docker.getImage(remote).tag({ repo: repository, tag: version });
            } else {
              await checkBases(input, definition, progress);
              await build(input, definition, tag, progress);
              built = true;
            }
          }
          // Pushing again is cheap (every layer is there already), and covers a push that failed
          // after an earlier attempt built the image.
          if (remote && registry)
            await pushImage(docker, tag, registry.address, { ...progress, auth: registry.auth });
          return { image: tag, built, ...(remote ? { registryImage: remote } : {}) };
        } catch (err) {
          // Cancelled (or timed out) while building: the reason is Temporal's own failure, rethrown as is.
          if (progress.signal?.aborted) throw progress.signal.reason ?? err;
          throw asImageFailure(err, input, tag ? `build image ${tag}` : `image of ${input.service}`);
        }
      } finally {
        heartbeats.stop();
      }
    },
  };
}

export type ImageActivities = ReturnType<typeof createImageActivities>;
