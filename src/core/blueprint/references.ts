/**
 * References between services and secrets inside values.
 *
 * The model's one form is a template string: `${service.attribute}` for another service's attribute,
 * `${secret:NAME}` for a secret, `$${` for a literal `${`. Brooklyn's DSL
 * (`$brooklyn:component("db").attributeWhenReady("host.address")`, `$brooklyn:formatString(...)`,
 * `$brooklyn:attributeWhenReady(...)`, `$brooklyn:external(...)`) and `$secret:NAME` are normalised
 * to it here. `resolveTemplate` fills a template in at deploy time from a lookup.
 */
import { UserError } from '../errors';

export interface Reference {
  service: string;
  attribute: string;
}

export type TemplatePart = { literal: string } | { ref: Reference } | { secret: string };

const SERVICE_ID = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const REF = new RegExp(`^(${SERVICE_ID})\\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$`);
const SECRET_NAME = '[A-Za-z_][A-Za-z0-9_-]*';
const SECRET_REF = new RegExp(`^secret:(${SECRET_NAME})$`);
export const SECRET_NAME_RE = new RegExp(`^${SECRET_NAME}$`);

/**
 * Brooklyn attribute (sensor) names with a native equivalent. `host` is the service's DNS name,
 * `address` the private address of its first instance; other names pass through as written.
 */
export const ATTRIBUTE_ALIASES: Record<string, string> = {
  'host.address': 'address',
  'host.subnet.address': 'address',
  'host.name': 'host',
  'host.subnet.hostname': 'host',
  hostname: 'host',
};

export function nativeAttribute(name: string): string {
  return Object.hasOwn(ATTRIBUTE_ALIASES, name) ? ATTRIBUTE_ALIASES[name] : name;
}

/** Splits a template into literal text, references and secrets; `{error}` when malformed. */
export function parseTemplate(template: string): { parts: TemplatePart[] } | { error: string } {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (template.startsWith('${', i)) {
      const end = template.indexOf('}', i + 2);
      if (end < 0) return { error: `unterminated reference '${template.slice(i)}'` };
      const body = template.slice(i + 2, end);
      const secret = SECRET_REF.exec(body);
      const ref = REF.exec(body);
      if (literal) parts.push({ literal });
      literal = '';
      if (secret) parts.push({ secret: secret[1] });
      else if (ref) parts.push({ ref: { service: ref[1], attribute: ref[2] } });
      else {
        return {
          error: `invalid reference '\${${body}}': expected '\${service.attribute}' or '\${secret:NAME}' (write '$\${' for a literal '\${')`,
        };
      }
      i = end + 1;
    } else {
      literal += template[i];
      i += 1;
    }
  }
  if (literal) parts.push({ literal });
  return { parts };
}

/** Escapes literal text so it reads back unchanged as a template. */
export function escapeLiteral(text: string): string {
  return text.replace(/\$\{/g, () => '$${');
}

export interface TemplateLookup {
  attribute(service: string, attribute: string): string | undefined;
  secret(name: string): string | undefined;
}

export class TemplateError extends UserError {
  constructor(
    readonly template: string,
    readonly missing: string[],
  ) {
    super(`cannot resolve ${missing.join(', ')}`);
    this.name = 'TemplateError';
  }
}

/** Fills in a template's references and secrets; throws `TemplateError` naming what is missing. */
export function resolveTemplate(template: string, lookup: TemplateLookup): string {
  const parsed = parseTemplate(template);
  if ('error' in parsed) throw new TemplateError(template, [parsed.error]);
  const missing: string[] = [];
  const out = parsed.parts.map((p) => {
    if ('literal' in p) return p.literal;
    if ('secret' in p) {
      const v = lookup.secret(p.secret);
      if (v === undefined) missing.push(`secret '${p.secret}'`);
      return v ?? '';
    }
    const v = lookup.attribute(p.ref.service, p.ref.attribute);
    if (v === undefined) missing.push(`'${p.ref.service}.${p.ref.attribute}'`);
    return v ?? '';
  });
  if (missing.length) throw new TemplateError(template, missing);
  return out.join('');
}

/** Resolves every value of an environment (deploy time). */
export function resolveEnv(env: Record<string, string>, lookup: TemplateLookup): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolveTemplate(v, lookup)]));
}

/** The references and secret names a template uses. */
export function templateUses(template: string): { refs: Reference[]; secrets: string[] } {
  const parsed = parseTemplate(template);
  const refs: Reference[] = [];
  const secrets: string[] = [];
  if ('parts' in parsed) {
    for (const p of parsed.parts) {
      if ('ref' in p) refs.push(p.ref);
      if ('secret' in p) secrets.push(p.secret);
    }
  }
  return { refs, secrets };
}

// ---- Brooklyn DSL ---------------------------------------------------------------------------

/** What a DSL expression evaluates to. */
export type DslValue =
  { kind: 'text'; template: string } | { kind: 'entity'; id: string } | { kind: 'ref'; ref: Reference };

export type DslResult = DslValue | { kind: 'error'; error: string };

export function dslTemplate(v: DslValue): string {
  if (v.kind === 'text') return v.template;
  if (v.kind === 'ref') return `\${${v.ref.service}.${v.ref.attribute}}`;
  return `\${${v.id}.host}`;
}

type Token = { t: 'id' | 'str' | 'punct'; v: string };

function tokenize(src: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) i++;
    else if (src.startsWith('$brooklyn:', i)) i += '$brooklyn:'.length;
    else if ('(),.'.includes(c)) out.push({ t: 'punct', v: src[i++] });
    else if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        s += src[i++];
      }
      if (i >= src.length) return 'unterminated string';
      i++;
      out.push({ t: 'str', v: s });
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (!m) return `unexpected '${c}'`;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

const err = (error: string): DslResult => ({ kind: 'error', error });

/** Applies a Brooklyn DSL function to evaluated arguments. */
export function applyDsl(name: string, args: DslValue[], self: string): DslResult {
  const str = (v: DslValue | undefined): string | undefined =>
    v?.kind === 'text' ? unescape(v.template) : undefined;
  switch (name) {
    case 'component':
    case 'entity': {
      const id = str(args[args.length - 1]);
      return id && args.length <= 2 ? { kind: 'entity', id } : err(`${name}(...) takes a service id string`);
    }
    case 'self':
      return { kind: 'entity', id: self };
    case 'attributeWhenReady': {
      const attr = str(args[0]);
      return attr && args.length === 1
        ? { kind: 'ref', ref: { service: self, attribute: nativeAttribute(attr) } }
        : err('attributeWhenReady(...) takes an attribute name string');
    }
    case 'formatString':
      return formatString(args);
    case 'literal': {
      const s = args[0];
      return s?.kind === 'text' && args.length === 1 ? s : err('literal(...) takes a string');
    }
    case 'external': {
      const key = str(args[1]);
      if (!key || args.length !== 2 || !SECRET_NAME_RE.test(key)) {
        return err('external(provider, NAME) takes a provider and a secret name');
      }
      return { kind: 'text', template: `\${secret:${key}}` };
    }
    default:
      return err(
        `unsupported Brooklyn DSL function '${name}' (supported: component, attributeWhenReady, formatString, external, literal)`,
      );
  }
}

function unescape(template: string): string {
  return template.replace(/\$\$\{/g, () => '${');
}

function formatString(args: DslValue[]): DslResult {
  const [fmt, ...rest] = args;
  if (fmt?.kind !== 'text') return err('formatString(...) takes a format string first');
  let n = 0;
  let bad = false;
  const template = fmt.template.replace(/%([%sd])/g, (_m, c: string) => {
    if (c === '%') return '%';
    const arg = rest[n++];
    if (!arg) bad = true;
    return arg ? dslTemplate(arg) : '';
  });
  if (bad) return err(`formatString(...) has more '%s' than arguments`);
  if (n < rest.length) return err(`formatString(...) has more arguments than '%s'`);
  return { kind: 'text', template };
}

/** Evaluates one `$brooklyn:...` expression string. */
export function evaluateDsl(src: string, self: string): DslResult {
  const tokens = tokenize(src);
  if (typeof tokens === 'string') return err(`cannot parse Brooklyn DSL: ${tokens}`);
  let i = 0;
  const peek = (v: string): boolean => tokens[i]?.t === 'punct' && tokens[i].v === v;

  const call = (name: string, target?: DslValue): DslResult => {
    i++; // '('
    const args: DslValue[] = [];
    while (!peek(')')) {
      const a = expr();
      if (a.kind === 'error') return a;
      args.push(a);
      if (peek(',')) i++;
      else if (!peek(')')) return err(`expected ',' or ')' in ${name}(...)`);
    }
    i++; // ')'
    if (!target) return applyDsl(name, args, self);
    if (target.kind === 'entity' && name === 'attributeWhenReady') {
      const a = args[0];
      if (a?.kind !== 'text' || args.length !== 1)
        return err('attributeWhenReady(...) takes an attribute name string');
      return { kind: 'ref', ref: { service: target.id, attribute: nativeAttribute(unescape(a.template)) } };
    }
    return err(`unsupported Brooklyn DSL method '.${name}(...)' (supported: .attributeWhenReady)`);
  };

  const expr = (): DslResult => {
    const tok = tokens[i];
    if (!tok) return err('unexpected end of expression');
    let value: DslResult;
    if (tok.t === 'str') {
      i++;
      value = { kind: 'text', template: escapeLiteral(tok.v) };
    } else if (tok.t === 'id' && tokens[i + 1]?.v === '(') {
      i++;
      value = call(tok.v);
    } else return err(`unexpected '${tok.v}'`);
    while (value.kind !== 'error' && peek('.')) {
      const m = tokens[i + 1];
      if (m?.t !== 'id' || tokens[i + 2]?.v !== '(') return err("expected a method call after '.'");
      i += 2;
      value = call(m.v, value);
    }
    return value;
  };

  const result = expr();
  if (result.kind !== 'error' && i < tokens.length)
    return err(`unexpected '${tokens[i].v}' after the expression`);
  return result;
}

/**
 * Normalises a string value: a whole `$brooklyn:` expression is evaluated, `$secret:NAME` becomes
 * `${secret:NAME}`, and native references are checked.
 */
export function normaliseString(value: string, self: string): DslResult {
  const trimmed = value.trim();
  if (trimmed.startsWith('$brooklyn:')) return evaluateDsl(trimmed, self);
  const template = value.replace(new RegExp(`(^|[^$])\\$secret:(${SECRET_NAME})`, 'g'), '$1${secret:$2}');
  const parsed = parseTemplate(template);
  if ('error' in parsed) return err(parsed.error);
  return { kind: 'text', template };
}
