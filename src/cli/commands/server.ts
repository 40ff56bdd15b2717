import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { createDockerClient, dockerTarget } from '../../adapters/docker';
import { ensureBerthHome } from '../../adapters/paths';
import { connectNative, isTemporalReachable, temporalTarget } from '../../adapters/temporal';
import { startDevServer } from '../../runtime/dev-server';
import { createBerthWorker } from '../../runtime/worker';
import { info } from '../output';
import { serverPidFile } from '../session';

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runServer(): Promise<void> {
  const target = temporalTarget();
  if (!target.embedded)
    throw new UserError(
      `TEMPORAL_ADDRESS is set (${target.address}): run 'berth worker' against it instead of 'berth server'`,
    );
  if (await isTemporalReachable(target)) {
    throw new UserError(
      `a Temporal server already answers at ${target.address}; stop it first ('berth server stop' if Berth started it)`,
    );
  }
  const home = ensureBerthHome();
  const devServer = await startDevServer(target, path.join(home, 'temporal.log'));
  fs.writeFileSync(serverPidFile(), String(process.pid));
  fs.writeFileSync(path.join(home, 'temporal.pid'), String(devServer.process.pid));
  try {
    const worker = await createBerthWorker({
      connection: await connectNative(target),
      namespace: target.namespace,
      taskQueue: target.taskQueue,
      docker: createDockerClient(),
      dockerTarget: dockerTarget(),
    });
    info(`Temporal server on ${target.address}, Web UI ${devServer.uiUrl}`);
    info(
      `Berth worker polling task queue '${target.taskQueue}' (Docker: ${dockerTarget()}); Ctrl-C stops both`,
    );
    // The SDK shuts the worker down on SIGINT/SIGTERM; then the dev server goes too.
    await worker.run();
  } finally {
    await devServer.stop();
    fs.rmSync(serverPidFile(), { force: true });
    fs.rmSync(path.join(home, 'temporal.pid'), { force: true });
    info('stopped');
  }
}

async function stopServer(): Promise<void> {
  const home = ensureBerthHome();
  const pids = [serverPidFile(), path.join(home, 'temporal.pid')]
    .map(readPid)
    .filter((p): p is number => !!p && alive(p));
  if (pids.length === 0) return info('no Berth server running');
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && pids.some(alive)) await new Promise((r) => setTimeout(r, 200));
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
  fs.rmSync(serverPidFile(), { force: true });
  fs.rmSync(path.join(home, 'temporal.pid'), { force: true });
  info(`stopped Berth server (pid ${pids.join(', ')})`);
}

export function registerServer(program: Command): void {
  const server = program
    .command('server')
    .description(
      'run the embedded Temporal dev server (history in ~/.berth/temporal.db, Web UI :8233) and a worker',
    )
    .action(runServer);
  server.command('stop').description('stop a Berth server started in the background').action(stopServer);
}
