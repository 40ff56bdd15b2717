/**
 * The resolved configuration hash: what a container is actually given, once `${svc.attr}`
 * references are filled in, secrets are replaced by keyed digests (never their values: the hash is
 * a container label anyone with engine access reads), and the image is pinned to its digest. A
 * rotated secret, an address that moved behind `${db.address}` or a tag that now names another
 * image therefore changes it. Pure.
 */
import type { Service } from './blueprint/model';
import { resolveEnv } from './blueprint/references';
import { canonicalJson, stableHash } from './hash';

export interface ResolvedInputs {
  /** The reference containers are created from (pinned digest, or the tag of a local image). */
  image: string;
  /** `${svc.attr}` for the values the instances will see. */
  attribute: (service: string, attribute: string) => string | undefined;
  /** Keyed digests of secret values, by name. */
  secretDigests: Record<string, string>;
}

export function resolvedConfigHash(service: Service, inputs: ResolvedInputs): string {
  const env = resolveEnv(service.env, {
    attribute: inputs.attribute,
    secret: (name) =>
      Object.hasOwn(inputs.secretDigests, name) ? `secret:${name}@${inputs.secretDigests[name]}` : undefined,
  });
  const { command, ports, volumes, resources, restart, healthCheck, stopSignal, stopGracePeriodMs } = service;
  return stableHash(
    canonicalJson({
      image: inputs.image,
      command,
      env,
      ports,
      volumes,
      resources,
      restart,
      healthCheck,
      stopSignal,
      stopGracePeriodMs,
    }),
  );
}
