import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { UserError } from '../errors';
import { isDnsLabel } from '../names';
import type { Blueprint, Problem, Service } from './model';

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

/**
 * Parses and validates blueprint text. Pure: the caller reads the file.
 * Minimal form (the full Brooklyn/CAMP language is layered on top of this contract).
 */
export function parseBlueprint(text: string, file: string): Blueprint {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const problems: Problem[] = [];
  const at = (node: Node | null | undefined, message: string, key?: string): void => {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ file, line, col, key, message });
  };
  for (const err of doc.errors) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    problems.push({ file, line, col, message: `invalid YAML: ${err.message.split('\n')[0]}` });
  }
  if (problems.length) throw new BlueprintError(problems);
  const root = doc.contents;
  if (!isMap(root)) {
    at(root, 'a blueprint must be a mapping with `id` and `services`');
    throw new BlueprintError(problems);
  }
  const plain = doc.toJS() as Record<string, unknown>;
  const app = String(plain.id ?? '');
  if (!isDnsLabel(app)) at(root.get('id', true) as Node, `key 'id' must be a DNS label (a-z, 0-9, '-'), got '${app}'`, 'id');
  const servicesNode = root.get('services', true) as Node | undefined;
  if (!isSeq(servicesNode) || servicesNode.items.length === 0) {
    at(servicesNode ?? root, "key 'services' must be a non-empty list", 'services');
    throw new BlueprintError(problems);
  }
  const services: Service[] = [];
  servicesNode.items.forEach((item, i) => {
    const s = (plain.services as Record<string, unknown>[])[i] ?? {};
    const id = String(s.id ?? '');
    if (!isDnsLabel(id)) at(item as Node, `key 'services[${i}].id' must be a DNS label, got '${id}'`);
    const image = typeof s.image === 'string' ? s.image : undefined;
    if (!image) at(item as Node, `service '${id}': key 'image' is required`);
    const pos = lineCounter.linePos((item as Node).range?.[0] ?? 0);
    services.push({
      id,
      name: String(s.name ?? id),
      type: s.type === 'cluster' ? 'cluster' : 'container',
      replicas: typeof s.initialSize === 'number' ? s.initialSize : 1,
      source: { kind: 'image', image: image ?? '' },
      command: Array.isArray(s.command) ? s.command.map(String) : undefined,
      env: Object.fromEntries(Object.entries((s.env as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)])),
      ports: [],
      volumes: [],
      resources: {},
      restart: 'no',
      dnsNames: [],
      placement: [],
      affinity: [],
      dependsOn: [],
      policies: [],
      position: { file, line: pos.line, col: pos.col },
    });
  });
  if (problems.length) throw new BlueprintError(problems);
  return { app, name: String(plain.name ?? app), locations: [], placement: [], secrets: [], services };
}
