/**
 * Reads values that may hold references: env values and enricher templates (to templates), and
 * service references in `dependsOn`, latches and `links` (to service ids).
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import {
  applyDsl,
  dslTemplate,
  escapeLiteral,
  evaluateDsl,
  normaliseString,
  type DslResult,
  type DslValue,
} from './references';
import { at, entries, items, report, textOf, type Ctx, type Entry } from './yaml';
import { expected } from './read';

/** A DSL value from a node: a `$brooklyn:` string, the map form `{$brooklyn:formatString: [...]}`, or a literal. */
function dslOf(ctx: Ctx, node: Node | null, self: string, literal: boolean): DslResult {
  if (isScalar(node) && node.value !== null) {
    const text = textOf(node) ?? '';
    if (text.trim().startsWith('$brooklyn:')) return evaluateDsl(text, self);
    return literal ? { kind: 'text', template: escapeLiteral(text) } : normaliseString(text, self);
  }
  if (isMap(node)) {
    const es = entries(ctx, node);
    const [only] = es;
    if (es.length === 1 && only.key.startsWith('$brooklyn:')) {
      const argNodes = isSeq(only.value) ? items(ctx, only.value) : [only.value];
      const args: DslValue[] = [];
      for (const a of argNodes) {
        const v = dslOf(ctx, a, self, true);
        if (v.kind === 'error') return v;
        args.push(v);
      }
      return applyDsl(only.key.slice('$brooklyn:'.length), args, self);
    }
  }
  return { kind: 'error', error: 'expected a string, a number or a Brooklyn DSL expression' };
}

/** A template (env value, enricher value); reports and returns `undefined` when invalid. */
export function readTemplate(
  ctx: Ctx,
  node: Node | null,
  self: string,
  what: string,
  anchor: Node,
): string | undefined {
  const v = dslOf(ctx, node, self, false);
  if (v.kind === 'error') {
    report(ctx, node ?? anchor, `invalid value for ${what}: ${v.error}`);
    return undefined;
  }
  return dslTemplate(v);
}

export interface EnvVar {
  name: string;
  template: string;
  node: Node;
}

/** Environment variables from one `env`-like mapping. */
export function readEnv(ctx: Ctx, e: Entry, where: string, self: string): EnvVar[] {
  const out: EnvVar[] = [];
  if (!isMap(e.value)) {
    expected(ctx, e, where, 'a mapping of variable names to values');
    return out;
  }
  for (const v of entries(ctx, e.value)) {
    if (!/^[^=\s]+$/.test(v.key)) {
      report(
        ctx,
        v.keyNode,
        `env variable name '${v.key}'${where} must not be empty or contain '=' or spaces`,
      );
      continue;
    }
    const t = readTemplate(ctx, v.value, self, `env '${v.key}'${where}`, v.keyNode);
    if (t !== undefined) out.push({ name: v.key, template: t, node: at(v) });
  }
  return out;
}

/** A reference to a service: a plain id, or `$brooklyn:component("id")` (optionally `.attributeWhenReady(...)`). */
export function serviceRef(
  ctx: Ctx,
  node: Node | null,
  self: string,
  what: string,
  anchor: Node,
): string | undefined {
  const text = textOf(node);
  if (text !== undefined && !text.trim().startsWith('$brooklyn:')) return text;
  const v = text === undefined ? undefined : evaluateDsl(text, self);
  if (v?.kind === 'entity') return v.id;
  if (v?.kind === 'ref') return v.ref.service;
  const why = v?.kind === 'error' ? `: ${v.error}` : '';
  report(ctx, node ?? anchor, `${what} must name a service (an id or $brooklyn:component("id"))${why}`);
  return undefined;
}

/** `dependsOn` or a Brooklyn latch: one service reference or a list of them. */
export function readServiceRefs(
  ctx: Ctx,
  e: Entry,
  where: string,
  self: string,
): { id: string; node: Node }[] {
  const list = isSeq(e.value) ? items(ctx, e.value) : [e.value];
  const out: { id: string; node: Node }[] = [];
  for (const item of list) {
    const id = serviceRef(ctx, item, self, `key '${e.key}'${where}`, at(e));
    if (id !== undefined) out.push({ id, node: item ?? e.keyNode });
  }
  return out;
}

/** Clocker's `links`: a mapping `alias: service` (the alias becomes a DNS name for it). */
export function readLinks(
  ctx: Ctx,
  e: Entry,
  where: string,
  self: string,
): { alias: string; id: string; node: Node }[] {
  const out: { alias: string; id: string; node: Node }[] = [];
  if (!isMap(e.value)) {
    expected(ctx, e, where, 'a mapping of link aliases to services');
    return out;
  }
  for (const l of entries(ctx, e.value)) {
    const id = serviceRef(ctx, l.value, self, `link '${l.key}'${where}`, l.keyNode);
    if (id !== undefined) out.push({ alias: l.key, id, node: at(l) });
  }
  return out;
}
