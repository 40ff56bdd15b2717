import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { BlueprintError, parseBlueprint } from '../../core/blueprint/parse';

/** Reads one file; the core parser is pure, so the file I/O lives here. */
function validateFile(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const message =
      err instanceof Error ? err.message.replace(/, (open|read|scandir) '.*'$/, '') : String(err);
    console.error(`error: cannot read ${file}: ${message}`);
    return false;
  }
  try {
    const blueprint = parseBlueprint(text, file);
    const n = blueprint.services.length;
    console.log(`${file}: ok (${n} service${n === 1 ? '' : 's'})`);
    return true;
  } catch (err) {
    if (!(err instanceof BlueprintError)) throw err;
    for (const line of err.problems) console.error(line);
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
