import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../../core/errors';
import { binDirs, userBinDir } from '../../adapters/paths';
import { onPath } from '../../adapters/temporal-cli';

/**
 * The binaries of a local Temporal cluster, built from source with `go install` (no binary can be
 * downloaded here) and cached beside the Temporal CLI. The server matches the dev server the CLI
 * embeds (Server 1.29.1, UI 2.42.1), so histories move between them.
 */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_VERSION = '2.42.1';

export type ToolName = 'server' | 'sqlTool' | 'uiServer';

interface ToolSpec {
  /** Cached as `<file>` in a bin directory; the version is in the name so an upgrade rebuilds. */
  file: string;
  /** An explicit path, which also carries the choice to child processes after BERTH_HOME moves. */
  env: string;
  /** `go install` target. */
  module: string;
  /** What `go install` names the binary (the last path element of the package). */
  built: string;
}

export const TOOLS: Record<ToolName, ToolSpec> = {
  server: {
    file: `temporal-server-${TEMPORAL_SERVER_VERSION}`,
    env: 'BERTH_TEMPORAL_SERVER',
    module: `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`,
    built: 'server',
  },
  sqlTool: {
    file: `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}`,
    env: 'BERTH_TEMPORAL_SQL_TOOL',
    module: `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
    built: 'sql',
  },
  uiServer: {
    file: `temporal-ui-server-${TEMPORAL_UI_VERSION}`,
    env: 'BERTH_TEMPORAL_UI_SERVER',
    module: `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`,
    built: 'server',
  },
};

export type ClusterTools = Record<ToolName, string>;

/** `BERTH_TEMPORAL_SERVER` etc., then `$BERTH_HOME/bin`, `~/.berth/bin`, `<project>/.berth/bin`. */
export function findTool(name: ToolName): string | undefined {
  const spec = TOOLS[name];
  const explicit = process.env[spec.env];
  if (explicit) {
    if (fs.existsSync(explicit)) return explicit;
    throw new UserError(`${spec.env}=${explicit} does not exist`);
  }
  return binDirs()
    .map((d) => path.join(d, spec.file))
    .find((f) => fs.existsSync(f));
}

/** Go from PATH, or where its official tarball installs (`/usr/local/go`). */
function findGo(): string {
  const go = onPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go)
    throw new UserError(
      'no Go toolchain: install Go >= 1.25 (as scripts/setup.sh needs for the Temporal CLI) so Berth can build the Temporal server',
    );
  return go;
}

const BUILD_TIMEOUT_MS = 30 * 60_000;

/** `go install MODULE` into a private directory, then renamed into place (atomic for concurrent runs). */
async function goInstall(spec: ToolSpec, binDir: string, log: (line: string) => void): Promise<string> {
  fs.mkdirSync(binDir, { recursive: true });
  const gobin = fs.mkdtempSync(path.join(binDir, `.build-${spec.file}-`));
  const started = Date.now();
  log(`building ${spec.file} with go install ${spec.module} (first time only, minutes)`);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(findGo(), ['install', spec.module], {
        env: { ...process.env, GOBIN: gobin },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new UserError(
              `go install ${spec.module} failed (${code}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
      });
    });
    const target = path.join(binDir, spec.file);
    fs.renameSync(path.join(gobin, spec.built), target);
    log(`built ${target} in ${Math.round((Date.now() - started) / 1000)} s`);
    return target;
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

/**
 * Finds each tool, building the missing ones into `binDir` (default: the user's ~/.berth/bin, so a
 * temporary BERTH_HOME does not rebuild 128 MB of server). Sets each tool's environment variable,
 * so child processes (the CLI a test runs) find the same binaries.
 */
export async function ensureClusterTools(
  log: (line: string) => void,
  binDir = userBinDir(),
): Promise<ClusterTools> {
  const tools = {} as ClusterTools;
  // One build at a time: on two cores parallel go builds only compete.
  for (const name of Object.keys(TOOLS) as ToolName[]) {
    tools[name] = findTool(name) ?? (await goInstall(TOOLS[name], binDir, log));
    process.env[TOOLS[name].env] = tools[name];
  }
  return tools;
}
