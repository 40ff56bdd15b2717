/**
 * Seeded mutants of the example blueprints (`blueprints/`, `test/fixtures/clocker/`) for the
 * fuzz tests: deletions, swaps, indentation changes, type swaps, huge and unicode values,
 * truncation, anchors and aliases, deep nesting, built-in key names and binary bytes. The same
 * seed always gives the same mutants, so a failure names one that can be written out again.
 */
import * as fs from 'fs';
import * as path from 'path';
import { prng } from '../../src/core/prng';

const ROOT = path.resolve(__dirname, '..', '..');

/** The seed of the fuzz tests (in their names, so a failing run can be repeated). */
export const FUZZ_SEED = 20261206;

export interface Mutant {
  /** `<source>#<n>: <operators>`, for messages. */
  name: string;
  content: Buffer;
}

export function exampleBlueprints(): string[] {
  const dirs = [path.join(ROOT, 'blueprints'), path.join(ROOT, 'test', 'fixtures', 'clocker')];
  return dirs.flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => path.join(dir, f)),
  );
}

type Random = () => number;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)];
const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** Lines of the form `  key: value` (the value part is what type swaps replace). */
const KEY_VALUE = /^(\s*(?:- )?[^\s#:][^:#]*:\s+)(\S.*)$/;

const SCALARS = [
  '0',
  '-1',
  '1e400',
  '0x10',
  'true',
  '~',
  '.nan',
  '"text"',
  "''",
  '[]',
  '{}',
  '[a, 1, true]',
  '{x: 1}',
];
const UNICODE = [
  'Ωmega',
  '😀🚀',
  'שלום',
  'e\u0301\u0301\u0301',
  'zero\u200bwidth',
  '\u202eevil',
  '"\\uD800"',
  'ｆｕｌｌ',
];
const BUILTIN_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

type Operator = (random: Random, lines: string[]) => string[] | Buffer;

const OPERATORS: Record<string, Operator> = {
  delete: (r, lines) => lines.filter((_, i) => i !== int(r, 0, lines.length - 1)),
  swap: (r, lines) => {
    const [i, j] = [int(r, 0, lines.length - 1), int(r, 0, lines.length - 1)];
    const out = [...lines];
    [out[i], out[j]] = [out[j], out[i]];
    return out;
  },
  duplicate: (r, lines) => {
    const i = int(r, 0, lines.length - 1);
    return [...lines.slice(0, i + 1), lines[i], ...lines.slice(i + 1)];
  },
  indent: (r, lines) => {
    const i = int(r, 0, lines.length - 1);
    const change = pick(r, ['  ', ' ', '\t', '-2', '-1', '    ']);
    const out = [...lines];
    out[i] = change.startsWith('-') ? out[i].slice(Number(change.slice(1))) : change + out[i];
    return out;
  },
  typeSwap: (r, lines) => replaceValue(r, lines, () => pick(r, SCALARS)),
  hugeValue: (r, lines) =>
    replaceValue(r, lines, () => `"${pick(r, ['x', 'é', '%s', '${a.b}']).repeat(int(r, 1000, 60_000))}"`),
  unicode: (r, lines) => replaceValue(r, lines, () => pick(r, UNICODE)),
  builtinKey: (r, lines) => {
    const candidates = lines
      .map((l, i) => (KEY_VALUE.test(l) || /^\s*[\w.]+:\s*$/.test(l) ? i : -1))
      .filter((i) => i >= 0);
    if (!candidates.length) return lines;
    const i = pick(r, candidates);
    const out = [...lines];
    out[i] = out[i].replace(/^(\s*(?:- )?)[^:\s][^:]*:/, `$1${pick(r, BUILTIN_KEYS)}:`);
    return out;
  },
  anchorAlias: (r, lines) => {
    // An anchor on one value and an alias as another (possibly before the anchor: unresolved).
    const values = lines.map((l, i) => (KEY_VALUE.test(l) ? i : -1)).filter((i) => i >= 0);
    if (values.length < 2) return lines;
    const [a, b] = [pick(r, values), pick(r, values)];
    const out = [...lines];
    out[a] = out[a].replace(KEY_VALUE, '$1&m $2');
    out[b] = out[b].replace(KEY_VALUE, r() < 0.5 ? '$1*m' : '$1[*m, *m, *m, *m]');
    return out;
  },
  aliasBomb: (r, lines) => {
    const levels = int(r, 3, 9);
    const bomb = ['x-bomb:', '  l0: &l0 [a, a, a, a, a, a, a, a, a]'];
    for (let i = 1; i < levels; i++)
      bomb.push(
        `  l${i}: &l${i} [${Array(9)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    const inside = `    env: {B: {$brooklyn:formatString: ["%s", *l${levels - 1}]}}`;
    const at = lines.findIndex((l) => /^\s+image:/.test(l));
    const out = [...bomb, ...lines];
    if (at >= 0) out.splice(at + bomb.length + 1, 0, inside);
    return out;
  },
  deepNesting: (r, lines) => {
    const depth = int(r, 10, 3000);
    const nested =
      r() < 0.5 ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
    return replaceValue(r, lines, () => nested);
  },
  truncate: (r, lines) => {
    const text = lines.join('\n');
    return text.slice(0, int(r, 0, text.length)).split('\n');
  },
  binary: (r, lines) => {
    const text = Buffer.from(lines.join('\n'));
    const at = int(r, 0, text.length);
    const bytes = Buffer.from(Array.from({ length: int(r, 1, 16) }, () => int(r, 0, 255)));
    return Buffer.concat([text.subarray(0, at), bytes, text.subarray(at)]);
  },
};

export const OPERATOR_NAMES = Object.keys(OPERATORS);

function replaceValue(r: Random, lines: string[], value: () => string): string[] {
  const candidates = lines.map((l, i) => (KEY_VALUE.test(l) ? i : -1)).filter((i) => i >= 0);
  if (!candidates.length) return lines;
  const i = pick(r, candidates);
  const out = [...lines];
  out[i] = out[i].replace(KEY_VALUE, (_m, key: string) => `${key}${value()}`);
  return out;
}

/** `count` mutants, each of one to three operators applied to one example, in a fixed order. */
export function mutants(seed: number, count: number): Mutant[] {
  const random = prng(seed);
  const sources = exampleBlueprints().map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
  const out: Mutant[] = [];
  for (let n = 0; n < count; n++) {
    // Every operator comes first in turn, so each is covered whatever the seed.
    const first = OPERATOR_NAMES[n % OPERATOR_NAMES.length];
    const names = [first, ...Array.from({ length: int(random, 0, 2) }, () => pick(random, OPERATOR_NAMES))];
    const source = pick(random, sources);
    let content: string[] | Buffer = source.text.split('\n');
    for (const name of names) {
      const lines: string[] = Buffer.isBuffer(content) ? content.toString('latin1').split('\n') : content;
      content = OPERATORS[name](random, lines.length ? lines : ['']);
    }
    out.push({
      name: `${path.basename(source.file)}#${n}: ${names.join('+')}`,
      content: Buffer.isBuffer(content) ? content : Buffer.from(content.join('\n')),
    });
  }
  return out;
}

/** What a user sees for one file, judged: accepted, rejected with located problems, or a failure. */
export function judge(
  file: string,
  code: boolean | 'crash',
  out: string[],
  err: string[],
): string | undefined {
  const located = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: \\S`);
  const lines = [...out, ...err];
  if (code === 'crash') return `crashed: ${lines.join(' | ')}`;
  if (lines.some((l) => /\n|^\s+at /.test(l)))
    return `printed a stack or a multi-line message: ${lines.join(' | ')}`;
  if (code)
    return out.length === 1 && err.length === 0 && /: ok \(\d+ services?\)$/.test(out[0])
      ? undefined
      : `odd success output: ${lines.join(' | ')}`;
  if (out.length || !err.length) return `rejected without problems on stderr: ${lines.join(' | ')}`;
  const unlocated = err.filter((l) => !located.test(l));
  return unlocated.length ? `unlocated problems: ${unlocated.join(' | ')}` : undefined;
}
