/**
 * Images Berth builds: their names and the steps of an entity build. Pure and deterministic (no I/O),
 * so workflows, activities and the CLI agree on a built image's tag.
 *
 * A built image is tagged `berth/<app>-<service>:<hash>`, the hash taken over the build definition
 * itself (the Dockerfile's text and extra context files, or the entity's base image and commands),
 * never over where it came from: the same Dockerfile fetched from a URL or inlined by the CLI gives the
 * same tag, and a changed Dockerfile at the same URL gives a new one. A tag that exists is never
 * rebuilt, which is what makes building idempotent.
 */
import { canonicalJson, stableHash } from './hash';
import { UserError } from './errors';
import { LABEL, isDnsLabel } from './names';

/** Bumped when the way a definition turns into an image changes, so old tags are not reused. */
export const BUILD_FORMAT = 'berth-build-v1';

/** What a build is made from, once any URL or path has been read (the adapter's input). */
export type BuildDefinition =
  | {
      kind: 'dockerfile';
      /** The Dockerfile's text. */
      dockerfile: string;
      /** Extra files of the build context, by relative path. */
      files?: Record<string, string>;
    }
  | { kind: 'entity'; base: string; install: string[]; customize: string[]; launch?: string };

/** The stable hash of a build definition: 16 hex digits (two FNV-1a lanes, see `hash.ts`). */
export function buildHash(definition: BuildDefinition): string {
  const normalized =
    definition.kind === 'dockerfile'
      ? {
          format: BUILD_FORMAT,
          kind: 'dockerfile',
          // CRLF and LF Dockerfiles build the same image.
          dockerfile: definition.dockerfile.replace(/\r\n/g, '\n'),
          files: definition.files && Object.keys(definition.files).length > 0 ? definition.files : undefined,
        }
      : {
          format: BUILD_FORMAT,
          kind: 'entity',
          base: definition.base,
          install: definition.install,
          customize: definition.customize,
          launch: definition.launch,
        };
  return stableHash(canonicalJson(normalized));
}

/** The repository part of a built image: `berth/<app>-<service>`. */
export function builtImageRepository(app: string, service: string): string {
  for (const [what, name] of [
    ['app', app],
    ['service', service],
  ] as const) {
    if (!isDnsLabel(name))
      throw new UserError(`${what} name '${name}' cannot name an image (it must be a lower-case DNS label)`);
  }
  return `berth/${app}-${service}`;
}

/** The deterministic tag of a built image: `berth/<app>-<service>:<hash>`. */
export function builtImageTag(app: string, service: string, definition: BuildDefinition): string {
  return `${builtImageRepository(app, service)}:${buildHash(definition)}`;
}

/** Labels on every image Berth builds (a built image's containers get their own `berth.kind`). */
export function builtImageLabels(app: string, service: string): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.kind]: 'image',
    [LABEL.app]: app,
    [LABEL.service]: service,
  };
}

/**
 * The builder container of an entity build, named after the tag so a retried or crashed attempt
 * finds (and removes) its predecessor: `berth/a-b:0123` → `berth-build-berth-a-b-0123`.
 */
export function builderContainerName(tag: string): string {
  return `berth-build-${tag.replace(/[^a-zA-Z0-9_.-]/g, '-')}`;
}

/** The builder's own command: it only has to stay up while the steps run in it with `docker exec`. */
export const BUILDER_COMMAND = ['sh', '-c', 'while :; do sleep 3600; done'];

export interface EntityStep {
  phase: 'install' | 'customize';
  /** 1-based, over install then customize steps. */
  index: number;
  total: number;
  command: string;
  /** What `docker exec` runs. */
  argv: string[];
}

/** Clocker's order: every install command, then every customize command, each in `sh -c`. */
export function entityBuildSteps(definition: { install: string[]; customize: string[] }): EntityStep[] {
  const all = [
    ...definition.install.map((command) => ({ phase: 'install' as const, command })),
    ...definition.customize.map((command) => ({ phase: 'customize' as const, command })),
  ];
  return all.map((s, i) => ({ ...s, index: i + 1, total: all.length, argv: ['sh', '-c', s.command] }));
}

/** How a failed step is named in errors, like Docker's own `Step 3/5 : RUN false`. */
export function describeEntityStep(step: EntityStep): string {
  return `Step ${step.index}/${step.total} (${step.phase}) : ${step.command}`;
}

/**
 * The Dockerfile instructions applied when the builder is committed (`docker commit --change`):
 * the launch command becomes `CMD ["sh","-c",launch]` (the builder runs with no entrypoint, so the
 * image has none); without a launch command the base image's entrypoint and command are restored.
 */
export function commitChanges(input: {
  launch?: string;
  base: { entrypoint?: string[] | null; cmd?: string[] | null };
  labels: Record<string, string>;
}): string[] {
  const changes: string[] = [];
  if (input.launch !== undefined && input.launch.trim() !== '') {
    changes.push(`CMD ${JSON.stringify(['sh', '-c', input.launch])}`);
  } else {
    if (input.base.entrypoint && input.base.entrypoint.length > 0)
      changes.push(`ENTRYPOINT ${JSON.stringify(input.base.entrypoint)}`);
    // An empty CMD cannot be committed (Docker refills it from the container): fall back to a shell.
    const cmd = input.base.cmd && input.base.cmd.length > 0 ? input.base.cmd : ['sh'];
    changes.push(`CMD ${JSON.stringify(cmd)}`);
  }
  const labels = Object.entries(input.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (labels.length > 0)
    changes.push(`LABEL ${labels.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}`);
  return changes;
}

/** `repo[:tag]` split at the tag's colon (not a registry port's): `127.0.0.1:5000/a/b:1` → `127.0.0.1:5000/a/b`, `1`. */
export function splitImageRef(ref: string): { repository: string; tag: string } {
  const withoutDigest = ref.split('@')[0];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > slash)
    return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  return { repository: withoutDigest, tag: 'latest' };
}

/** The registry host of a reference (`127.0.0.1:5000/x` → `127.0.0.1:5000`), or undefined for Docker Hub names. */
export function registryOf(ref: string): string | undefined {
  const slash = ref.indexOf('/');
  if (slash < 0) return undefined;
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** A local image's name in a registry: `berth/a-b:1` at `127.0.0.1:5000` → `127.0.0.1:5000/berth/a-b:1`. */
export function registryImageRef(registry: string, localRef: string): string {
  const host = registry.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  const own = registryOf(localRef);
  const path = own ? localRef.slice(own.length + 1) : localRef;
  const { repository, tag } = splitImageRef(path);
  return `${host}/${repository}:${tag}`;
}

/**
 * The images a Dockerfile starts `FROM`, so they can be checked on the engine before building (the
 * daemon would otherwise try to pull a missing one from Docker Hub). Skips `scratch`, earlier stages
 * (`FROM x AS build` … `FROM build`) and names made of build arguments (`FROM $BASE`).
 */
export function dockerfileBaseImages(dockerfile: string): string[] {
  const lines = dockerfile.replace(/\r\n/g, '\n').replace(/\\\n/g, ' ').split('\n');
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!/^from\s/i.test(line)) continue;
    const words = line
      .split(/\s+/)
      .slice(1)
      .filter((w) => !w.startsWith('--'));
    const image = words[0];
    if (!image) continue;
    if (words.length >= 3 && words[1].toLowerCase() === 'as') stages.add(words[2].toLowerCase());
    if (image.toLowerCase() === 'scratch' || image.includes('$') || stages.has(image.toLowerCase())) continue;
    if (!bases.includes(image)) bases.push(image);
  }
  return bases;
}

/** The registry an image is pulled from: its own host, or Docker Hub for short names. */
export function registryHost(ref: string): string {
  return registryOf(ref) ?? 'docker.io';
}

/** The digest a reference pins (`repo@sha256:…`), if any. */
export function digestOf(ref: string): string | undefined {
  const at = ref.indexOf('@');
  return at < 0 ? undefined : ref.slice(at + 1);
}

/** The reference of one exact image: `127.0.0.1:5000/team/api:2` + digest → `127.0.0.1:5000/team/api@sha256:…`. */
export function pinnedRef(ref: string, digest: string): string {
  return `${splitImageRef(ref).repository}@${digest}`;
}

/** `sha256:0123456789abcdef…` → `sha256:0123456789ab` (what status and progress show). */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}

/** A reference without its registry host: `10.0.0.5:5000/berth/a-b:1` → `berth/a-b:1` (unchanged without one). */
export function withoutRegistry(ref: string): string {
  const own = registryOf(ref);
  return own ? ref.slice(own.length + 1) : ref;
}

/** Does `ref` (with or without a registry) name an image Berth built, `berth/<app>-<service>:<hash>`? */
export function isBuiltImageRef(ref: string): boolean {
  return /^berth\/[a-z0-9][a-z0-9-]*:[0-9a-f]{16}$/.test(withoutRegistry(ref));
}
