/**
 * Placement strategy chains and affinity rules, in native form and in Clocker's
 * (`docker.container.strategies` with `$brooklyn:object` entries, `affinity.rules` strings).
 * Strategy names in the model are the placement registry's native names.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { AffinityRule, StrategyConfig } from './model';
import { didYouMean } from './didyoumean';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { expected, readBoolean, readNumber, readString, readStringList } from './read';

export const STRATEGY_NAMES = [
  'maxContainers',
  'cpuUsage',
  'memoryAvailable',
  'cpuCoresAvailable',
  'breadthFirst',
  'depthFirst',
  'binPack',
  'spread',
  'labelConstraint',
  'affinity',
  'distinctHosts',
  'maxPerHost',
  'provisioning',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Clocker's strategy classes (after `brooklyn.location.docker.strategy.` or `clocker.docker.location.strategy.`). */
export const STRATEGY_CLASSES: Record<string, StrategyName> = {
  MaxContainersPlacementStrategy: 'maxContainers',
  CpuUsagePlacementStrategy: 'cpuUsage',
  MemoryAvailablePlacementStrategy: 'memoryAvailable',
  CpuCoresAvailablePlacementStrategy: 'cpuCoresAvailable',
  BreadthFirstPlacementStrategy: 'breadthFirst',
  DepthFirstPlacementStrategy: 'depthFirst',
  LabelPlacementStrategy: 'labelConstraint',
  HostnamePlacementStrategy: 'labelConstraint',
  AffinityStrategy: 'affinity',
  ProvisioningStrategy: 'provisioning',
};

const CLASS_NAME =
  /^(?:(?:brooklyn\.location\.docker\.strategy|clocker\.docker\.location\.strategy)\.(?:[a-z][a-z0-9]*\.)*)?([A-Z][A-Za-z0-9]*)$/;

type ParamKind = 'count' | 'fraction' | 'labels' | 'string' | 'rules';
interface ParamSpec {
  kind: ParamKind;
  /** Clocker config keys meaning the same. */
  aliases?: string[];
  default?: unknown;
}

/** Parameters per strategy; the first is the one a scalar shorthand (`maxContainers: 4`) sets. */
export const STRATEGY_PARAMS: Record<StrategyName, Record<string, ParamSpec>> = {
  maxContainers: {
    maxContainers: { kind: 'count', aliases: ['docker.container.cluster.maxSize', 'maxSize'], default: 8 },
  },
  cpuUsage: { maxCpu: { kind: 'fraction', aliases: ['docker.container.cluster.maxCpu'], default: 0.5 } },
  memoryAvailable: {},
  cpuCoresAvailable: {},
  breadthFirst: {},
  depthFirst: {},
  binPack: {},
  spread: {},
  labelConstraint: {
    labels: { kind: 'labels', aliases: ['docker.constraint.labels'] },
    hostname: { kind: 'string', aliases: ['docker.constraint.hostname'] },
  },
  affinity: { rules: { kind: 'rules', aliases: ['affinity.rules'] } },
  distinctHosts: {},
  maxPerHost: { maxPerHost: { kind: 'count', aliases: ['max'] } },
  provisioning: { maxHosts: { kind: 'count', aliases: ['docker.host.cluster.maxSize'] } },
};

export function strategyName(written: string): StrategyName | undefined {
  if ((STRATEGY_NAMES as readonly string[]).includes(written)) return written as StrategyName;
  const m = CLASS_NAME.exec(written);
  return m ? STRATEGY_CLASSES[m[1]] : undefined;
}

/** A parsed chain: strategies in order, plus the affinity rules found in `affinity` entries. */
export interface Chain {
  placement: StrategyConfig[];
  rules: { rule: AffinityRule; node: Node }[];
}

/**
 * Reads a strategy chain. Entries: `breadthFirst`; `maxContainers: 4` (shorthand for the first
 * parameter); `cpuUsage: {maxCpu: 0.8}`; or Clocker's `$brooklyn:object: {type: CLASS, brooklyn.config: {...}}`.
 */
export function readChain(ctx: Ctx, e: Entry, where: string, app: string): Chain {
  const chain: Chain = { placement: [], rules: [] };
  if (!isSeq(e.value)) {
    expected(ctx, e, where, 'a list of placement strategies');
    return chain;
  }
  for (const item of items(ctx, e.value)) {
    const entry = readChainEntry(ctx, item ?? e.keyNode, e.key, where, app, chain);
    if (entry) chain.placement.push(entry);
  }
  return chain;
}

function readChainEntry(
  ctx: Ctx,
  item: Node,
  key: string,
  where: string,
  app: string,
  chain: Chain,
): StrategyConfig | undefined {
  const what = `a strategy name, 'NAME: value', 'NAME: {config}' or '$brooklyn:object: {type: CLASS}'`;
  if (isScalar(item)) {
    const name = lookup(ctx, item, textOf(item) ?? '');
    return name ? configure(ctx, name, [], where, app, chain) : undefined;
  }
  const es = isMap(item) ? entries(ctx, item) : [];
  if (es.length !== 1) {
    expected(ctx, { key, keyNode: item, value: item }, where, `a list whose items are each ${what}`, item);
    return undefined;
  }
  const [only] = es;
  if (only.key === '$brooklyn:object') {
    const body = isMap(only.value) ? entries(ctx, only.value) : undefined;
    const typeEntry = body?.find((b) => b.key === 'type');
    if (!body || !typeEntry) {
      expected(ctx, only, where, "a mapping with 'type' (a Clocker strategy class) and 'brooklyn.config'");
      return undefined;
    }
    let config: Entry[] = [];
    for (const b of body) {
      if (b.key === 'brooklyn.config' || b.key === 'object.fields')
        config = isMap(b.value) ? entries(ctx, b.value) : [];
      else if (b.key !== 'type') {
        report(
          ctx,
          b.keyNode,
          `unknown key '${b.key}' in strategy${where}${didYouMean(b.key, ['type', 'brooklyn.config'])}`,
          b.key,
        );
      }
    }
    const name = lookup(ctx, at(typeEntry), textOf(typeEntry.value) ?? '');
    return name ? configure(ctx, name, config, where, app, chain) : undefined;
  }
  const name = lookup(ctx, only.keyNode, only.key);
  if (!name) return undefined;
  if (isMap(only.value)) return configure(ctx, name, entries(ctx, only.value), where, app, chain);
  const primary = Object.keys(STRATEGY_PARAMS[name])[0];
  if (!primary) {
    expected(ctx, only, where, `nothing (strategy '${name}' takes no parameters)`);
    return undefined;
  }
  return configure(ctx, name, [{ ...only, key: primary }], where, app, chain);
}

function lookup(ctx: Ctx, node: Node, written: string): StrategyName | undefined {
  const name = strategyName(written);
  if (name) return name;
  const m = CLASS_NAME.exec(written);
  const hint = m?.[1] ? didYouMean(m[1], Object.keys(STRATEGY_CLASSES)) : didYouMean(written, STRATEGY_NAMES);
  report(ctx, node, `unknown placement strategy '${written}'${hint} (known: ${STRATEGY_NAMES.join(', ')})`);
  return undefined;
}

function configure(
  ctx: Ctx,
  name: StrategyName,
  config: Entry[],
  where: string,
  app: string,
  chain: Chain,
): StrategyConfig {
  const params = STRATEGY_PARAMS[name];
  const known = new Map<string, string>();
  for (const [p, spec] of Object.entries(params)) {
    known.set(p, p);
    for (const a of spec.aliases ?? []) known.set(a, p);
  }
  const out: Record<string, unknown> = {};
  for (const [p, spec] of Object.entries(params)) if (spec.default !== undefined) out[p] = spec.default;
  const w = ` of strategy '${name}'${where}`;
  for (const c of config) {
    const param = known.get(c.key);
    if (!param) {
      const hint = known.size ? didYouMean(c.key, known.keys()) : ` (strategy '${name}' takes no parameters)`;
      report(ctx, c.keyNode, `unknown key '${c.key}'${w}${hint}`, c.key);
      continue;
    }
    const v = readParam(ctx, c, w, params[param].kind, app, chain);
    if (v !== undefined) out[param] = v;
  }
  return { name, config: out };
}

function readParam(ctx: Ctx, e: Entry, where: string, kind: ParamKind, app: string, chain: Chain): unknown {
  switch (kind) {
    case 'count':
      return readNumber(ctx, e, where, { integer: true, min: 1 });
    case 'fraction':
      return readNumber(ctx, e, where, { min: 0, max: 1 });
    case 'labels':
      return readStringList(ctx, e, where, 'a list of host labels');
    case 'string':
      return readString(ctx, e, where);
    case 'rules':
      chain.rules.push(...readAffinity(ctx, e, where, app));
      return undefined;
  }
}

// ---- affinity rules --------------------------------------------------------------------------

const RULE_EXPECTED =
  "a Clocker rule '[NOT] TYPE|NAME|ID|APPLICATION|EMPTY [param]' or a mapping like {service: db, not: true}";

/** Clocker's string form: `[NOT] TYPE|NAME|ID|APPLICATION|PREDICATE|EMPTY [param]`. */
export function parseAffinityRule(text: string, app: string): AffinityRule | { error: string } {
  const words = text.trim().split(/\s+/);
  const negate = words[0]?.toUpperCase() === 'NOT';
  if (negate) words.shift();
  const verb = (words.shift() ?? '').toUpperCase();
  const param = words.join(' ') || undefined;
  const rule = (target: AffinityRule['target'], value?: string): AffinityRule => ({
    negate,
    target,
    ...(value === undefined ? {} : { value }),
    hard: true,
    weight: 1,
  });
  switch (verb) {
    case 'TYPE':
      return param
        ? rule('image', param.replace(/^docker:/, ''))
        : { error: 'TYPE needs an image or type name' };
    case 'NAME':
    case 'ID':
      return param ? rule('service', param) : { error: `${verb} needs a service name` };
    case 'APPLICATION':
      return rule('app', param ?? app);
    case 'EMPTY':
      return param ? { error: 'EMPTY takes no parameter' } : rule('empty');
    case 'PREDICATE':
      return { error: 'PREDICATE rules (Java predicate classes) are not supported' };
    default:
      return { error: `unknown affinity rule '${text}': expected ${RULE_EXPECTED}` };
  }
}

const RULE_TARGETS: Record<string, AffinityRule['target']> = {
  service: 'service',
  app: 'app',
  hostLabel: 'hostLabel',
  image: 'image',
  empty: 'empty',
};

/** Affinity rules: a list of Clocker rule strings and/or native mappings. */
export function readAffinity(
  ctx: Ctx,
  e: Entry,
  where: string,
  app: string,
): { rule: AffinityRule; node: Node }[] {
  const out: { rule: AffinityRule; node: Node }[] = [];
  const list = isSeq(e.value) ? items(ctx, e.value) : isScalar(e.value) ? [e.value] : undefined;
  if (!list) {
    expected(ctx, e, where, `a list of affinity rules, each ${RULE_EXPECTED}`);
    return out;
  }
  for (const item of list) {
    const node = item ?? e.keyNode;
    if (isScalar(item)) {
      const r = parseAffinityRule(textOf(item) ?? '', app);
      if ('error' in r) report(ctx, node, `${r.error}${where}`, e.key);
      else out.push({ rule: r, node });
    } else if (isMap(item)) {
      const r = readNativeRule(ctx, entries(ctx, item), node, where, app);
      if (r) out.push({ rule: r, node });
    } else expected(ctx, e, where, `a list of affinity rules, each ${RULE_EXPECTED}`, item);
  }
  return out;
}

function readNativeRule(
  ctx: Ctx,
  es: Entry[],
  node: Node,
  where: string,
  app: string,
): AffinityRule | undefined {
  const rule: Partial<AffinityRule> = { negate: false, hard: true, weight: 1 };
  const w = ` of affinity rule${where}`;
  let ok = true;
  for (const e of es) {
    if (e.key in RULE_TARGETS) {
      if (rule.target) {
        report(ctx, e.keyNode, `an affinity rule has one target; '${e.key}' is a second one${where}`, e.key);
        ok = false;
      }
      rule.target = RULE_TARGETS[e.key];
      if (e.key === 'empty') ok = readBoolean(ctx, e, w) === true && ok;
      else if (e.key === 'app' && e.value === null) rule.value = app;
      else {
        rule.value = readString(ctx, e, w);
        ok = rule.value !== undefined && ok;
      }
    } else if (e.key === 'not') rule.negate = readBoolean(ctx, e, w) ?? false;
    else if (e.key === 'hard') rule.hard = readBoolean(ctx, e, w) ?? true;
    else if (e.key === 'weight') rule.weight = readNumber(ctx, e, w, { min: 0 }) ?? 1;
    else {
      report(
        ctx,
        e.keyNode,
        `unknown key '${e.key}'${w}${didYouMean(e.key, [...Object.keys(RULE_TARGETS), 'not', 'hard', 'weight'])}`,
        e.key,
      );
      ok = false;
    }
  }
  if (!rule.target) {
    report(ctx, node, `an affinity rule needs one of ${Object.keys(RULE_TARGETS).join(', ')}${where}`);
    return undefined;
  }
  return ok ? (rule as AffinityRule) : undefined;
}
