/**
 * Placement strategy chains and affinity rules as a blueprint writes them, in native form and in
 * Clocker's (`docker.container.strategies` with `$brooklyn:object` entries, `affinity.rules`
 * strings). Which strategies exist, their Clocker class names, their keys and aliases and what
 * values they take is the placement registry's knowledge (`../placement/registry.ts`): a chain entry
 * is checked by building it there, and a problem is reported at the line of the key at fault.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { AffinityRule, StrategyConfig } from './model';
import { didYouMean } from './didyoumean';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { expected } from './read';
import {
  CLOCKER_SIMPLE,
  nativeStrategyName,
  primaryKeyOf,
  strategyNames,
  validateStrategy,
} from '../placement/registry';
import { StrategyConfigError } from '../placement/config';
import {
  RULE_EXPECTED,
  RULE_MAPPING_KEYS,
  parseRuleMapping,
  parseRuleText,
} from '../placement/affinity-rules';

/** A parsed chain: strategies in order, plus the affinity rules found in `affinity` entries. */
export interface Chain {
  placement: StrategyConfig[];
  rules: { rule: AffinityRule; node: Node }[];
}

/** The config keys of an `affinity` strategy that hold rules: they become the service's rules. */
const RULE_KEYS = new Set(['rules', 'affinity.rules']);
/** Aliases may nest without bound; a strategy's config is small. */
const MAX_ALIAS_COUNT = 100;

const CLASS_NAME =
  /^(?:(?:brooklyn\.location\.docker\.strategy|clocker\.docker\.location\.strategy)\.(?:[a-z][a-z0-9]*\.)*)?([A-Z][A-Za-z0-9]*)$/;

/**
 * Reads a strategy chain. Entries: `breadthFirst`; `maxContainers: 4` (shorthand for the strategy's
 * primary key); `cpuUsage: {maxCpu: 0.8}`; `{name: cpuUsage, config: {maxCpu: 0.8}}` (the model's
 * own form); or Clocker's `$brooklyn:object: {type: CLASS, brooklyn.config: {...}}`.
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

/** One strategy as written: its name and where, and its config entries. */
interface Written {
  name: string;
  nameNode: Node;
  config: Entry[];
  /** Where a problem with the whole entry is reported. */
  node: Node;
}

function readChainEntry(
  ctx: Ctx,
  item: Node,
  key: string,
  where: string,
  app: string,
  chain: Chain,
): StrategyConfig | undefined {
  const written = readWritten(ctx, item, key, where);
  return written ? configure(ctx, written, where, app, chain) : undefined;
}

function readWritten(ctx: Ctx, item: Node, key: string, where: string): Written | undefined {
  const what = `a strategy name, 'NAME: value', 'NAME: {config}', '{name: NAME, config: {...}}' or '$brooklyn:object: {type: CLASS}'`;
  if (isScalar(item)) return { name: textOf(item) ?? '', nameNode: item, config: [], node: item };
  const es = isMap(item) ? entries(ctx, item) : [];
  const named = es.find((x) => x.key === 'name');
  if (named && es.every((x) => x.key === 'name' || x.key === 'config')) {
    const config = es.find((x) => x.key === 'config');
    if (config && config.value !== null && !isMap(config.value)) {
      expected(ctx, config, where, 'a mapping');
      return undefined;
    }
    const body = isMap(config?.value) ? entries(ctx, config.value) : [];
    return { name: textOf(named.value) ?? '', nameNode: at(named), config: body, node: item };
  }
  if (es.length !== 1) {
    expected(ctx, { key, keyNode: item, value: item }, where, `a list whose items are each ${what}`, item);
    return undefined;
  }
  const [only] = es;
  if (only.key === '$brooklyn:object') return readBrooklynObject(ctx, only, where);
  if (isMap(only.value))
    return { name: only.key, nameNode: only.keyNode, config: entries(ctx, only.value), node: item };
  // `NAME: value` sets the strategy's primary key (checked once the name is known).
  return { name: only.key, nameNode: only.keyNode, config: [{ ...only, key: '' }], node: item };
}

function readBrooklynObject(ctx: Ctx, e: Entry, where: string): Written | undefined {
  const body = isMap(e.value) ? entries(ctx, e.value) : undefined;
  const typeEntry = body?.find((b) => b.key === 'type');
  if (!body || !typeEntry) {
    expected(ctx, e, where, "a mapping with 'type' (a Clocker strategy class) and 'brooklyn.config'");
    return undefined;
  }
  let config: Entry[] = [];
  for (const b of body) {
    if (b.key === 'brooklyn.config' || b.key === 'object.fields')
      config = isMap(b.value) ? entries(ctx, b.value) : [];
    else if (b.key !== 'type')
      report(
        ctx,
        b.keyNode,
        `unknown key '${b.key}' in strategy${where}${didYouMean(b.key, ['type', 'brooklyn.config'])}`,
        b.key,
      );
  }
  return { name: textOf(typeEntry.value) ?? '', nameNode: at(typeEntry), config, node: e.keyNode };
}

/** The registry's name for a written one, or a located "unknown strategy" with a hint. */
function lookup(ctx: Ctx, node: Node, written: string): string | undefined {
  const name = nativeStrategyName(written);
  if (name) return name;
  const m = CLASS_NAME.exec(written);
  const hint =
    m?.[1] && m[1] !== written
      ? didYouMean(m[1], Object.keys(CLOCKER_SIMPLE))
      : didYouMean(written, [...strategyNames(), ...Object.keys(CLOCKER_SIMPLE)]);
  report(ctx, node, `unknown placement strategy '${written}'${hint} (known: ${strategyNames().join(', ')})`);
  return undefined;
}

function configure(
  ctx: Ctx,
  w: Written,
  where: string,
  app: string,
  chain: Chain,
): StrategyConfig | undefined {
  const name = lookup(ctx, w.nameNode, w.name);
  if (!name) return undefined;
  // A Map, then `fromEntries`: a key named `__proto__` or `constructor` stays a plain (unknown) key.
  const config = new Map<string, unknown>();
  const written = new Map<string, Entry>();
  for (const c of w.config) {
    let key = c.key;
    if (key === '') {
      const primary = primaryKeyOf(name);
      if (!primary) {
        expected(ctx, { ...c, key: name }, where, `a mapping (strategy '${name}' has no one-value form)`);
        return undefined;
      }
      key = primary;
    }
    if (name === 'affinity' && RULE_KEYS.has(key)) {
      chain.rules.push(...readAffinity(ctx, { ...c, key }, where, app));
      continue;
    }
    config.set(key, plain(ctx, c.value));
    written.set(key, c);
  }
  try {
    return validateStrategy(name, Object.fromEntries(config));
  } catch (err) {
    if (!(err instanceof StrategyConfigError)) throw err;
    const key = err.key === undefined ? undefined : [...written.keys()].find((k) => isPathOf(k, err.key!));
    const e = key === undefined ? undefined : written.get(key);
    // An unknown key is pointed at itself, a bad value at the value.
    const node = e ? (err.problem.startsWith('unknown key') ? e.keyNode : at(e)) : w.node;
    report(ctx, node, `strategy '${name}'${where}: ${err.problem}`, key);
    return undefined;
  }
}

/** `labels` is the key of the path `labels[0]` and of `labels.x`. */
function isPathOf(key: string, path: string): boolean {
  return path === key || path.startsWith(`${key}[`) || path.startsWith(`${key}.`);
}

/** A value node as plain data (aliases followed, a bounded number of times). */
function plain(ctx: Ctx, node: Node | null): unknown {
  return node === null ? null : node.toJS(ctx.doc, { maxAliasCount: MAX_ALIAS_COUNT });
}

/** Affinity rules: a list of Clocker rule strings and/or mappings like `{service: db, not: true}`. */
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
      const r = parseRuleText(textOf(item) ?? '', app);
      if ('error' in r) report(ctx, node, `${r.error}${where}`, e.key);
      else out.push({ rule: r, node });
    } else if (isMap(item)) {
      const r = readRuleMapping(ctx, item, where, app);
      if (r) out.push({ rule: r, node });
    } else expected(ctx, e, where, `a list of affinity rules, each ${RULE_EXPECTED}`, item);
  }
  return out;
}

function readRuleMapping(ctx: Ctx, item: Node, where: string, app: string): AffinityRule | undefined {
  const es = isMap(item) ? entries(ctx, item) : [];
  const r = parseRuleMapping(Object.fromEntries(es.map((x) => [x.key, plain(ctx, x.value)])), app);
  if (!('error' in r)) return r;
  const at_ = es.find((x) => x.key === r.key);
  const hint = r.key && r.error.startsWith('unknown key') ? didYouMean(r.key, RULE_MAPPING_KEYS) : '';
  report(ctx, at_?.keyNode ?? item, `${r.error}${where}${hint}`, r.key);
  return undefined;
}
