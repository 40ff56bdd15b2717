import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../core/errors';
import { berthHome, binDirs } from './paths';

/** An executable `name` in a directory of PATH. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The Temporal CLI that runs the dev server: `BERTH_TEMPORAL_CLI`, `temporal` on PATH, or the build
 * cached by scripts/setup.sh (found from a temporary BERTH_HOME too: see binDirs). Never downloaded
 * by the SDK: this machine cannot fetch its binaries.
 */
export function findTemporalCli(): string {
  const explicit = process.env.BERTH_TEMPORAL_CLI;
  if (explicit) {
    if (fs.existsSync(explicit)) return explicit;
    throw new UserError(`BERTH_TEMPORAL_CLI=${explicit} does not exist`);
  }
  const candidates = [onPath('temporal'), ...binDirs().map((dir) => path.join(dir, 'temporal'))];
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (found) return found;
  throw new UserError(
    `no Temporal CLI found: put 'temporal' on PATH, or run scripts/setup.sh to build it into ${path.join(berthHome(), 'bin')} ` +
      `(go install github.com/temporalio/cli/cmd/temporal@v1.5.1, needs Go >= 1.25)`,
  );
}
