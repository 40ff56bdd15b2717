import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../core/errors';
import { BlueprintError, parseBlueprint } from '../core/blueprint/parse';
import { MAX_BLUEPRINT_BYTES, tooLargeProblem } from '../core/blueprint/limits';
import type { Blueprint, Service } from '../core/blueprint/model';

const READ_CHUNK = 64 * 1024;

/**
 * Reads at most `maxBytes + 1` bytes of a file, so `/dev/zero`, a pipe or a huge file cannot make
 * the CLI read without end; `undefined` when there is more. I/O errors become one line naming it.
 */
function readBounded(file: string, maxBytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK, maxBytes + 1 - total));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return undefined;
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UserError(`cannot read ${file}: ${why}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A blueprint's text; one larger than the bound is a located BlueprintError, as the parser gives. */
export function readBlueprintText(file: string): string {
  const bytes = readBounded(file, MAX_BLUEPRINT_BYTES);
  if (!bytes) throw new BlueprintError([tooLargeProblem(file)]);
  return bytes.toString('utf8');
}

/**
 * A Dockerfile given as a path, relative to the blueprint's folder. The parser refused paths that
 * leave the folder by `..`; a symbolic link inside it may not lead out either. An absolute path is
 * read as written: the user chose it.
 */
function readDockerfilePath(blueprintFile: string, service: Service, relative: string): string {
  const folder = path.dirname(path.resolve(blueprintFile));
  const target = path.resolve(folder, relative);
  const where = `${service.position.file}:${service.position.line}:${service.position.col}: service '${service.id}'`;
  if (!path.isAbsolute(relative)) {
    let real: string;
    try {
      real = fs.realpathSync(target);
    } catch {
      throw new UserError(`${where}: cannot read Dockerfile ${relative}: no such file`);
    }
    const realFolder = fs.realpathSync(folder);
    if (!real.startsWith(`${realFolder}${path.sep}`))
      throw new UserError(
        `${where}: Dockerfile path '${relative}' leads out of the blueprint's folder through a symbolic link (give an absolute path to use a Dockerfile elsewhere)`,
      );
  }
  // Dockerfiles travel inline in a payload; Temporal refuses one over 2 MB.
  const text = readBounded(target, MAX_BLUEPRINT_BYTES);
  if (!text)
    throw new UserError(`${where}: Dockerfile ${relative} is larger than ${MAX_BLUEPRINT_BYTES / 1024} KiB`);
  return text.toString('utf8');
}

/**
 * Parses a blueprint file. A Dockerfile given as a local path is read here, relative to the
 * blueprint, and sent inline: the worker that builds it may run on another machine.
 */
export function loadBlueprint(file: string): Blueprint {
  const blueprint = parseBlueprint(readBlueprintText(file), file);
  for (const service of blueprint.services) {
    const source = service.source;
    if (source.kind === 'dockerfile' && source.path && source.inline === undefined)
      source.inline = readDockerfilePath(file, service, source.path);
  }
  return blueprint;
}
