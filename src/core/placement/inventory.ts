/**
 * The inventory file of `berth plan --inventory FILE`: text in, hosts out (the caller reads the
 * file). Every problem is located: `FILE:LINE:COL: message`.
 *
 *   hosts:
 *     - id: h1
 *       cpus: 8
 *       memory: 16GiB
 *       labels: { zone: a }
 *       cpuUsage: 0.2            # optional, 0..1
 *       containers: 3            # or a list of {app, service, cpus?, memory?, image?}
 *       reservations: []         # optional, same list form
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from 'yaml';
import { UserError } from '../errors';
import { parseBytes } from './config';
import type { HostContainer, HostSupply } from './types';

export class InventoryError extends UserError {
  constructor(problems: string[], file: string) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems in ${file}`, problems);
    this.name = 'InventoryError';
  }
}

const HOST_KEYS = ['id', 'cpus', 'memory', 'labels', 'cpuUsage', 'containers', 'reservations', 'profile'];
const CONTAINER_KEYS = ['app', 'service', 'cpus', 'memory', 'image'];

export function parseInventory(text: string, file: string): HostSupply[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const problems: string[] = [];
  const loc = (offset: number): string => {
    const { line, col } = lc.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const at = (node: Node | null | undefined, message: string, fallback = 0): void => {
    problems.push(`${loc(node?.range?.[0] ?? fallback)}: ${message}`);
  };
  for (const e of doc.errors) problems.push(`${loc(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`);
  if (problems.length) throw new InventoryError(problems, file);

  const root = doc.contents;
  if (!isMap(root)) {
    at(root, "an inventory must be a mapping with a 'hosts' list");
    throw new InventoryError(problems, file);
  }
  for (const pair of root.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (k !== 'hosts') at(pair.key as Node, `unknown key '${k}' (expected 'hosts')`);
  }
  const hostsNode = root.get('hosts', true) as Node | undefined;
  if (!isSeq(hostsNode)) {
    at(hostsNode ?? root, "key 'hosts' must be a list of hosts");
    throw new InventoryError(problems, file);
  }

  const num = (
    m: YAMLMap,
    key: string,
    where: string,
    opts: { min?: number; max?: number; integer?: boolean; positive?: boolean },
  ): number | undefined => {
    const node = m.get(key, true) as Node | undefined;
    if (node === undefined) return undefined;
    const v = isScalar(node) ? node.value : undefined;
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (!opts.integer || Number.isInteger(v)) &&
      (opts.min === undefined || v >= opts.min) &&
      (opts.max === undefined || v <= opts.max) &&
      (!opts.positive || v > 0);
    if (!ok) {
      const what = opts.integer
        ? 'a non-negative integer'
        : opts.max !== undefined
          ? `a number between ${opts.min ?? 0} and ${opts.max}`
          : opts.positive
            ? 'a positive number'
            : 'a number';
      at(node, `${where}.${key} must be ${what}, got ${show(node)}`);
      return undefined;
    }
    return v as number;
  };
  const bytes = (m: YAMLMap, key: string, where: string): number | undefined => {
    const node = m.get(key, true) as Node | undefined;
    if (node === undefined) return undefined;
    const b = isScalar(node) ? parseBytes(node.value) : undefined;
    if (b === undefined)
      at(node, `${where}.${key} must be a size like 8GiB or a number of bytes, got ${show(node)}`);
    return b;
  };
  const str = (m: YAMLMap, key: string, where: string, required: boolean): string | undefined => {
    const node = m.get(key, true) as Node | undefined;
    if (node === undefined) {
      if (required) at(m, `${where}: key '${key}' is required`);
      return undefined;
    }
    const v = isScalar(node) ? node.value : undefined;
    if ((typeof v !== 'string' || v === '') && typeof v !== 'number') {
      at(node, `${where}.${key} must be a non-empty string, got ${show(node)}`);
      return undefined;
    }
    return String(v);
  };
  const unknownKeys = (m: YAMLMap, known: string[], where: string): void => {
    for (const pair of m.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!known.includes(k))
        at(pair.key as Node, `${where}: unknown key '${k}' (known: ${known.join(', ')})`);
    }
  };
  const containerList = (m: YAMLMap, key: string, where: string): HostContainer[] => {
    const node = m.get(key, true) as Node | undefined;
    if (node === undefined) return [];
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= 0)
      return Array.from({ length: node.value }, () => ({ app: '', service: '' }));
    if (!isSeq(node)) {
      at(
        node,
        `${where}.${key} must be a count or a list of {app, service, cpus?, memory?}, got ${show(node)}`,
      );
      return [];
    }
    const out: HostContainer[] = [];
    node.items.forEach((item, j) => {
      const w = `${where}.${key}[${j}]`;
      if (!isMap(item)) {
        at(item as Node, `${w} must be a mapping {app, service, cpus?, memory?}`);
        return;
      }
      unknownKeys(item, CONTAINER_KEYS, w);
      const c: HostContainer = {
        app: str(item, 'app', w, true) ?? '',
        service: str(item, 'service', w, true) ?? '',
        cpus: num(item, 'cpus', w, { min: 0 }) ?? 0,
        memoryBytes: bytes(item, 'memory', w) ?? 0,
      };
      const image = str(item, 'image', w, false);
      if (image) c.image = image;
      out.push(c);
    });
    return out;
  };

  const hosts: HostSupply[] = [];
  const seen = new Map<string, string>();
  hostsNode.items.forEach((item, i) => {
    const where = `hosts[${i}]`;
    if (!isMap(item)) {
      at(item as Node, `${where} must be a mapping with id, cpus, memory`);
      return;
    }
    unknownKeys(item, HOST_KEYS, where);
    const id = str(item, 'id', where, true);
    if (id !== undefined) {
      const idNode = item.get('id', true) as Node;
      const first = seen.get(id);
      if (first) at(idNode, `${where}.id: duplicate host id '${id}' (first at ${first})`);
      else seen.set(id, loc(idNode.range?.[0] ?? 0));
    }
    const cpus = num(item, 'cpus', where, { positive: true });
    if (!item.has('cpus')) at(item, `${where}: key 'cpus' is required`);
    const memoryBytes = bytes(item, 'memory', where);
    if (!item.has('memory')) at(item, `${where}: key 'memory' is required`);
    const cpuUsage = num(item, 'cpuUsage', where, { min: 0, max: 1 });
    const labels: Record<string, string> = {};
    const labelsNode = item.get('labels', true) as Node | undefined;
    if (labelsNode !== undefined) {
      if (!isMap(labelsNode))
        at(labelsNode, `${where}.labels must be a mapping of strings, got ${show(labelsNode)}`);
      else
        for (const pair of labelsNode.items) {
          const k = isScalar(pair.key) ? String(pair.key.value) : '';
          const v = pair.value;
          if (!isScalar(v) || v.value === null || typeof v.value === 'object')
            at((v as Node) ?? pair.key, `${where}.labels.${k} must be a string`);
          else labels[k] = String(v.value);
        }
    }
    const containers = containerList(item, 'containers', where);
    const reservations = containerList(item, 'reservations', where);
    const profile = str(item, 'profile', where, false);
    if (id !== undefined && cpus !== undefined && memoryBytes !== undefined) {
      const h: HostSupply = { id, cpus, memoryBytes, labels, containers };
      if (reservations.length) h.reservations = reservations;
      if (cpuUsage !== undefined) h.cpuUsage = cpuUsage;
      if (profile) h.profile = profile;
      hosts.push(h);
    }
  });
  if (problems.length) throw new InventoryError(problems, file);
  return hosts;
}

function show(node: Node | undefined): string {
  if (isScalar(node)) return JSON.stringify(node.value) ?? String(node.value);
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a mapping';
  return 'nothing';
}
