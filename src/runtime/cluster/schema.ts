import { UserError } from '../../core/errors';
import { psql, run, type PgLayout } from './postgres';

/**
 * The two Temporal databases, made and migrated with the server's own schema tool, as Temporal's
 * auto-setup does: `create-database`, `setup-schema -v 0.0` (the versioning tables), then
 * `update-schema` to the newest version embedded in the tool (`postgresql/v12/...`). Visibility is
 * PostgreSQL 12+ advanced visibility, so custom search attributes (BerthApp…) work.
 */
const STORES = [
  { database: 'temporal', schema: 'postgresql/v12/temporal' },
  { database: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
];

async function sqlTool(
  tool: string,
  pg: PgLayout,
  password: string,
  database: string,
  args: string[],
): Promise<void> {
  const r = await run(
    tool,
    [
      '--plugin',
      'postgres12',
      '--ep',
      '127.0.0.1',
      '-p',
      String(pg.port),
      '-u',
      'temporal',
      '--db',
      database,
      ...args,
    ],
    // The password through the environment, not argv (visible to every user in ps).
    { env: { ...process.env, SQL_PASSWORD: password }, timeoutMs: 300_000 },
  );
  if (r.code !== 0)
    throw new UserError(
      `temporal-sql-tool ${args[0]} (${database}) failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`,
    );
}

export async function ensureSchemas(
  tool: string,
  pgBin: string,
  pg: PgLayout,
  password: string,
  log: (l: string) => void,
): Promise<void> {
  for (const { database, schema } of STORES) {
    const exists =
      (await psql(pgBin, pg, `SELECT 1 FROM pg_database WHERE datname = '${database}';`)).trim() === '1';
    if (!exists) {
      log(`creating database ${database}`);
      await sqlTool(tool, pg, password, database, ['create-database', '--defaultdb', 'postgres']);
    }
    const versioned =
      (await psql(pgBin, pg, `SELECT to_regclass('public.schema_version') IS NOT NULL;`, database)).trim() ===
      't';
    if (!versioned) await sqlTool(tool, pg, password, database, ['setup-schema', '-v', '0.0']);
    // Idempotent: from the recorded version to the newest the tool embeds (nothing to do when current).
    await sqlTool(tool, pg, password, database, ['update-schema', '--schema-name', schema]);
  }
}

/**
 * Has a Temporal service written the cluster's metadata record yet? On a new database every
 * service tries to, and all but one fail ("Failed to apply cluster metadata") when they start at
 * once: so the first service starts alone, and the others once this holds.
 */
export async function clusterMetadataWritten(pgBin: string, pg: PgLayout): Promise<boolean> {
  return (await psql(pgBin, pg, 'SELECT count(*) FROM cluster_metadata_info;', 'temporal')).trim() !== '0';
}
