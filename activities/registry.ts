import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import {
  inspectImage,
  pullWithStats,
  RegistryAnswerError,
  resolveDigest,
  type RegistryProblem,
} from '../src/adapters/images';
import { berthCodec } from '../src/adapters/codec';
import { dockerConfigAuth, parseRegistrySecret, type RegistryAuth } from '../src/adapters/registry-auth';
import { Failure, type FailureType } from '../src/core/failures';
import type { HostConnection } from '../src/core/hosts';
import { digestOf, pinnedRef, registryHost, splitImageRef } from '../src/core/images';
import type { PinnedImage, PullRequest, PullResult, ResolveImageRequest } from '../workflows/api/containers';
import { heartbeat, type HostCalls } from './common';

const FAILURE_OF: Record<RegistryProblem, FailureType> = {
  missing: Failure.ImageNotFound,
  denied: Failure.ImagePullDenied,
  'unknown-registry': Failure.UnknownRegistry,
  misconfigured: Failure.RegistryMisconfigured,
  unreachable: Failure.RegistryUnreachable,
};

/**
 * A registry's answer as a Temporal failure: the user's to fix (a missing image, a refused pull, an
 * unknown registry) fails at once; an unreachable registry is retried by the activity's bounded
 * retry policy, and its last attempt's message is the operation's.
 */
function asRegistryFailure(err: RegistryAnswerError, service: string): ApplicationFailure {
  const message = `${err.message} (service ${service})`;
  const type = FAILURE_OF[err.problem];
  return err.retryable
    ? ApplicationFailure.retryable(message, type)
    : ApplicationFailure.nonRetryable(message, type);
}

/** Docker Hub's short names in RepoDigests (`postgres@…` for `docker.io/library/postgres`). */
function shortName(repository: string): string {
  return repository.replace(/^(?:docker\.io|index\.docker\.io)\//, '').replace(/^library\//, '');
}

/** The digest of `image`'s repository the engine recorded when it pulled or pushed it, if any. */
function recordedDigest(inspected: Docker.ImageInspectInfo, image: string): string | undefined {
  const repository = shortName(splitImageRef(image).repository);
  const entry = (inspected.RepoDigests ?? []).find((r) => shortName(r.split('@')[0]) === repository);
  return entry?.split('@')[1];
}

/**
 * Images from any registry (docs/DECISIONS.md, 2026-12-06): a deploy pins each image source to the
 * digest its tag names (`resolveImage`, once, on one engine), then every host that runs an instance
 * has that exact image (`ensurePulled`, on that host). Credentials come from the service's
 * `registryAuth` secret, else from this machine's Docker configuration; they are never returned.
 */
export function createRegistryActivities(calls: HostCalls) {
  const { pool, guarded } = calls;

  async function credentialsFor(
    credentials: string | undefined,
    registry: string,
    service: string,
  ): Promise<RegistryAuth | undefined> {
    if (credentials === undefined) return dockerConfigAuth(registry);
    const auth = parseRegistrySecret(credentials);
    if (!auth)
      throw ApplicationFailure.nonRetryable(
        `the registryAuth secret of service ${service} must be 'user:password'`,
        Failure.ImagePullDenied,
      );
    return auth;
  }

  const hostName = (host?: HostConnection) => host?.id ?? 'local';

  return {
    /**
     * What a service's image is at this deploy. A reference with a digest is pinned as written. An
     * image this engine has but no registry recorded (one built or loaded here, like berth/busybox:1)
     * runs by its tag. Otherwise the registry names the tag's digest now (policy `never`: the
     * engine's own copy, never the registry).
     */
    async resolveImage(request: ResolveImageRequest): Promise<PinnedImage> {
      const { image, policy, service, host } = request;
      const written = digestOf(image);
      if (written) return { image, ref: image, digest: written };
      const registry = registryHost(image);
      return guarded(
        `resolve image ${image}`,
        async () => {
          const docker = await pool.docker(host);
          const local = await inspectImage(docker, image);
          const recorded = local ? recordedDigest(local, image) : undefined;
          if (policy === 'never') {
            if (!local)
              throw ApplicationFailure.nonRetryable(
                `image '${image}' is not on host ${hostName(host)}, and service ${service} has pull policy 'never'`,
                Failure.ImageNotFound,
              );
            return recorded
              ? { image, ref: pinnedRef(image, recorded), digest: recorded }
              : { image, ref: image };
          }
          if (local && !recorded) return { image, ref: image };
          try {
            const auth = await credentialsFor(request.credentials, registry, service);
            const digest = await resolveDigest(docker, image, registry, auth);
            return { image, ref: pinnedRef(image, digest), digest };
          } catch (err) {
            if (err instanceof RegistryAnswerError) throw asRegistryFailure(err, service);
            throw err;
          }
        },
        host,
      );
    },

    /**
     * Makes sure `ref` is on the host (pulls it there when missing, or always with policy `always`),
     * heartbeating with the pull's progress. Idempotent: a pull of what is there is a no-op.
     */
    async ensurePulled(request: PullRequest): Promise<PullResult> {
      const { ref, policy, service, host } = request;
      const registry = registryHost(ref);
      return guarded(
        `pull ${ref}`,
        async () => {
          const docker = await pool.docker(host);
          const present = (await inspectImage(docker, ref)) !== undefined;
          if (policy === 'never' && !present)
            throw ApplicationFailure.nonRetryable(
              `image '${ref}' is not on host ${hostName(host)}, and service ${service} has pull policy 'never'`,
              Failure.ImageNotFound,
            );
          // An image only engines have (no digest) is never asked of a registry while it is there.
          if (present && (policy !== 'always' || !digestOf(ref))) return { pulled: false };
          try {
            const auth = await credentialsFor(request.credentials, registry, service);
            const stats = await pullWithStats(docker, ref, registry, {
              auth,
              onProgress: (line) => heartbeat(`${hostName(host)}: ${line}`.slice(0, 200)),
            });
            return { pulled: true, ...stats };
          } catch (err) {
            if (err instanceof RegistryAnswerError) throw asRegistryFailure(err, service);
            throw err;
          }
        },
        host,
      );
    },

    /** Keyed digests of secret values (see `BerthCodec.secretDigest`), by secret name. */
    async secretDigests(values: Record<string, string>): Promise<Record<string, string>> {
      const codec = berthCodec();
      return Object.fromEntries(
        Object.entries(values).map(([name, v]) => [name, codec.secretDigest(name, v)]),
      );
    },
  };
}
