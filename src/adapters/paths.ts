import * as crypto from 'crypto';
import * as os from 'os';
import * as path from 'path';
import * as fs from 'fs';

/** Berth's own state: the dev server's SQLite file, logs, pid files, the cached Temporal CLI. */
export function berthHome(): string {
  return process.env.BERTH_HOME ?? path.join(os.homedir(), '.berth');
}

/** The user's own cache of built binaries, which a temporary BERTH_HOME (tests, benches) still reuses. */
export function userBinDir(): string {
  return path.join(os.homedir(), '.berth', 'bin');
}

/**
 * Where Berth looks for the binaries it builds (the Temporal CLI, server, SQL tool, UI server), in
 * order: this home's `bin/`, the user's `~/.berth/bin`, the project's `.berth/bin`.
 */
export function binDirs(): string[] {
  return [
    ...new Set([path.join(berthHome(), 'bin'), userBinDir(), path.join(projectRoot(), '.berth', 'bin')]),
  ];
}

export function ensureBerthHome(): string {
  const home = berthHome();
  fs.mkdirSync(home, { recursive: true });
  return home;
}

/** The project root (where package.json lives), from either src/ or dist/src/. */
export function projectRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find Berth's package.json above ${__dirname}`);
}

/**
 * Writes a new secret file (mode 0600) atomically unless it exists; when another process won the
 * race, its file stays and is the one every process reads.
 */
export function createSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
