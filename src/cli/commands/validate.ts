import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { BlueprintError, parseBlueprint } from '../../core/blueprint/parse';
import { readBlueprintText } from '../blueprint-file';

/** Where `validateFile` prints: the console for the CLI; tests pass their own and run it in-process. */
export interface ValidateOutput {
  out(line: string): void;
  err(line: string): void;
}

const CONSOLE: ValidateOutput = { out: (line) => console.log(line), err: (line) => console.error(line) };

/**
 * Checks one file: `FILE: ok (N services)` on out, or each problem as `FILE:LINE:COL: message` (an
 * unreadable file: `error: cannot read FILE: why`) on err. Anything else thrown is a bug.
 */
export function validateFile(file: string, print: ValidateOutput = CONSOLE): boolean {
  try {
    const blueprint = parseBlueprint(readBlueprintText(file), file);
    const n = blueprint.services.length;
    print.out(`${file}: ok (${n} service${n === 1 ? '' : 's'})`);
    return true;
  } catch (err) {
    if (err instanceof BlueprintError) for (const line of err.problems) print.err(line);
    else if (err instanceof UserError) print.err(`error: ${err.message}`);
    else throw err;
    return false;
  }
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check blueprint files; prints FILE:LINE:COL: message for each problem')
    .argument('<files...>', 'blueprint YAML files')
    .action((files: string[]) => {
      let ok = true;
      for (const file of files) ok = validateFile(file) && ok;
      if (!ok) process.exitCode = 1;
    });
}
