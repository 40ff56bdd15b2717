/**
 * Images from any registry, as steps of a convergence: pin each image source to a digest (once per
 * deploy), then have that exact image on every host about to create an instance of it. What a pin
 * and a pull do on an engine is `activities/registry.ts`; these decide when and where.
 */
import type { Service } from '../../src/core/blueprint/model';
import type { HostConnection } from '../../src/core/hosts';
import { shortDigest } from '../../src/core/images';
import type { PinnedImage } from '../api/containers';
import type { OperationInput } from '../api/operations';
import type { dockerActivities, longActivities } from '../activity-options';

type Activities = ReturnType<typeof dockerActivities>;

/** The value of a service's `registryAuth` secret, when it has one. */
function credentialsOf(service: Service, input: OperationInput): string | undefined {
  return service.registryAuth ? input.secrets?.[service.registryAuth] : undefined;
}

/**
 * The pin of an image source. A deploy asks again (a moved tag is a change); scale, heal and
 * rollbacks run what the deploy they follow pinned, so one app never runs two images of one tag.
 */
export async function pinImage(
  docker: Activities,
  input: OperationInput,
  service: Service,
  image: string,
  host: HostConnection | undefined,
  /** Run what the last deploy pinned (scale, heal, rollbacks) instead of asking again. */
  reuse: boolean,
  say: (line: string) => void,
): Promise<PinnedImage> {
  const kept = input.images?.[service.id];
  if (reuse && kept?.image === image) return kept;
  const credentials = credentialsOf(service, input);
  const pin = await docker.resolveImage({
    ...(host ? { host } : {}),
    service: service.id,
    image,
    policy: service.pull ?? 'missing',
    ...(credentials !== undefined ? { credentials } : {}),
  });
  if (pin.digest) say(`${service.id}: ${image} is ${shortDigest(pin.digest)}`);
  return pin;
}

/** What `pullImages` pulls where: a service's pin, on the hosts about to create its instances. */
export interface PullTarget {
  service: Service;
  pin: PinnedImage;
  hosts: (HostConnection | undefined)[];
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export type PullJob = PullTarget & { host: HostConnection | undefined };

/** One pull per target and host. */
export function pullJobs(targets: PullTarget[]): PullJob[] {
  return targets.flatMap((t) => t.hosts.map((host) => ({ ...t, host })));
}

/** Has a pinned image on one host (pulled when missing), saying what moved. */
export async function pullOne(
  slow: ReturnType<typeof longActivities>,
  input: OperationInput,
  { service, pin, host }: PullJob,
  say: (line: string) => void,
): Promise<void> {
  const credentials = credentialsOf(service, input);
  const pulled = await slow.ensurePulled({
    ...(host ? { host } : {}),
    service: service.id,
    ref: pin.ref,
    policy: service.pull ?? 'missing',
    ...(credentials !== undefined ? { credentials } : {}),
  });
  if (pulled.pulled)
    say(
      `pulled ${pin.image}${pin.digest ? `@${shortDigest(pin.digest)}` : ''} on ${host?.id ?? 'local'}: ${pulled.downloaded ?? 0} of ${pulled.layers ?? 0} layers, ${megabytes(pulled.bytes ?? 0)} in ${((pulled.ms ?? 0) / 1000).toFixed(1)} s`,
    );
}
