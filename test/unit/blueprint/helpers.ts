import { checkBlueprint } from '../../../src/core/blueprint/parse';
import type { Blueprint } from '../../../src/core/blueprint/model';

/** Joins lines into YAML text, so tests can count lines by index (first line is line 1). */
export const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** Problems as `LINE:COL: message`. */
export function problems(text: string): string[] {
  return checkBlueprint(text, 'bp.yaml').problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
}

export function parse(text: string): Blueprint {
  const r = checkBlueprint(text, 'bp.yaml');
  if (!r.blueprint)
    throw new Error(
      `unexpected problems:\n${r.problems.map((p) => `${p.line}:${p.col}: ${p.message}`).join('\n')}`,
    );
  return r.blueprint;
}
