/**
 * One service: collects its keys (directly on the service, in `config`/`brooklyn.config`, and in a
 * cluster's member spec) by the field they set, then builds the model's `Service`. References to
 * other services are returned as `uses` for the blueprint-wide checks and dependency ordering.
 */
import { isMap, type Node } from 'yaml';
import type {
  AffinityRule,
  EnricherSpec,
  ImageSource,
  PolicySpec,
  PortSpec,
  Service,
  StrategyConfig,
  VolumeSpec,
} from './model';
import { isDnsLabel } from '../names';
import { didYouMean } from './didyoumean';
import {
  DEFAULT_BASE_IMAGE,
  MEMBER_STRUCTURE_KEYS,
  MERGEABLE_FIELDS,
  ownValue,
  SERVICE_CONFIG_KEYS,
  SERVICE_STRUCTURE_KEYS,
  type Field,
} from './keys';
import { resolveType, type ResolvedType, type TypeKind } from './types';
import { MAX_REPLICAS } from './limits';
import { readAffinity, readChain } from './strategies';
import { readStopGracePeriod, readStopSignal, readUpdate } from './update';
import { readPolicies, type PolicyContext } from './policies';
import { templateUses } from './references';
import { readEnv, readLinks, readServiceRefs, readTemplate } from './values';
import {
  checkVolumeTargets,
  dedupePorts,
  noSecrets,
  readDnsNames,
  readDockerfile,
  readHealthCheck,
  readImage,
  readPortBindings,
  readPorts,
  readPull,
  readRegistryAuth,
  readResources,
  readRestart,
  readSteps,
  readVolumeMappings,
  readVolumes,
  withTag,
  type Resources,
} from './container';
import { at, describe, entries, positionOf, report, textOf, type Ctx, type Entry } from './yaml';
import { expected, readCommand, readNumber, readString, readStringList } from './read';

/** A reference from this service to another, for the unknown-service check and the ordering. */
export interface ServiceUse {
  target: string;
  node: Node;
  /** What holds the reference, for messages: `env 'DB_HOST'`, `dependsOn`... */
  via: string;
}

export interface ServiceDraft {
  service: Service;
  /** `false` when the type is unsupported: the body was not checked, only the id is registered. */
  supported: boolean;
  idNode: Node;
  uses: ServiceUse[];
  affinity: { rule: AffinityRule; node: Node }[];
  secretUses: { name: string; node: Node }[];
}

type Collected = Map<Field | 'memberType', Entry[]>;

const SERVICE_KEYS = { ...SERVICE_STRUCTURE_KEYS, ...SERVICE_CONFIG_KEYS };
const MEMBER_KEYS = { ...MEMBER_STRUCTURE_KEYS, ...SERVICE_CONFIG_KEYS };

export function parseService(
  ctx: Ctx,
  node: Node | null,
  index: number,
  app: string,
  anchor: Node,
): ServiceDraft | undefined {
  if (!isMap(node)) {
    report(ctx, node ?? anchor, `each service must be a mapping with 'id' and 'type', got ${describe(node)}`);
    return undefined;
  }
  const es = entries(ctx, node);
  const idEntry = es.find((e) => e.key === 'id');
  const id = idEntry ? readId(ctx, idEntry, index) : undefined;
  const where = id === undefined ? ` in service #${index + 1}` : ` in service '${id}'`;
  const typeEntry = es.find((e) => ownValue(SERVICE_STRUCTURE_KEYS, e.key) === 'type');
  const resolved = typeEntry ? resolveTypeAt(ctx, typeEntry, where) : undefined;
  if (!idEntry && resolved?.ok !== false) {
    report(ctx, node, `service #${index + 1} needs an 'id' (a DNS label naming the service)`, 'id');
  }
  const draft: ServiceDraft = {
    service: emptyService(id ?? '', ctx, node),
    supported: resolved?.ok !== false,
    idNode: idEntry?.keyNode ?? node,
    uses: [],
    affinity: [],
    secretUses: [],
  };
  if (!draft.supported || id === undefined) return draft;

  const collected: Collected = new Map();
  collect(ctx, es, SERVICE_KEYS, where, collected, false);
  checkDuplicates(ctx, collected, where);
  build(ctx, draft, collected, resolved?.ok ? resolved : undefined, where, app);
  return draft;
}

function readId(ctx: Ctx, e: Entry, index: number): string | undefined {
  const id = textOf(e.value);
  if (id === undefined || !isDnsLabel(id)) {
    expected(ctx, e, ` in service #${index + 1}`, "a DNS label (a-z, 0-9, '-'; at most 63 characters)");
    return undefined;
  }
  return id;
}

function resolveTypeAt(ctx: Ctx, e: Entry, where: string): ResolvedType {
  const written = textOf(e.value);
  if (written === undefined) {
    expected(ctx, e, where, "a type name such as 'container', 'cluster' or 'docker:IMAGE:TAG'");
    return { ok: false, problem: '', hint: '' };
  }
  const r = resolveType(written);
  if (!r.ok) report(ctx, at(e), `${r.problem}${where}${r.hint}`, e.key);
  return r;
}

function emptyService(id: string, ctx: Ctx, node: Node): Service {
  return {
    id,
    name: id,
    type: 'container',
    replicas: 1,
    source: { kind: 'image', image: '' },
    env: {},
    ports: [],
    volumes: [],
    resources: {},
    restart: 'no',
    dnsNames: [],
    placement: [],
    affinity: [],
    dependsOn: [],
    policies: [],
    position: positionOf(ctx, node),
  };
}

function collect(
  ctx: Ctx,
  es: Entry[],
  table: Record<string, Field>,
  where: string,
  into: Collected,
  member: boolean,
): void {
  for (const e of es) {
    const field = ownValue(table, e.key);
    if (!field) {
      const misplaced = ownValue(SERVICE_STRUCTURE_KEYS, e.key)
        ? ` ('${e.key}' belongs directly on the service)`
        : '';
      report(
        ctx,
        e.keyNode,
        `unknown key '${e.key}'${where}${misplaced || didYouMean(e.key, Object.keys(table))}`,
        e.key,
      );
    } else if (field === 'config') {
      if (isMap(e.value)) collect(ctx, entries(ctx, e.value), SERVICE_CONFIG_KEYS, where, into, member);
      else if (e.value !== null) expected(ctx, e, where, 'a mapping of configuration keys');
    } else if (field === 'memberSpec') {
      push(into, field, e);
      const spec = memberSpecBody(ctx, e, where);
      if (spec) collect(ctx, spec, MEMBER_KEYS, `${where} (member spec)`, into, true);
    } else push(into, member && field === 'type' ? 'memberType' : field, e);
  }
}

/** A member spec: `$brooklyn:entitySpec: {...}` or a plain mapping. */
function memberSpecBody(ctx: Ctx, e: Entry, where: string): Entry[] | undefined {
  const what = "a member spec: a mapping, or '$brooklyn:entitySpec: {type: ..., brooklyn.config: ...}'";
  if (!isMap(e.value)) {
    expected(ctx, e, where, what);
    return undefined;
  }
  const es = entries(ctx, e.value);
  if (es.length === 1 && es[0].key === '$brooklyn:entitySpec') {
    if (isMap(es[0].value)) return entries(ctx, es[0].value);
    expected(ctx, es[0], where, what);
    return undefined;
  }
  return es;
}

function push(into: Collected, field: Field | 'memberType', e: Entry): void {
  const list = into.get(field);
  if (list) list.push(e);
  else into.set(field, [e]);
}

function checkDuplicates(ctx: Ctx, collected: Collected, where: string): void {
  for (const [field, list] of collected) {
    if (field === 'memberType' || MERGEABLE_FIELDS.has(field as Field) || list.length < 2) continue;
    const first = list[0];
    const line = positionOf(ctx, first.keyNode).line;
    for (const dup of list.slice(1)) {
      report(
        ctx,
        dup.keyNode,
        `key '${dup.key}'${where} sets the same thing as '${first.key}' (line ${line})`,
        dup.key,
      );
    }
    list.length = 1;
  }
}

function build(
  ctx: Ctx,
  draft: ServiceDraft,
  c: Collected,
  declared: ResolvedType | undefined,
  where: string,
  app: string,
): void {
  const s = draft.service;
  const all = (f: Field): Entry[] => c.get(f) ?? [];
  const one = (f: Field): Entry | undefined => all(f)[0];
  const declaredKind = declared?.ok ? declared.kind : undefined;

  s.name = (one('name') && readString(ctx, one('name')!, where)) || s.id;
  if (one('description')) readString(ctx, one('description')!, where);
  if (declared?.ok && declared.declared) s.declaredType = declared.declared;

  // Type: explicit, or `cluster` when a size or member spec is given.
  const isCluster =
    declaredKind === 'cluster' || (!declaredKind && (one('replicas') ?? one('memberSpec')) !== undefined);
  s.type = isCluster ? 'cluster' : 'container';
  for (const f of ['replicas', 'memberSpec'] as const) {
    const e = one(f);
    if (e && !isCluster)
      report(ctx, e.keyNode, `key '${e.key}'${where} applies to clusters only (type 'cluster')`, e.key);
  }
  if (isCluster && one('replicas'))
    s.replicas = readNumber(ctx, one('replicas')!, where, { integer: true, min: 0, max: MAX_REPLICAS }) ?? 1;

  // What each container runs: the member spec's type for clusters.
  let kind: TypeKind = declaredKind && declaredKind !== 'cluster' ? declaredKind : 'container';
  let typeImage = declared?.ok ? declared.image : undefined;
  const memberType = c.get('memberType')?.[0];
  if (memberType) {
    const mt = resolveTypeAt(ctx, memberType, where);
    if (mt.ok && mt.kind === 'cluster')
      report(ctx, at(memberType), `a cluster's members cannot be clusters${where}`, memberType.key);
    else if (mt.ok) {
      kind = mt.kind;
      typeImage = mt.image;
    }
  }
  const source = buildSource(ctx, c, kind, typeImage, declared, where, draft);
  if (source) s.source = source;
  buildPull(ctx, draft, c, where);

  const command = one('command');
  if (command) {
    s.command = readCommand(ctx, command, where);
    noSecrets(ctx, at(command), s.command, command.key, where);
    if (s.source.kind === 'entity' && s.source.launch !== undefined) {
      report(
        ctx,
        command.keyNode,
        `key '${command.key}'${where} conflicts with the launch command; give one of them`,
        command.key,
      );
    }
  }

  buildEnv(ctx, draft, all('env'), where);
  s.ports = dedupePorts(buildPorts(ctx, c, where));
  s.volumes = [
    ...all('volumes').flatMap((e) => readVolumes(ctx, e, where)),
    ...all('volumeMappings').flatMap((e) => readVolumeMappings(ctx, e, where)),
  ] satisfies VolumeSpec[];
  checkVolumeTargets(ctx, [...all('volumes'), ...all('volumeMappings')], s.volumes, where);
  s.resources = buildResources(ctx, c, where);
  if (one('healthCheck')) s.healthCheck = readHealthCheck(ctx, one('healthCheck')!, where);
  if (one('restart')) s.restart = readRestart(ctx, one('restart')!, where) ?? 'no';
  if (one('dnsNames')) s.dnsNames = readDnsNames(ctx, one('dnsNames')!, where);
  if (one('update')) s.update = readUpdate(ctx, one('update')!, where);
  if (one('stopSignal')) s.stopSignal = readStopSignal(ctx, one('stopSignal')!, where);
  if (one('stopGracePeriod')) s.stopGracePeriodMs = readStopGracePeriod(ctx, one('stopGracePeriod')!, where);

  buildPlacement(ctx, draft, c, where, app);
  buildDependencies(ctx, draft, c, where);
  buildPolicies(ctx, draft, c, where, isCluster);
}

function buildSource(
  ctx: Ctx,
  c: Collected,
  kind: TypeKind,
  typeImage: string | undefined,
  declared: ResolvedType | undefined,
  where: string,
  draft: ServiceDraft,
): ImageSource | undefined {
  const one = (f: Field): Entry | undefined => c.get(f)?.[0];
  const imageEntry = one('image');
  let image = typeImage;
  if (imageEntry) {
    if (typeImage) {
      report(
        ctx,
        imageEntry.keyNode,
        `key '${imageEntry.key}'${where} conflicts with the image in its type 'docker:${typeImage}'`,
        imageEntry.key,
      );
    } else image = readImage(ctx, imageEntry, where);
  }
  const tag = one('imageTag');
  if (tag && !imageEntry)
    report(
      ctx,
      tag.keyNode,
      `key '${tag.key}'${where} needs an image name ('image' or 'docker.image.name')`,
      tag.key,
    );
  if (image !== undefined && imageEntry) image = withTag(ctx, image, tag, where);

  const steps = { install: one('install'), customize: one('customize'), launch: one('launch') };
  const isEntity = kind === 'entity' || kind === 'vanilla' || Object.values(steps).some(Boolean);
  const dockerfile = one('dockerfile');
  if (dockerfile && (imageEntry || typeImage || isEntity)) {
    const other =
      isEntity && !imageEntry && !typeImage ? 'an entity definition (install/launch commands)' : 'an image';
    report(
      ctx,
      dockerfile.keyNode,
      `key '${dockerfile.key}'${where} conflicts with ${other}; give one image source`,
      dockerfile.key,
    );
    return undefined;
  }
  if (isEntity) {
    const install = steps.install ? (readSteps(ctx, steps.install, where) ?? []) : [];
    const customize = steps.customize ? (readSteps(ctx, steps.customize, where) ?? []) : [];
    const launch = steps.launch ? readSteps(ctx, steps.launch, where)?.join('\n') : undefined;
    if (kind === 'vanilla' && !steps.launch) {
      report(
        ctx,
        draft.idNode,
        `service '${draft.service.id}' of type '${declared?.ok ? declared.declared : ''}' needs 'launch.command'`,
        'launch.command',
      );
    }
    return {
      kind: 'entity',
      base: image ?? DEFAULT_BASE_IMAGE,
      install,
      customize,
      ...(launch === undefined ? {} : { launch }),
    };
  }
  if (dockerfile) return readDockerfile(ctx, dockerfile, where);
  if (image !== undefined) return { kind: 'image', image };
  if (!imageEntry) {
    report(
      ctx,
      draft.idNode,
      `service '${draft.service.id}' has no image source: set 'image' (or 'docker.image.name'), 'dockerfile' (or 'docker.dockerfile.url'), install/launch commands, or type 'docker:IMAGE:TAG'`,
    );
  }
  return undefined;
}

/** How an image source is pulled, and with which credentials (a secret, checked like env's). */
function buildPull(ctx: Ctx, draft: ServiceDraft, c: Collected, where: string): void {
  const s = draft.service;
  const pull = c.get('pull')?.[0];
  const auth = c.get('registryAuth')?.[0];
  for (const e of [pull, auth]) {
    if (e && s.source.kind !== 'image')
      report(
        ctx,
        e.keyNode,
        `key '${e.key}'${where} applies to an image source ('image' or 'docker:IMAGE:TAG'); images Berth builds go through the pool's registry`,
        e.key,
      );
  }
  if (s.source.kind !== 'image') return;
  const policy = pull ? readPull(ctx, pull, where) : undefined;
  if (policy) s.pull = policy;
  const secret = auth ? readRegistryAuth(ctx, auth, where) : undefined;
  if (secret) {
    s.registryAuth = secret;
    draft.secretUses.push({ name: secret, node: at(auth!) });
  }
}

function buildEnv(ctx: Ctx, draft: ServiceDraft, list: Entry[], where: string): void {
  const env = draft.service.env;
  const secrets = new Set<string>();
  for (const e of list) {
    for (const v of readEnv(ctx, e, where, draft.service.id)) {
      if (Object.hasOwn(env, v.name)) report(ctx, v.node, `env '${v.name}'${where} is set twice`);
      // defineProperty: a plain assignment of `__proto__` would set the prototype, not a variable.
      Object.defineProperty(env, v.name, {
        value: v.template,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      const uses = templateUses(v.template);
      for (const r of uses.refs) draft.uses.push({ target: r.service, node: v.node, via: `env '${v.name}'` });
      for (const name of uses.secrets) {
        secrets.add(name);
        draft.secretUses.push({ name, node: v.node });
      }
    }
  }
  if (secrets.size) draft.service.secrets = [...secrets];
}

function buildPorts(ctx: Ctx, c: Collected, where: string): PortSpec[] {
  const all = (f: Field): Entry[] => c.get(f) ?? [];
  return [
    ...all('ports').flatMap((e) => readPorts(ctx, e, where, 'native')),
    ...all('openPorts').flatMap((e) => readPorts(ctx, e, where, 'open')),
    ...all('directPorts').flatMap((e) => readPorts(ctx, e, where, 'direct')),
    ...all('portBindings').flatMap((e) => readPortBindings(ctx, e, where)),
  ];
}

function buildResources(ctx: Ctx, c: Collected, where: string): Resources {
  const res: Resources = {};
  for (const f of ['cpus', 'memory'] as const)
    for (const e of c.get(f) ?? []) readResources(ctx, res, e, 'direct', where);
  for (const e of c.get('resources') ?? []) readResources(ctx, res, e, 'resources', where);
  for (const e of c.get('provisioningProperties') ?? []) readResources(ctx, res, e, 'provisioning', where);
  return res;
}

function buildPlacement(ctx: Ctx, draft: ServiceDraft, c: Collected, where: string, app: string): void {
  const placement: StrategyConfig[] = [];
  for (const e of c.get('placement') ?? []) {
    const chain = readChain(ctx, e, where, app);
    placement.push(...chain.placement);
    draft.affinity.push(...chain.rules);
  }
  for (const e of c.get('affinity') ?? []) draft.affinity.push(...readAffinity(ctx, e, where, app));
  const labels = c.get('constraintLabels')?.[0];
  const hostname = c.get('constraintHostname')?.[0];
  if (labels || hostname) {
    const config: Record<string, unknown> = {};
    if (labels) {
      const value = readLabels(ctx, labels, where);
      if (value) config.labels = value;
    }
    if (hostname) {
      const value = readString(ctx, hostname, where);
      if (value) config.hostname = value;
    }
    placement.push({ name: 'labelConstraint', config });
  }
  draft.service.placement = placement;
  draft.service.affinity = draft.affinity.map((a) => a.rule);
}

/** Host labels: a list, or one comma-separated string as Clocker allowed. */
function readLabels(ctx: Ctx, e: Entry, where: string): string[] | undefined {
  return readStringList(ctx, e, where, 'a list of host labels')?.flatMap((l) =>
    l.split(',').map((x) => x.trim()),
  );
}

function buildDependencies(ctx: Ctx, draft: ServiceDraft, c: Collected, where: string): void {
  const s = draft.service;
  const deps: string[] = [];
  const add = (id: string, node: Node, via: string): void => {
    if (id === s.id) {
      report(ctx, node, `service '${s.id}' cannot depend on itself (${via})`);
      return;
    }
    draft.uses.push({ target: id, node, via });
    if (!deps.includes(id)) deps.push(id);
  };
  for (const f of ['dependsOn', 'latch'] as const) {
    for (const e of c.get(f) ?? [])
      for (const r of readServiceRefs(ctx, e, where, s.id)) add(r.id, r.node, `'${e.key}'`);
  }
  const links: Record<string, string> = {};
  for (const e of c.get('links') ?? []) {
    for (const l of readLinks(ctx, e, where, s.id)) {
      if (!isDnsLabel(l.alias)) report(ctx, l.node, `link alias '${l.alias}'${where} must be a DNS label`);
      links[l.alias] = l.id;
      add(l.id, l.node, `link '${l.alias}'`);
    }
  }
  if (Object.keys(links).length) s.links = links;
  for (const u of draft.uses) if (u.target !== s.id && !deps.includes(u.target)) deps.push(u.target);
  s.dependsOn = deps;
}

function buildPolicies(ctx: Ctx, draft: ServiceDraft, c: Collected, where: string, isCluster: boolean): void {
  const s = draft.service;
  const pc: PolicyContext = {
    ctx,
    where,
    isCluster,
    template: (e, w) => {
      const t = readTemplate(ctx, e.value, s.id, `key '${e.key}'${w}`, e.keyNode);
      for (const r of t === undefined ? [] : templateUses(t).refs) {
        draft.uses.push({ target: r.service, node: at(e), via: `key '${e.key}'` });
        if (r.service !== s.id && !s.dependsOn.includes(r.service)) s.dependsOn.push(r.service);
      }
      return t;
    },
  };
  const policies: PolicySpec[] = [];
  const enrichers: EnricherSpec[] = [];
  for (const e of c.get('policies') ?? []) policies.push(...readPolicies(pc, e, 'policy').policies);
  for (const e of c.get('enrichers') ?? []) {
    const r = readPolicies(pc, e, 'enricher');
    policies.push(...r.policies);
    enrichers.push(...r.enrichers);
  }
  s.policies = policies;
  if (enrichers.length) s.enrichers = enrichers;
}
