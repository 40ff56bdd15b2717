/**
 * A container's own settings: image source, ports, volumes, resources, health check, restart and
 * DNS names. Each reader takes the entries collected for its field.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { HealthCheck, ImageSource, PortSpec, PullPolicy, RestartPolicy, VolumeSpec } from './model';
import { didYouMean } from './didyoumean';
import {
  HEALTH_CHECK_KEYS,
  PROVISIONING_KEYS,
  PULL_POLICIES,
  RESOURCE_KEYS,
  RESTART_POLICIES,
  ownValue,
} from './keys';
import { SECRET_NAME_RE } from './references';
import { isVolumeName } from '../volumes';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { expected, readCommand, readMap, readNumber, readString, readStringList, readUnit } from './read';
import { parseCpus, parseDuration, parseMemory, parsePort, PORT_EXPECTED } from './units';

const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;

const IMAGE_EXPECTED = "an image reference like 'berth/busybox:1'";

export function readImage(ctx: Ctx, e: Entry, where: string): string | undefined {
  const image = readStringOnly(ctx, e, where, IMAGE_EXPECTED);
  if (image !== undefined && !IMAGE_REF.test(image)) {
    expected(ctx, e, where, IMAGE_EXPECTED);
    return undefined;
  }
  return image;
}

/** A string as written; a number or a boolean (`image: 0`, `image: true`) is a mistake here. */
function readStringOnly(ctx: Ctx, e: Entry, where: string, what: string): string | undefined {
  if (isScalar(e.value) && typeof e.value.value === 'string') return readString(ctx, e, where, what);
  expected(ctx, e, where, what);
  return undefined;
}

export function readPull(ctx: Ctx, e: Entry, where: string): PullPolicy | undefined {
  const text = textOf(e.value);
  if (text !== undefined && (PULL_POLICIES as readonly string[]).includes(text)) return text as PullPolicy;
  expected(ctx, e, where, `one of ${PULL_POLICIES.join(', ')}`);
  return undefined;
}

/**
 * `registryAuth: ${secret:NAME}` (or Brooklyn's `$secret:NAME`): the name of the secret holding the
 * registry's `user:password`. Credentials themselves never go in a blueprint.
 */
export function readRegistryAuth(ctx: Ctx, e: Entry, where: string): string | undefined {
  const text = isScalar(e.value) && typeof e.value.value === 'string' ? e.value.value.trim() : undefined;
  const name = text && (/^\$\{secret:([^}]*)\}$/.exec(text)?.[1] ?? /^\$secret:(.*)$/.exec(text)?.[1]);
  if (name !== undefined && name !== null && SECRET_NAME_RE.test(name)) return name;
  // Never echo the value: it may be the credentials themselves.
  report(
    ctx,
    at(e),
    `key '${e.key}'${where} must name a secret, like '\${secret:registry}' (its value is 'user:password'); credentials never go in a blueprint`,
    e.key,
  );
  return undefined;
}

/** `name` + `tag` -> `name:tag` (a tag already in the name is an error). */
export function withTag(ctx: Ctx, image: string, tagEntry: Entry | undefined, where: string): string {
  if (!tagEntry) return image;
  const tag = readString(ctx, tagEntry, where, "an image tag like '1.2'");
  if (tag === undefined) return image;
  if (/:[^/]*$/.test(image)) {
    report(
      ctx,
      tagEntry.keyNode,
      `key '${tagEntry.key}'${where} conflicts with the tag already in image '${image}'`,
      tagEntry.key,
    );
    return image;
  }
  return `${image}:${tag}`;
}

/**
 * A Dockerfile: a URL, a path, or inline text (several lines or `FROM ...`). A relative path is
 * relative to the blueprint's folder and may not leave it (`../x`); an absolute path is taken as
 * written, on purpose.
 */
export function readDockerfile(ctx: Ctx, e: Entry, where: string): ImageSource | undefined {
  if (isMap(e.value)) {
    const es = entries(ctx, e.value);
    const [only] = es;
    if (es.length !== 1 || !['url', 'path', 'inline'].includes(only.key)) {
      expected(ctx, e, where, 'a URL, a path, inline text, or one of {url: ...}, {path: ...}, {inline: ...}');
      return undefined;
    }
    const text = readStringOnly(ctx, only, where, 'a string');
    if (text === undefined) return undefined;
    if (only.key === 'path' && !checkDockerfilePath(ctx, only, text, where)) return undefined;
    return { kind: 'dockerfile', [only.key]: text };
  }
  const text = readStringOnly(ctx, e, where, 'a Dockerfile URL, a path, or inline Dockerfile text');
  if (text === undefined) return undefined;
  if (text.includes('\n') || /^\s*FROM\s/i.test(text)) return { kind: 'dockerfile', inline: text };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return { kind: 'dockerfile', url: text };
  if (scheme) {
    report(
      ctx,
      at(e),
      `key '${e.key}'${where}: '${scheme}://' URLs are not supported; use http(s), a local path or inline text`,
      e.key,
    );
    return undefined;
  }
  return checkDockerfilePath(ctx, e, text, where) ? { kind: 'dockerfile', path: text } : undefined;
}

/** A relative path must stay in the blueprint's folder (`a/../b` does; `../b`, `a/../../b` do not). */
function checkDockerfilePath(ctx: Ctx, e: Entry, path: string, where: string): boolean {
  let depth = 0;
  for (const part of path.startsWith('/') ? [] : path.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) {
      report(
        ctx,
        at(e),
        `key '${e.key}'${where}: path '${path}' leaves the blueprint's folder; a relative Dockerfile path must stay inside it (give an absolute path to use a Dockerfile elsewhere)`,
        e.key,
      );
      return false;
    }
  }
  return true;
}

/** Shell steps: one string, or a list of strings run in order. */
export function readSteps(ctx: Ctx, e: Entry, where: string): string[] | undefined {
  return readStringList(ctx, e, where, 'a shell command or a list of shell commands');
}

// ---- ports -------------------------------------------------------------------------------------

type PortMode = 'native' | 'open' | 'direct';

/**
 * `ports` (native strings), `openPorts` (forwarded from a random host port, as Clocker did, so
 * `mapped.docker.port.N` exists), `directPorts` (forwarded from the same host port).
 */
export function readPorts(ctx: Ctx, e: Entry, where: string, mode: PortMode): PortSpec[] {
  const list = isSeq(e.value) ? items(ctx, e.value) : isScalar(e.value) ? [e.value] : undefined;
  if (!list) {
    expected(ctx, e, where, `a list of ports, each ${PORT_EXPECTED}`);
    return [];
  }
  const out: PortSpec[] = [];
  for (const item of list) {
    const text = textOf(item);
    const parsed = text === undefined ? undefined : parsePort(text);
    if (!parsed?.ok || (mode !== 'native' && parsed.value.host !== undefined)) {
      const what = mode === 'native' ? PORT_EXPECTED : "a container port like 8080 or '8080/udp'";
      expected(ctx, e, where, `a list of ports, each ${parsed && !parsed.ok ? parsed.expected : what}`, item);
      continue;
    }
    const spec = parsed.value;
    if (mode === 'open') spec.host = 0;
    if (mode === 'direct') spec.host = spec.container;
    out.push(spec);
  }
  return out;
}

/** Clocker's port bindings: a mapping `hostPort: containerPort`. */
export function readPortBindings(ctx: Ctx, e: Entry, where: string): PortSpec[] {
  const es = readMap(ctx, e, where, 'a mapping of host port to container port');
  const out: PortSpec[] = [];
  for (const b of es ?? []) {
    const parsed = parsePort(`${b.key}:${textOf(b.value) ?? ''}`);
    if (parsed.ok) out.push(parsed.value);
    else expected(ctx, b, where, 'a mapping of host port to container port (numbers 1-65535)', at(b));
  }
  return out;
}

/** Identical ports are kept once; an exposed-only port is dropped when the same port is forwarded. */
export function dedupePorts(ports: PortSpec[]): PortSpec[] {
  const out: PortSpec[] = [];
  for (const p of ports) {
    const same = (q: PortSpec): boolean => q.container === p.container && q.protocol === p.protocol;
    if (out.some((q) => same(q) && q.host === p.host)) continue;
    if (p.host === undefined && out.some(same)) continue;
    const i = out.findIndex((q) => same(q) && q.host === undefined);
    if (i >= 0) out.splice(i, 1);
    out.push(p);
  }
  return out;
}

// ---- volumes -----------------------------------------------------------------------------------

const VOLUME_EXPECTED = "a volume like '/data', 'name:/data' or '/host/path:/data:ro'";

export function readVolumes(ctx: Ctx, e: Entry, where: string): VolumeSpec[] {
  if (!isSeq(e.value)) {
    expected(ctx, e, where, `a list of volumes, each ${VOLUME_EXPECTED}`);
    return [];
  }
  const out: VolumeSpec[] = [];
  for (const item of items(ctx, e.value)) {
    const v = parseVolume(textOf(item) ?? '');
    if (!v) expected(ctx, e, where, `a list of volumes, each ${VOLUME_EXPECTED}`, item);
    else if (checkVolumeSource(ctx, e, v, where, item ?? at(e))) out.push(v);
  }
  return out;
}

/**
 * A source is an absolute host path (a bind mount) or a volume name (`data`, one per instance).
 * Anything else (`./data`, `~/x`, `a/b`) would be neither: Docker takes it for a name and fails.
 */
function checkVolumeSource(ctx: Ctx, e: Entry, v: VolumeSpec, where: string, node: Node): boolean {
  if (v.source === undefined || v.source.startsWith('/') || isVolumeName(v.source)) return true;
  report(
    ctx,
    node,
    `volume source '${v.source}' in '${e.key}'${where} is neither an absolute host path (a bind mount, like '/srv/data') nor a volume name (letters, digits, '_', '.', '-', like 'data')`,
    e.key,
  );
  return false;
}

/** Two volumes on one path in a container: Docker refuses the container ("Duplicate mount point"). */
export function checkVolumeTargets(ctx: Ctx, entries: Entry[], volumes: VolumeSpec[], where: string): void {
  const seen = new Set<string>();
  for (const v of volumes) {
    const target = v.target.replace(/\/+$/, '') || '/';
    if (seen.has(target) && entries[0])
      report(ctx, entries[0].keyNode, `two volumes mount on '${target}'${where}`, entries[0].key);
    seen.add(target);
  }
}

export function parseVolume(text: string): VolumeSpec | undefined {
  const parts = text.split(':');
  const readOnly = parts.length > 1 && (parts[parts.length - 1] === 'ro' || parts[parts.length - 1] === 'rw');
  const ro = readOnly && parts.pop() === 'ro';
  if (parts.length > 2 || parts.some((p) => p === '')) return undefined;
  const target = parts[parts.length - 1];
  if (!target.startsWith('/')) return undefined;
  return parts.length === 2 ? { source: parts[0], target, readOnly: ro } : { target, readOnly: ro };
}

/** Clocker's volume mappings: `hostPath: containerPath`. */
export function readVolumeMappings(ctx: Ctx, e: Entry, where: string): VolumeSpec[] {
  const out: VolumeSpec[] = [];
  for (const m of readMap(ctx, e, where, 'a mapping of host path to container path') ?? []) {
    const v = parseVolume(`${m.key}:${textOf(m.value) ?? ''}`);
    if (!v) expected(ctx, m, where, 'an absolute container path', at(m));
    else if (checkVolumeSource(ctx, e, v, where, m.keyNode)) out.push(v);
  }
  return out;
}

// ---- resources ---------------------------------------------------------------------------------

export interface Resources {
  cpus?: number;
  memoryBytes?: number;
}

function setResource(ctx: Ctx, res: Resources, which: 'cpus' | 'memory', e: Entry, where: string): void {
  const field = which === 'cpus' ? 'cpus' : 'memoryBytes';
  if (res[field] !== undefined) {
    report(
      ctx,
      e.keyNode,
      `key '${e.key}'${where} sets the ${which === 'cpus' ? 'CPU' : 'memory'} request a second time`,
      e.key,
    );
    return;
  }
  const v = which === 'cpus' ? readUnit(ctx, e, where, parseCpus) : readUnit(ctx, e, where, parseMemory);
  if (v !== undefined) res[field] = v;
}

/** `cpu`/`memory` directly, `resources: {cpu, memory}`, or Brooklyn's `provisioning.properties: {minCores, minRam}`. */
export function readResources(
  ctx: Ctx,
  res: Resources,
  e: Entry,
  kind: 'direct' | 'resources' | 'provisioning',
  where: string,
): void {
  if (kind === 'direct') {
    setResource(ctx, res, ownValue(RESOURCE_KEYS, e.key)!, e, where);
    return;
  }
  const table = kind === 'resources' ? RESOURCE_KEYS : PROVISIONING_KEYS;
  for (const r of readMap(ctx, e, where) ?? []) {
    const which = ownValue(table, r.key);
    if (which) setResource(ctx, res, which, r, ` in '${e.key}'${where}`);
    else
      report(
        ctx,
        r.keyNode,
        `unknown key '${r.key}' in '${e.key}'${where}${didYouMean(r.key, Object.keys(table))}`,
        r.key,
      );
  }
}

// ---- health check, restart, DNS names ----------------------------------------------------------

export function readHealthCheck(ctx: Ctx, e: Entry, where: string): HealthCheck | undefined {
  const es = readMap(
    ctx,
    e,
    where,
    "a mapping with 'command' or 'port', and optional 'interval', 'timeout', 'retries'",
  );
  if (!es) return undefined;
  const hc: HealthCheck = { intervalMs: 10_000, timeoutMs: 5_000, retries: 3 };
  const w = ` in 'healthCheck'${where}`;
  for (const h of es) {
    if (h.key === 'command') hc.command = readCommand(ctx, h, w);
    else if (h.key === 'port') hc.port = readNumber(ctx, h, w, { integer: true, min: 1, max: 65535 });
    else if (h.key === 'interval') hc.intervalMs = readUnit(ctx, h, w, parseDuration) ?? hc.intervalMs;
    else if (h.key === 'timeout') hc.timeoutMs = readUnit(ctx, h, w, parseDuration) ?? hc.timeoutMs;
    else if (h.key === 'retries') hc.retries = readNumber(ctx, h, w, { integer: true, min: 0 }) ?? hc.retries;
    else report(ctx, h.keyNode, `unknown key '${h.key}'${w}${didYouMean(h.key, HEALTH_CHECK_KEYS)}`, h.key);
  }
  if (!hc.command && hc.port === undefined && !es.some((h) => h.key === 'command' || h.key === 'port')) {
    report(ctx, e.keyNode, `key 'healthCheck'${where} needs 'command' or 'port'`, e.key);
    return undefined;
  }
  return hc;
}

export function readRestart(ctx: Ctx, e: Entry, where: string): RestartPolicy | undefined {
  const text = textOf(e.value);
  if (text !== undefined && (RESTART_POLICIES as readonly string[]).includes(text))
    return text as RestartPolicy;
  expected(ctx, e, where, `one of ${RESTART_POLICIES.join(', ')}`);
  return undefined;
}

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function readDnsNames(ctx: Ctx, e: Entry, where: string): string[] {
  const names = readStringList(ctx, e, where, 'a list of DNS names') ?? [];
  const ok = names.filter((n) => DNS_NAME.test(n));
  if (ok.length !== names.length)
    expected(ctx, e, where, "a list of DNS names (lower-case labels separated by '.')");
  return ok;
}

/** Rejects secrets where they would never be resolved (only env values are templates). */
export function noSecrets(
  ctx: Ctx,
  node: Node,
  values: string[] | undefined,
  key: string,
  where: string,
): void {
  if (values?.some((v) => v.includes('$secret:') || v.includes('${secret:'))) {
    report(
      ctx,
      node,
      `key '${key}'${where} cannot hold secrets; pass them through env values ('$secret:NAME')`,
      key,
    );
  }
}
