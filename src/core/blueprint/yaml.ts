/**
 * YAML-with-positions helpers: every value the parser reads is a `yaml` AST node, so each problem
 * can be reported at the line and column of the key or value it is about.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Alias,
  type Document,
  type LineCounter,
  type Node,
  type YAMLMap,
} from 'yaml';
import type { Problem, SourcePosition } from './model';
import { printable } from '../errors';

/** Parsing context: the file, its line index, and the problems found so far. */
export interface Ctx {
  file: string;
  lineCounter: LineCounter;
  doc: Document;
  /** Each alias with the node its anchor names, resolved once (`document.ts` bounds what they add). */
  aliases: Map<Alias, Node | undefined>;
  problems: Problem[];
}

/** One `key: value` entry of a mapping, with the nodes for positions. */
export interface Entry {
  key: string;
  keyNode: Node;
  /** `null` when the value is empty (`key:`). */
  value: Node | null;
}

export function positionOf(ctx: Ctx, node: Node | null | undefined): SourcePosition {
  const { line, col } = ctx.lineCounter.linePos(node?.range?.[0] ?? 0);
  return { file: ctx.file, line, col };
}

export function report(ctx: Ctx, node: Node | null | undefined, message: string, key?: string): void {
  ctx.problems.push({ ...positionOf(ctx, node), key, message: printable(message) });
}

/** Follows a YAML alias (`*anchor`) to the node it names; empty scalars become `null`. */
export function deref(ctx: Ctx, node: unknown): Node | null {
  // An anchor is never on an alias, so one step is enough; checkBlueprint refused unresolved ones.
  const n = isAlias(node) ? ctx.aliases.get(node) : node;
  if (!n || (isScalar(n) && n.value === null)) return null;
  return n as Node;
}

export function isMapping(node: Node | null): node is YAMLMap {
  return isMap(node);
}

/** The entries of a mapping; non-scalar keys are reported and skipped. */
export function entries(ctx: Ctx, map: YAMLMap): Entry[] {
  const out: Entry[] = [];
  for (const pair of map.items) {
    const keyNode = deref(ctx, pair.key);
    if (!isScalar(keyNode)) {
      report(ctx, (pair.key as Node) ?? map, 'keys must be plain strings');
      continue;
    }
    out.push({ key: String(keyNode.source ?? keyNode.value), keyNode, value: deref(ctx, pair.value) });
  }
  return out;
}

/** The node to point at for an entry's value: the value, or the key when the value is empty. */
export function at(e: Entry): Node {
  return e.value ?? e.keyNode;
}

/** A short description of what a node holds, for "expected X, got Y" messages. */
export function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'number') return `the number ${scalarText(node)}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
    const s = String(v);
    return `the string '${s.length > 40 ? `${s.slice(0, 37)}...` : s}'`;
  }
  return 'an unsupported YAML value';
}

/** The text of a scalar as written (so a tag `1.10` stays `1.10`, not the number 1.1). */
export function scalarText(node: Node): string {
  if (!isScalar(node)) return '';
  if (typeof node.value === 'string') return node.value;
  return node.source ?? String(node.value);
}

/** A scalar read as text (strings, numbers and booleans); `undefined` for other nodes. */
export function textOf(node: Node | null): string | undefined {
  if (!isScalar(node) || node.value === null) return undefined;
  return scalarText(node);
}

/** The items of a list, dereferenced. */
export function items(ctx: Ctx, node: Node): (Node | null)[] {
  return isSeq(node) ? node.items.map((n) => deref(ctx, n)) : [];
}
