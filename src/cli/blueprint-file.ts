import * as fs from 'fs';
import { UserError } from '../core/errors';
import { parseBlueprint } from '../core/blueprint/parse';
import type { Blueprint } from '../core/blueprint/model';

/** Reads a file for the CLI, turning I/O errors into one line that names the file. */
export function readUserFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UserError(`cannot read ${file}: ${why}`);
  }
}

export function loadBlueprint(file: string): Blueprint {
  return parseBlueprint(readUserFile(file), file);
}
