/**
 * Service types: Berth's native `container` and `cluster`, and the Clocker/Brooklyn type names that
 * mean the same thing. Anything else is reported as unsupported, with a hint, never ignored.
 *
 * | Written                                                               | Means                              |
 * |-----------------------------------------------------------------------|------------------------------------|
 * | `container`                                                           | one container                      |
 * | `docker:IMAGE[:TAG]`                                                  | one container of that image        |
 * | `{brooklyn.entity.container.docker.application,                       | one container (image or Dockerfile |
 * |   clocker.docker.entity.container.application}.{VanillaDockerApplication, |   from its config)               |
 * |   DockerfileApplication}`                                             |                                    |
 * | `{brooklyn.entity.basic, org.apache.brooklyn.entity.software.base}    | a container built from an entity   |
 * |   .EmptySoftwareProcess / .VanillaSoftwareProcess`                    |   definition (base + commands)     |
 * | `cluster`, `{org.apache.brooklyn, brooklyn}.entity.group.DynamicCluster` | N identical containers          |
 */
import { didYouMean } from './didyoumean';

export type TypeKind =
  /** A container from an image, Dockerfile or entity definition given in config. */
  | 'container'
  /** Brooklyn's EmptySoftwareProcess: an entity definition, commands optional. */
  | 'entity'
  /** Brooklyn's VanillaSoftwareProcess: an entity definition that must have a launch command. */
  | 'vanilla'
  | 'cluster';

export type ResolvedType =
  | { ok: true; kind: TypeKind; declared?: string; image?: string }
  /** `problem` names the type (`unsupported type 'X'`), `hint` says what to do instead. */
  | { ok: false; problem: string; hint: string };

const DOCKER_APP_PREFIXES = [
  'brooklyn.entity.container.docker.application.',
  'clocker.docker.entity.container.application.',
];
const SOFTWARE_PREFIXES = ['brooklyn.entity.basic.', 'org.apache.brooklyn.entity.software.base.'];

export const TYPE_ALIASES: Record<string, TypeKind> = {
  container: 'container',
  cluster: 'cluster',
  ...Object.fromEntries(
    DOCKER_APP_PREFIXES.flatMap((p) => [
      [`${p}VanillaDockerApplication`, 'container'],
      [`${p}DockerfileApplication`, 'container'],
    ]),
  ),
  ...Object.fromEntries(
    SOFTWARE_PREFIXES.flatMap((p) => [
      [`${p}EmptySoftwareProcess`, 'entity'],
      [`${p}VanillaSoftwareProcess`, 'vanilla'],
    ]),
  ),
  'org.apache.brooklyn.entity.group.DynamicCluster': 'cluster',
  'brooklyn.entity.group.DynamicCluster': 'cluster',
};

/** Clocker infrastructure catalog items: hosts, not services, in Berth. */
const INFRASTRUCTURE_TYPES = new Set([
  'docker-cloud',
  'docker-cloud-calico',
  'docker-cloud-weave',
  'docker-infrastructure',
  'docker-host',
  'docker-swarm',
  'calico-network',
  'weave-network',
]);

const SUPPORTED =
  "container, cluster, docker:IMAGE:TAG, or a Brooklyn alias listed in docs (e.g. 'org.apache.brooklyn.entity.group.DynamicCluster')";

export function resolveType(written: string): ResolvedType {
  const kind = Object.hasOwn(TYPE_ALIASES, written) ? TYPE_ALIASES[written] : undefined;
  if (kind) return { ok: true, kind, declared: kind === written ? undefined : written };
  if (written.startsWith('docker:')) {
    const image = written.slice('docker:'.length);
    if (!/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(image)) {
      return {
        ok: false,
        problem: `invalid type '${written}'`,
        hint: ": name an image, as 'docker:IMAGE:TAG'",
      };
    }
    return { ok: true, kind: 'container', declared: written, image };
  }
  if (
    INFRASTRUCTURE_TYPES.has(written) ||
    /\.(DockerInfrastructure|DockerHost|SwarmCluster)$/.test(written)
  ) {
    return {
      ok: false,
      problem: `unsupported type '${written}'`,
      hint: ": Clocker infrastructure is not a service in Berth; add Docker hosts with 'berth hosts add'",
    };
  }
  if (/\.VirtualNetwork$/.test(written)) {
    return {
      ok: false,
      problem: `unsupported type '${written}'`,
      hint: ": every Berth app gets its own network; set top-level 'network: CIDR' instead",
    };
  }
  if (/\.[A-Z][A-Za-z0-9_$]*$/.test(written)) {
    return {
      ok: false,
      problem: `unsupported type '${written}'`,
      hint: ": Brooklyn software entities are not supported; use 'docker:IMAGE:TAG', or 'container' with an image, Dockerfile or install/launch commands",
    };
  }
  return {
    ok: false,
    problem: `unknown type '${written}'`,
    hint: `${didYouMean(written, Object.keys(TYPE_ALIASES))} (supported: ${SUPPORTED})`,
  };
}
