/**
 * Blueprint text → YAML document, within the bounds of `limits.ts`: the size of the text, the
 * nesting depth (checked on the `yaml` library's CST, before its recursive composer could
 * overflow the stack), and what aliases add once expanded (checked before Berth follows any).
 * Every refusal is a located problem.
 */
import {
  Composer,
  Parser,
  YAMLParseError,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Alias,
  type CST,
  type Document,
  type LineCounter,
  type Node,
} from 'yaml';
import type { Problem } from './model';
import { MAX_ALIAS_BYTES, MAX_ALIAS_NODES, MAX_BLUEPRINT_BYTES, MAX_DEPTH, tooLargeProblem } from './limits';

export interface ReadDocument {
  doc: Document;
  /** Every alias node with the node its anchor names (`undefined` when no anchor precedes it). */
  aliases: Map<Alias, Node | undefined>;
}

type Located = (offset: number, message: string) => void;

const MAX_YAML_ERRORS = 20;

/** The document, or `undefined` with the reasons added to `problems`. */
export function readDocument(
  text: string,
  file: string,
  lineCounter: LineCounter,
  problems: Problem[],
): ReadDocument | undefined {
  const refuse: Located = (offset, message) => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ file, line, col, message });
  };
  // Characters, not bytes: UTF-8 is never shorter, so this never lets more through.
  if (text.length > MAX_BLUEPRINT_BYTES) {
    problems.push(tooLargeProblem(file));
    return undefined;
  }
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  const tooDeep = firstTooDeep(tokens);
  if (tooDeep !== undefined) {
    refuse(tooDeep, `nesting deeper than ${MAX_DEPTH} levels (the bound on a blueprint)`);
    return undefined;
  }
  const doc = compose(tokens, text.length);
  // A binary or badly broken file gives an error per token: the first few say where it breaks.
  for (const err of doc.errors.slice(0, MAX_YAML_ERRORS))
    refuse(err.pos[0], `invalid YAML: ${err.message.split('\n')[0]}`);
  if (doc.errors.length > MAX_YAML_ERRORS)
    refuse(
      doc.errors[MAX_YAML_ERRORS].pos[0],
      `invalid YAML: ${doc.errors.length - MAX_YAML_ERRORS} more errors from here on, not shown`,
    );
  if (problems.length) return undefined;
  const aliases = resolveAliases(doc.contents);
  checkExpansion(doc.contents, aliases, (node, message) => refuse(node.range?.[0] ?? 0, message));
  return problems.length ? undefined : { doc, aliases };
}

/** As `yaml`'s `parseDocument`: one document; a second one is an error. */
function compose(tokens: CST.Token[], length: number): Document {
  const composer = new Composer({ uniqueKeys: true });
  let doc: Document | undefined;
  for (const next of composer.compose(tokens, true, length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(
        new YAMLParseError(
          [next.range[0], next.range[1]],
          'MULTIPLE_DOCS',
          'Source contains multiple documents',
        ),
      );
      break;
    }
  }
  return doc!;
}

/** The offset of the first CST token nested deeper than MAX_DEPTH, walking without recursion. */
function firstTooDeep(tokens: CST.Token[]): number | undefined {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 })).reverse();
  while (stack.length) {
    const { token, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) return token.offset;
    const children: (CST.Token | null | undefined)[] = [];
    if (token.type === 'document') children.push(token.value);
    else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection')
      for (const item of token.items) children.push('key' in item ? item.key : undefined, item.value);
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child) stack.push({ token: child, depth: depth + 1 });
    }
  }
  return undefined;
}

/** The children of a node, keys before values, in document order. */
function childrenOf(node: Node): Node[] {
  if (isMap(node)) return node.items.flatMap((p) => [p.key as Node, p.value as Node]).filter(Boolean);
  if (isSeq(node)) return node.items.filter(Boolean) as Node[];
  return [];
}

/**
 * Each alias with the last node before it that carries its anchor (YAML's rule, as the `yaml`
 * library's `Alias.resolve`, which would walk the whole document again for every alias).
 */
function resolveAliases(root: Node | null): Map<Alias, Node | undefined> {
  const anchors = new Map<string, Node>();
  const aliases = new Map<Alias, Node | undefined>();
  const visit = (node: Node): void => {
    if (isAlias(node)) {
      aliases.set(node, anchors.get(node.source));
      return;
    }
    if (node.anchor) anchors.set(node.anchor, node);
    for (const child of childrenOf(node)) visit(child);
  };
  if (root) visit(root);
  return aliases;
}

interface Expanded {
  /** Levels below and including the node, aliases expanded. */
  height: number;
  nodes: number;
  /** Bytes of scalar text. */
  bytes: number;
}

class Refused extends Error {}

/**
 * Refuses an alias that has no anchor, that names a node containing it (a cycle), that nests
 * deeper than MAX_DEPTH once expanded, or past which aliases add more than the bounds in total.
 * Sizes are memoised per node, so this is linear in the document, whatever the aliases multiply.
 */
function checkExpansion(
  root: Node | null,
  aliases: Map<Alias, Node | undefined>,
  refuse: (node: Node, message: string) => void,
): void {
  const sizes = new Map<Node, Expanded>();
  const inProgress = new Set<Node>();
  const tooDeep = (at: Node): never => {
    refuse(
      at,
      `nesting deeper than ${MAX_DEPTH} levels once aliases are expanded (the bound on a blueprint)`,
    );
    throw new Refused();
  };
  // `via` is the alias this node was reached through (where a refusal points).
  const measure = (node: Node, depth: number, via: Alias | undefined): Expanded => {
    const target = isAlias(node) ? aliases.get(node) : node;
    const alias = isAlias(node) ? node : via;
    if (depth > MAX_DEPTH) tooDeep(alias ?? node);
    if (!target) {
      refuse(node, `alias '*${(node as Alias).source}' has no anchor '&${(node as Alias).source}' before it`);
      throw new Refused();
    }
    if (inProgress.has(target)) {
      refuse(alias ?? node, `alias '*${alias?.source ?? ''}' refers to a node that contains it`);
      throw new Refused();
    }
    let size = sizes.get(target);
    if (!size) {
      inProgress.add(target);
      size = {
        height: 1,
        nodes: 1,
        bytes: isScalar(target) ? String(target.source ?? target.value).length : 0,
      };
      for (const child of childrenOf(target)) {
        const c = measure(child, depth + 1, alias);
        size.height = Math.max(size.height, c.height + 1);
        size.nodes += c.nodes;
        size.bytes += c.bytes;
      }
      inProgress.delete(target);
      sizes.set(target, size);
    }
    if (depth + size.height - 1 > MAX_DEPTH) tooDeep(alias ?? node);
    return size;
  };
  const added = { nodes: 0, bytes: 0 };
  const walk = (node: Node, depth: number): void => {
    if (isAlias(node)) {
      const size = measure(node, depth, node);
      added.nodes += size.nodes;
      added.bytes += size.bytes;
      if (added.nodes > MAX_ALIAS_NODES || added.bytes > MAX_ALIAS_BYTES) {
        refuse(
          node,
          `aliases expand the blueprint by more than ${MAX_ALIAS_NODES} nodes or ${MAX_ALIAS_BYTES / 1024 / 1024} MiB (the bound against alias bombs); '*${node.source}' here adds ${size.nodes} nodes`,
        );
        throw new Refused();
      }
      return;
    }
    for (const child of childrenOf(node)) walk(child, depth + 1);
  };
  try {
    if (root) walk(root, 1);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
  }
}
