import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../core/errors';
import type { Blueprint } from '../core/blueprint/model';
import { berthHome } from '../adapters/paths';

/** `db-password` → `BERTH_SECRET_DB_PASSWORD`. */
export function secretVariable(name: string): string {
  return `BERTH_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Secret values are supplied at deploy time, never written in a blueprint: from the environment
 * variable `BERTH_SECRET_<NAME>`, else from the file `$BERTH_HOME/secrets/<NAME>`. They travel in
 * workflow payloads, which the payload codec encrypts.
 */
export function resolveSecrets(blueprint: Blueprint): Record<string, string> {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of blueprint.secrets) {
    const fromEnv = process.env[secretVariable(name)];
    const file = path.join(berthHome(), 'secrets', name);
    if (fromEnv !== undefined) values[name] = fromEnv;
    else if (fs.existsSync(file)) values[name] = fs.readFileSync(file, 'utf8').replace(/\n$/, '');
    else missing.push(`'${name}' (set ${secretVariable(name)} or write ${file})`);
  }
  if (missing.length) throw new UserError(`app '${blueprint.app}' needs secret ${missing.join(', ')}`);
  return values;
}
