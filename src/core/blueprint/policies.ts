/**
 * Policies (`policies` / `brooklyn.policies`) and enrichers (`brooklyn.enrichers`). Brooklyn's class
 * names map to native names; durations become `...Ms` numbers.
 */
import { isMap, isSeq, type Node } from 'yaml';
import type { EnricherSpec, PolicySpec } from './model';
import { didYouMean } from './didyoumean';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { expected, readBoolean, readNumber, readString, readUnit } from './read';
import { parseDuration } from './units';
import { autoscalerConfig } from '../policy/autoscaler';
import { MAX_REPLICAS } from './limits';

type Kind = 'string' | 'number' | 'count' | 'duration' | 'boolean' | 'template';
interface PolicyType {
  aliases: string[];
  /** Native key -> kind; Brooklyn spellings in `keyAliases`. */
  keys: Record<string, Kind>;
  keyAliases?: Record<string, string>;
  clusterOnly?: boolean;
  /** Keys that must be given; `a|b` means at least one of them. */
  required?: string[];
}

const ha = (cls: string): string[] => [`org.apache.brooklyn.policy.ha.${cls}`, `brooklyn.policy.ha.${cls}`];

export const POLICY_TYPES: Record<string, PolicyType> = {
  autoscaler: {
    aliases: [
      'org.apache.brooklyn.policy.autoscaling.AutoScalerPolicy',
      'brooklyn.policy.autoscaling.AutoScalerPolicy',
    ],
    keys: {
      metric: 'string',
      metricLowerBound: 'number',
      metricUpperBound: 'number',
      minPoolSize: 'count',
      maxPoolSize: 'count',
      resizeUpStabilizationDelay: 'duration',
      resizeDownStabilizationDelay: 'duration',
      target: 'number',
      tolerance: 'number',
      resizeUpIterationIncrement: 'count',
      resizeUpIterationMax: 'count',
      resizeDownIterationIncrement: 'count',
      resizeDownIterationMax: 'count',
      /** How often Berth's autoscaler workflow evaluates the metric (Berth's own key; default 15s). */
      pollPeriod: 'duration',
    },
    keyAliases: {
      'autoscaler.metric': 'metric',
      'autoscaler.metricLowerBound': 'metricLowerBound',
      'autoscaler.metricUpperBound': 'metricUpperBound',
      'autoscaler.minPoolSize': 'minPoolSize',
      'autoscaler.maxPoolSize': 'maxPoolSize',
      'autoscaler.resizeUpStabilizationDelay': 'resizeUpStabilizationDelay',
      'autoscaler.resizeDownStabilizationDelay': 'resizeDownStabilizationDelay',
      'autoscaler.target': 'target',
      'autoscaler.tolerance': 'tolerance',
      'autoscaler.resizeUpIterationIncrement': 'resizeUpIterationIncrement',
      'autoscaler.resizeUpIterationMax': 'resizeUpIterationMax',
      'autoscaler.resizeDownIterationIncrement': 'resizeDownIterationIncrement',
      'autoscaler.resizeDownIterationMax': 'resizeDownIterationMax',
    },
    clusterOnly: true,
    // Bounds (Brooklyn) or target tracking (HPA); `policy/autoscaler.ts` checks the rest.
    required: ['metric', 'metricUpperBound|target'],
  },
  restarter: {
    aliases: ha('ServiceRestarter'),
    keys: {
      failOnRecurringFailuresInThisDuration: 'duration',
      setOnFireOnFailure: 'boolean',
      maxFailures: 'count',
      backoffInitial: 'duration',
      backoffMax: 'duration',
    },
  },
  replacer: {
    aliases: ha('ServiceReplacer'),
    keys: { failOnRecurringFailuresInThisDuration: 'duration', maxFailures: 'count' },
    clusterOnly: true,
  },
  failureDetector: {
    aliases: ha('ServiceFailureDetector'),
    keys: {
      serviceOnFireStabilizationDelay: 'duration',
      entityFailedStabilizationDelay: 'duration',
      entityRecoveredStabilizationDelay: 'duration',
    },
    keyAliases: {
      'entityFailed.stabilizationDelay': 'entityFailedStabilizationDelay',
      'entityRecovered.stabilizationDelay': 'entityRecoveredStabilizationDelay',
    },
  },
};

export const ENRICHER_TYPES: Record<string, PolicyType> = {
  transformer: {
    aliases: ['org.apache.brooklyn.enricher.stock.Transformer', 'brooklyn.enricher.basic.Transformer'],
    keys: { sourceSensor: 'string', targetSensor: 'string', targetValue: 'template', uniqueTag: 'string' },
    keyAliases: {
      'enricher.sourceSensor': 'sourceSensor',
      'enricher.targetSensor': 'targetSensor',
      'enricher.targetValue': 'targetValue',
    },
    required: ['targetSensor', 'targetValue'],
  },
  // Brooklyn attaches ServiceFailureDetector as an enricher; Berth keeps it with the policies.
  failureDetector: POLICY_TYPES.failureDetector,
};

function typeNamed(table: Record<string, PolicyType>, written: string): string | undefined {
  if (Object.hasOwn(table, written)) return written;
  return Object.keys(table).find((k) => table[k].aliases.includes(written));
}

/** Turns a template-valued key into a template; supplied by the service parser (it knows references). */
export type TemplateReader = (e: Entry, where: string) => string | undefined;

export interface PolicyContext {
  ctx: Ctx;
  where: string;
  isCluster: boolean;
  template: TemplateReader;
}

/** Reads `policies`/`brooklyn.policies` (what = 'policy') or `brooklyn.enrichers` (what = 'enricher'). */
export function readPolicies(
  pc: PolicyContext,
  e: Entry,
  what: 'policy' | 'enricher',
): { policies: PolicySpec[]; enrichers: EnricherSpec[] } {
  const out = { policies: [] as PolicySpec[], enrichers: [] as EnricherSpec[] };
  const { ctx, where } = pc;
  if (!isSeq(e.value)) {
    expected(
      ctx,
      e,
      where,
      `a list of ${what === 'policy' ? 'policies' : 'enrichers'}, each {type: NAME, brooklyn.config: {...}}`,
    );
    return out;
  }
  const table = what === 'policy' ? POLICY_TYPES : ENRICHER_TYPES;
  for (const item of items(ctx, e.value)) {
    const spec = readOne(pc, item ?? e.keyNode, table, what);
    if (!spec) continue;
    if (what === 'enricher' && spec.type !== 'failureDetector') out.enrichers.push(spec);
    else out.policies.push(spec);
  }
  return out;
}

function readOne(
  pc: PolicyContext,
  item: Node,
  table: Record<string, PolicyType>,
  what: string,
): PolicySpec | undefined {
  const { ctx, where } = pc;
  if (!isMap(item)) {
    report(
      ctx,
      item,
      `each ${what}${where} must be a mapping with 'type', got ${textOf(item) ? 'a string' : 'something else'}`,
    );
    return undefined;
  }
  const es = entries(ctx, item);
  const typeEntry = es.find((x) => x.key === 'type' || x.key === 'policyType' || x.key === 'enricherType');
  if (!typeEntry) {
    report(ctx, item, `${what}${where} needs 'type' (one of ${Object.keys(table).join(', ')})`);
    return undefined;
  }
  const written = textOf(typeEntry.value) ?? '';
  const type = typeNamed(table, written);
  if (!type) {
    const names = [...Object.keys(table), ...Object.values(table).flatMap((t) => t.aliases)];
    report(
      ctx,
      at(typeEntry),
      `unsupported ${what} type '${written}'${where}${didYouMean(written, names)} (supported: ${Object.keys(table).join(', ')} and their Brooklyn class names)`,
      'type',
    );
    return undefined;
  }
  const spec = table[type];
  const w = ` of ${what} '${type}'${where}`;
  if (spec.clusterOnly && !pc.isCluster) {
    report(
      ctx,
      at(typeEntry),
      `${what} '${type}'${where} needs a cluster (type 'cluster' with 'initialSize')`,
      'type',
    );
  }
  const problemsBefore = ctx.problems.length;
  const config: Record<string, unknown> = {};
  const known = new Map<string, string>(Object.keys(spec.keys).map((k) => [k, k]));
  for (const [a, k] of Object.entries(spec.keyAliases ?? {})) known.set(a, k);
  const configEntries: Entry[] = [];
  for (const x of es) {
    if (x === typeEntry || x.key === 'id' || x.key === 'name') continue;
    if (x.key === 'brooklyn.config' || x.key === 'config') {
      if (isMap(x.value)) configEntries.push(...entries(ctx, x.value));
      else expected(ctx, x, w, 'a mapping');
    } else configEntries.push(x);
  }
  const given = new Set<string>();
  for (const c of configEntries) {
    const key = known.get(c.key);
    if (key) given.add(key);
    if (!key) {
      report(ctx, c.keyNode, `unknown key '${c.key}'${w}${didYouMean(c.key, known.keys())}`, c.key);
      continue;
    }
    const kind = spec.keys[key];
    const v = readValue(pc, c, w, kind);
    if (v !== undefined) config[kind === 'duration' ? `${key}Ms` : key] = v;
  }
  for (const r of spec.required ?? []) {
    const anyOf = r.split('|');
    if (!anyOf.some((k) => given.has(k))) {
      report(ctx, item, `${what} '${type}'${where} needs '${anyOf.join("' or '")}'`, anyOf[0]);
    }
  }
  checkBounds(pc, item, type, config, ctx.problems.length === problemsBefore);
  return { type, config };
}

function readValue(pc: PolicyContext, e: Entry, where: string, kind: Kind): unknown {
  const { ctx } = pc;
  switch (kind) {
    case 'string':
      return readString(ctx, e, where);
    case 'number':
      return readNumber(ctx, e, where);
    case 'count':
      return readNumber(ctx, e, where, { integer: true, min: 0 });
    case 'duration':
      return readUnit(ctx, e, where, parseDuration);
    case 'boolean':
      return readBoolean(ctx, e, where);
    case 'template':
      return pc.template(e, where);
  }
}

function checkBounds(
  pc: PolicyContext,
  node: Node,
  type: string,
  c: Record<string, unknown>,
  clean: boolean,
): void {
  if (type !== 'autoscaler') return;
  const lt = (a: string, b: string): void => {
    if (typeof c[a] === 'number' && typeof c[b] === 'number' && (c[a] as number) > (c[b] as number)) {
      report(
        pc.ctx,
        node,
        `policy 'autoscaler'${pc.where}: '${a}' (${c[a]}) must not exceed '${b}' (${c[b]})`,
      );
    }
  };
  const before = pc.ctx.problems.length;
  for (const size of ['minPoolSize', 'maxPoolSize'])
    if (typeof c[size] === 'number' && (c[size] as number) > MAX_REPLICAS)
      report(
        pc.ctx,
        node,
        `policy 'autoscaler'${pc.where}: '${size}' (${c[size]}) must not exceed ${MAX_REPLICAS} (the bound on instances of a service)`,
      );
  lt('metricLowerBound', 'metricUpperBound');
  lt('minPoolSize', 'maxPoolSize');
  if (!clean || pc.ctx.problems.length !== before) return;
  // The rest of what the autoscaler will refuse at run time (both modes, equal bounds, steps...).
  try {
    autoscalerConfig(c);
  } catch (e) {
    const message = (e as Error).message.replace(/^autoscaler: /, '');
    report(pc.ctx, node, `policy 'autoscaler'${pc.where}: ${message}`);
  }
}
