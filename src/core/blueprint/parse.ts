/**
 * The blueprint parser: YAML text in, the validated application model out, or a `BlueprintError`
 * listing every problem found with its file, line and column. Pure: the caller reads the file.
 *
 * Top level: `id`, `name`, `description`, `origin`, `location`/`locations`, `services`, `network`,
 * `placement` (or Clocker's `brooklyn.config: {docker.container.strategies: ...}`) and `secrets`.
 * Services are parsed in `service.ts`; references are checked and ordered here.
 */
import * as ipaddr from 'ipaddr.js';
import { LineCounter, isMap, isScalar, isSeq, type Node } from 'yaml';
import { UserError, printable } from '../errors';
import { isDnsLabel } from '../names';
import type { Blueprint, Problem, Service, StrategyConfig } from './model';
import { didYouMean } from './didyoumean';
import { TOP_CONFIG_KEYS, TOP_LEVEL_KEYS } from './keys';
import { readUpdate } from './update';
import { orderByDependencies, type Edge } from './deps';
import { SECRET_NAME_RE } from './references';
import { parseService, type ServiceDraft } from './service';
import { readChain } from './strategies';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { readDocument } from './document';
import { MAX_SERVICES } from './limits';
import { expected, readString } from './read';

/** Raised when a blueprint has problems; each problem is located (file, line, column). */
export class BlueprintError extends UserError {
  constructor(readonly blueprintProblems: Problem[]) {
    super(
      blueprintProblems.length === 1
        ? formatProblem(blueprintProblems[0])
        : `${blueprintProblems.length} problems in ${blueprintProblems[0]?.file}`,
      blueprintProblems.map(formatProblem),
    );
    this.name = 'BlueprintError';
  }
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** Parses and validates blueprint text; throws `BlueprintError` with all problems found. */
export function parseBlueprint(text: string, file: string): Blueprint {
  const result = checkBlueprint(text, file);
  if (!result.blueprint) throw new BlueprintError(result.problems);
  return result.blueprint;
}

/** Like `parseBlueprint`, but returns the problems (sorted by position) instead of throwing. */
export function checkBlueprint(text: string, file: string): { blueprint?: Blueprint; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const read = readDocument(text, file, lineCounter, problems);
  if (!read) return { problems: problems.map((p) => ({ ...p, message: printable(p.message) })) };
  const ctx: Ctx = { file, lineCounter, doc: read.doc, aliases: read.aliases, problems };
  const blueprint = parseRoot(ctx, read.doc.contents);
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return problems.length || !blueprint ? { problems } : { blueprint, problems };
}

function parseRoot(ctx: Ctx, root: Node | null): Blueprint | undefined {
  if (!isMap(root)) {
    report(ctx, root, "a blueprint must be a mapping with 'id' and 'services'");
    return undefined;
  }
  const top = new Map<string, Entry>();
  for (const e of entries(ctx, root)) {
    if ((TOP_LEVEL_KEYS as readonly string[]).includes(e.key)) top.set(e.key, e);
    else
      report(
        ctx,
        e.keyNode,
        `unknown key '${e.key}' at top level${didYouMean(e.key, TOP_LEVEL_KEYS)}`,
        e.key,
      );
  }
  const idEntry = top.get('id');
  const app = textOf(idEntry?.value ?? null) ?? '';
  if (!idEntry)
    report(ctx, root, "key 'id' is required at top level (the application name, a DNS label)", 'id');
  else if (!isDnsLabel(app)) expected(ctx, idEntry, '', "a DNS label (a-z, 0-9, '-'; at most 63 characters)");

  const blueprint: Blueprint = { app, name: app, locations: [], placement: [], secrets: [], services: [] };
  const name = top.get('name');
  if (name) blueprint.name = readString(ctx, name, '') ?? app;
  const description = top.get('description');
  if (description) blueprint.description = readString(ctx, description, '');
  if (top.get('origin')) readString(ctx, top.get('origin')!, '');
  blueprint.locations = readLocations(ctx, top.get('location'), top.get('locations'));
  const network = top.get('network');
  if (network) {
    const cidr = readNetwork(ctx, network);
    if (cidr) blueprint.network = { cidr };
  }
  blueprint.placement = readTopPlacement(ctx, top.get('placement'), top.get('brooklyn.config'), app);
  const update = top.get('update');
  if (update) blueprint.update = readUpdate(ctx, update, ' at top level');
  const declared = top.get('secrets') ? readSecrets(ctx, top.get('secrets')!) : undefined;

  const servicesEntry = top.get('services');
  if (!servicesEntry || !isSeq(servicesEntry.value) || servicesEntry.value.items.length === 0) {
    if (servicesEntry) expected(ctx, servicesEntry, '', 'a non-empty list of services');
    else report(ctx, root, "key 'services' is required at top level (a list of services)", 'services');
    return undefined;
  }
  if (servicesEntry.value.items.length > MAX_SERVICES) {
    const extra = servicesEntry.value.items[MAX_SERVICES] as Node;
    report(ctx, extra, `more than ${MAX_SERVICES} services (the bound on a blueprint)`, 'services');
    return undefined;
  }
  const drafts: ServiceDraft[] = [];
  items(ctx, servicesEntry.value).forEach((item, i) => {
    const d = parseService(ctx, item, i, app, servicesEntry.keyNode);
    if (d) drafts.push(d);
  });
  const services = checkServices(ctx, drafts);
  blueprint.secrets = checkSecrets(ctx, drafts, declared);
  blueprint.services = services;
  return blueprint;
}

function readLocations(ctx: Ctx, location: Entry | undefined, locations: Entry | undefined): string[] {
  const out: string[] = [];
  const one = (e: Entry, node: Node | null): void => {
    // A location is a name (`my-docker-cloud`) or a single-key mapping (`jclouds:softlayer: {...}`);
    // only the name is kept (location mappings can hold credentials).
    const text = textOf(node);
    if (text) out.push(text);
    else if (isMap(node) && node.items.length === 1) out.push(entries(ctx, node)[0].key);
    else expected(ctx, e, '', 'a location name, or a mapping with one location name as key', node);
  };
  if (location && locations)
    report(ctx, locations.keyNode, "give either 'location' or 'locations', not both", 'locations');
  if (location) one(location, location.value);
  if (locations) {
    if (isSeq(locations.value)) for (const item of items(ctx, locations.value)) one(locations, item);
    else expected(ctx, locations, '', 'a list of locations');
  }
  return out;
}

const CIDR_EXPECTED = "an IPv4 CIDR like '10.201.3.0/24' (prefix /8 to /29)";

function readNetwork(ctx: Ctx, e: Entry): string | undefined {
  let entry = e;
  if (isMap(e.value)) {
    const es = entries(ctx, e.value);
    for (const x of es) {
      if (x.key !== 'cidr')
        report(ctx, x.keyNode, `unknown key '${x.key}' in 'network'${didYouMean(x.key, ['cidr'])}`, x.key);
    }
    const cidr = es.find((x) => x.key === 'cidr');
    if (!cidr) {
      report(ctx, e.keyNode, "key 'network' needs 'cidr'", 'network');
      return undefined;
    }
    entry = cidr;
  }
  const text = textOf(entry.value) ?? '';
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text.trim());
  if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[1]) || Number(m[2]) < 8 || Number(m[2]) > 29) {
    expected(ctx, entry, '', CIDR_EXPECTED);
    return undefined;
  }
  const [addr, prefix] = ipaddr.IPv4.parseCIDR(text.trim());
  const network = ipaddr.IPv4.networkAddressFromCIDR(text.trim()).toString();
  if (network !== addr.toString()) {
    report(
      ctx,
      at(entry),
      `network '${text}' has host bits set; did you mean '${network}/${prefix}'?`,
      entry.key,
    );
    return undefined;
  }
  return `${network}/${prefix}`;
}

function readTopPlacement(
  ctx: Ctx,
  placement: Entry | undefined,
  config: Entry | undefined,
  app: string,
): StrategyConfig[] {
  const chains: Entry[] = placement ? [placement] : [];
  if (config) {
    if (!isMap(config.value)) expected(ctx, config, '', 'a mapping');
    else {
      for (const c of entries(ctx, config.value)) {
        if ((TOP_CONFIG_KEYS as readonly string[]).includes(c.key)) chains.push(c);
        else
          report(
            ctx,
            c.keyNode,
            `unknown key '${c.key}' in top-level 'brooklyn.config'${didYouMean(c.key, TOP_CONFIG_KEYS)}`,
            c.key,
          );
      }
    }
  }
  if (chains.length > 1)
    report(
      ctx,
      chains[1].keyNode,
      `key '${chains[1].key}' sets the same thing as '${chains[0].key}'`,
      chains[1].key,
    );
  if (!chains[0]) return [];
  const chain = readChain(ctx, chains[0], ' at top level', app);
  for (const r of chain.rules)
    report(
      ctx,
      r.node,
      "affinity rules belong to a service (its 'affinity' key), not to the app's placement",
    );
  return chain.placement;
}

/** `secrets:` declares names only: a list, or a mapping of names to `{description}`. Values never. */
function readSecrets(ctx: Ctx, e: Entry): string[] {
  const names: string[] = [];
  const add = (name: string, node: Node): void => {
    if (!SECRET_NAME_RE.test(name))
      report(ctx, node, `secret name '${name}' must be letters, digits, '_' or '-'`, 'secrets');
    else names.push(name);
  };
  if (isSeq(e.value)) {
    for (const item of items(ctx, e.value)) {
      const name = textOf(item);
      if (name) add(name, item!);
      else expected(ctx, e, '', 'a list of secret names', item);
    }
  } else if (isMap(e.value)) {
    for (const s of entries(ctx, e.value)) {
      add(s.key, s.keyNode);
      if (isScalar(s.value)) {
        // Never echo the value: it may be the secret itself.
        report(
          ctx,
          s.value,
          `secret '${s.key}' has a value in the blueprint; declare the name only and supply the value at deploy time`,
          'secrets',
        );
      } else if (isMap(s.value)) {
        for (const d of entries(ctx, s.value)) {
          if (d.key !== 'description')
            report(
              ctx,
              d.keyNode,
              `unknown key '${d.key}' in secret '${s.key}'${didYouMean(d.key, ['description'])}`,
              d.key,
            );
        }
      } else if (s.value !== null) expected(ctx, s, '', 'nothing or {description: ...}');
    }
  } else expected(ctx, e, '', 'a list of secret names');
  return names;
}

function checkServices(ctx: Ctx, drafts: ServiceDraft[]): Service[] {
  const byId = new Map<string, ServiceDraft>();
  for (const d of drafts) {
    const id = d.service.id;
    if (!id) continue;
    if (byId.has(id))
      report(
        ctx,
        d.idNode,
        `service id '${id}' is used twice (also at line ${byId.get(id)!.service.position.line})`,
        'id',
      );
    else byId.set(id, d);
  }
  const ids = [...byId.keys()];
  const byName = new Map(drafts.map((d) => [d.service.name, d.service.id]));
  const edges = new Map<string, Edge<Node>[]>();
  for (const d of drafts) {
    if (!d.supported || byId.get(d.service.id) !== d) continue;
    const out: Edge<Node>[] = [];
    for (const u of d.uses) {
      if (!byId.has(u.target)) {
        report(
          ctx,
          u.node,
          `service '${d.service.id}' refers to unknown service '${u.target}' in ${u.via}${didYouMean(u.target, ids)}`,
        );
      } else if (u.target !== d.service.id) out.push({ to: u.target, at: u.node });
    }
    edges.set(d.service.id, out);
    for (const a of d.affinity) {
      if (a.rule.target !== 'service' || a.rule.value === undefined) continue;
      const id = byId.has(a.rule.value) ? a.rule.value : byName.get(a.rule.value);
      if (id === undefined) {
        report(
          ctx,
          a.node,
          `affinity rule in service '${d.service.id}' refers to unknown service '${a.rule.value}'${didYouMean(a.rule.value, ids)}`,
        );
      } else a.rule.value = id;
    }
  }
  const { order, cycles } = orderByDependencies(ids, edges);
  for (const c of cycles) report(ctx, c.at, `dependency cycle: ${c.path.join(' -> ')}`);
  return order
    .map((id) => byId.get(id)!)
    .filter((d) => d.supported)
    .map((d) => d.service);
}

function checkSecrets(ctx: Ctx, drafts: ServiceDraft[], declared: string[] | undefined): string[] {
  const names = [...(declared ?? [])];
  for (const d of drafts) {
    for (const use of d.secretUses) {
      if (declared && !declared.includes(use.name)) {
        report(
          ctx,
          use.node,
          `secret '${use.name}' is not declared in 'secrets'${didYouMean(use.name, declared)}`,
        );
      }
      if (!names.includes(use.name)) names.push(use.name);
    }
  }
  return names;
}
