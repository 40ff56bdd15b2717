/**
 * The one reading of affinity rules, for blueprints (which report at a line and column) and for
 * the `affinity` strategy's `rules` (inventory files, code). A rule is Clocker's string
 * `[NOT] TYPE|NAME|ID|APPLICATION|PREDICATE|EMPTY [param]` (plus Berth's `SERVICE`, `APP`, `IMAGE`,
 * `LABEL`), or a mapping: `{service: db, not: true, hard: false, weight: 2}` as written in a
 * blueprint, or the model's own `{target, value, negate, hard, weight}`.
 */
import type { AffinityRule } from './types';

export type RuleReading = AffinityRule | { error: string };

export const RULE_EXPECTED =
  "a Clocker rule '[NOT] TYPE|NAME|ID|APPLICATION|EMPTY [param]' or a mapping like {service: db, not: true}";

const KEYWORDS: Record<string, AffinityRule['target']> = {
  NAME: 'service',
  ID: 'service',
  SERVICE: 'service',
  APPLICATION: 'app',
  APP: 'app',
  TYPE: 'image',
  IMAGE: 'image',
  LABEL: 'hostLabel',
  EMPTY: 'empty',
};

/** The mapping keys that name a rule's target (one per rule). */
export const RULE_TARGETS: readonly AffinityRule['target'][] = [
  'service',
  'app',
  'hostLabel',
  'image',
  'empty',
];
const RULE_FLAGS = ['not', 'hard', 'weight'];

/**
 * A string rule. Clocker's rules are all hard. Without a parameter, `APPLICATION` means the rule's
 * own app (`app`, when given). `TYPE docker:redis:3` means the image `redis:3`.
 */
export function parseRuleText(text: string, app?: string): RuleReading {
  const m = /^\s*(NOT\s+)?([A-Za-z]+)(?:\s+(.+?))?\s*$/i.exec(text);
  if (!m) return { error: `unknown affinity rule '${text}': expected ${RULE_EXPECTED}` };
  const verb = m[2].toUpperCase();
  const param = m[3];
  if (verb === 'PREDICATE') return { error: 'PREDICATE rules (Java predicate classes) are not supported' };
  const target = Object.hasOwn(KEYWORDS, verb) ? KEYWORDS[verb] : undefined;
  if (!target) return { error: `unknown affinity rule '${text}': expected ${RULE_EXPECTED}` };
  const rule = (value?: string): AffinityRule => ({
    negate: !!m[1],
    target,
    ...(value === undefined ? {} : { value }),
    hard: true,
    weight: 1,
  });
  switch (target) {
    case 'empty':
      return param ? { error: 'EMPTY takes no parameter' } : rule();
    case 'app':
      return rule(param ?? app);
    case 'image':
      return param ? rule(param.replace(/^docker:/, '')) : { error: `${verb} needs an image or type name` };
    case 'hostLabel':
      return param ? rule(param) : { error: `${verb} needs a label expression` };
    case 'service':
      return param ? rule(param) : { error: `${verb} needs a service name` };
  }
}

/** A mapping rule, in a blueprint's form or the model's; errors name the key at fault. */
export function parseRuleMapping(
  fields: Record<string, unknown>,
  app?: string,
): AffinityRule | { error: string; key?: string } {
  if (Object.hasOwn(fields, 'target')) return parseModelRule(fields);
  const rule: Partial<AffinityRule> = { negate: false, hard: true, weight: 1 };
  for (const [key, value] of Object.entries(fields)) {
    if ((RULE_TARGETS as readonly string[]).includes(key)) {
      if (rule.target) return { error: `an affinity rule has one target; '${key}' is a second one`, key };
      rule.target = key as AffinityRule['target'];
      if (key === 'empty') {
        if (value !== true) return { error: "'empty' must be true", key };
      } else if (key === 'app' && (value === null || value === undefined)) {
        if (app !== undefined) rule.value = app;
      } else if (typeof value === 'string' || typeof value === 'number') rule.value = String(value);
      else return { error: `'${key}' must be a name`, key };
    } else if (key === 'not' || key === 'hard') {
      if (typeof value !== 'boolean') return { error: `'${key}' must be true or false`, key };
      if (key === 'not') rule.negate = value;
      else rule.hard = value;
    } else if (key === 'weight') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        return { error: "'weight' must be a number >= 0", key };
      rule.weight = value;
    } else {
      return { error: `unknown key '${key}' of affinity rule`, key };
    }
  }
  if (!rule.target) return { error: `an affinity rule needs one of ${RULE_TARGETS.join(', ')}` };
  return rule as AffinityRule;
}

function parseModelRule(o: Record<string, unknown>): AffinityRule | { error: string; key?: string } {
  if (!(RULE_TARGETS as readonly unknown[]).includes(o.target))
    return { error: `'target' must be one of ${RULE_TARGETS.join(', ')}`, key: 'target' };
  if (o.weight !== undefined && (typeof o.weight !== 'number' || !Number.isFinite(o.weight)))
    return { error: "'weight' must be a number", key: 'weight' };
  return {
    negate: o.negate === true,
    target: o.target as AffinityRule['target'],
    ...(o.value === undefined ? {} : { value: String(o.value) }),
    hard: o.hard !== false,
    weight: (o.weight as number | undefined) ?? 1,
  };
}

/** The keys a blueprint's mapping rule may have, for did-you-mean hints. */
export const RULE_MAPPING_KEYS: readonly string[] = [...RULE_TARGETS, ...RULE_FLAGS];
