import * as fs from 'fs';
import * as path from 'path';
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

/**
 * Parses a blueprint file. A Dockerfile given as a local path is read here, relative to the
 * blueprint, and sent inline: the worker that builds it may run on another machine.
 */
export function loadBlueprint(file: string): Blueprint {
  const blueprint = parseBlueprint(readUserFile(file), file);
  for (const service of blueprint.services) {
    const source = service.source;
    if (source.kind === 'dockerfile' && source.path && source.inline === undefined) {
      source.inline = readUserFile(path.resolve(path.dirname(file), source.path));
    }
  }
  return blueprint;
}
