import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { createDockerClient, dockerTarget } from '../../adapters/docker';
import { stopDnsServer } from '../../adapters/dns';
import { ensureBerthHome } from '../../adapters/paths';
import { connectNative, embeddedUiPort, isTemporalReachable, temporalTarget } from '../../adapters/temporal';
import { defaultSensorPort } from '../../adapters/sensor-http';
import { defaultCodecPort } from '../../adapters/codec-server';
import { berthCodec } from '../../adapters/codec';
import { loadLocalToken } from '../../adapters/local-token';
import { spawnListeners } from '../../runtime/listeners';
import {
  berthServerDaemon,
  devServerDaemon,
  leftoverDevServer,
  startDevServer,
  type DevServer,
} from '../../runtime/dev-server';
import { createBerthWorker } from '../../runtime/worker';
import { info, warn } from '../output';
import { serverPidFile } from '../session';
import { isDaemonPid, readPidFile, stopDaemon } from '../../adapters/daemon';

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
  const home = ensureBerthHome();
  if (await isTemporalReachable(target)) {
    const leftover = leftoverDevServer(home);
    if (leftover === undefined)
      throw new UserError(
        `a Temporal server already answers at ${target.address}; stop it first ('berth server stop' if Berth started it)`,
      );
    // Its `berth server` died (kill -9, a crash): restart it with a worker and the listeners.
    await stopDaemon(devServerDaemon(home), leftover, 10_000);
    info(`stopped the dev server (pid ${leftover}) that a Berth server which is gone had left running`);
  }
  berthCodec(); // a malformed key fails here, before anything starts; a missing one is created
  loadLocalToken(); // made here, so the listeners' child and local clients read the same one
  // The codec server lets the Web UI show decrypted payloads, the sensor endpoint feeds autoscalers;
  // without them the UI still works (sealed payloads) and `berth sensor` still does.
  const listeners = await spawnListeners({
    codec: { port: defaultCodecPort(), origin: `http://localhost:${embeddedUiPort()}` },
    sensor: { port: defaultSensorPort() },
  });
  for (const error of listeners.errors) warn(error);
  if (!listeners.codec) warn('the Web UI will show payloads encrypted');
  if (!listeners.sensor) warn("use 'berth sensor' to feed autoscalers");
  const codecEndpoint = listeners.codec?.replace('127.0.0.1', 'localhost');
  let devServer: DevServer;
  try {
    devServer = await startDevServer(target, path.join(home, 'temporal.log'), { codecEndpoint });
  } catch (err) {
    await listeners.stop();
    throw err;
  }
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
    if (codecEndpoint) info(`Codec server ${codecEndpoint} (the Web UI decrypts payloads through it)`);
    if (listeners.sensor) info(`Sensor endpoint ${listeners.sensor}/v1/sensors/{app}/{service}/{metric}`);
    info(
      `Berth worker polling task queue '${target.taskQueue}' (Docker: ${dockerTarget()}); Ctrl-C stops both`,
    );
    // The SDK shuts the worker down on SIGINT/SIGTERM; then the dev server goes too.
    await worker.run();
  } finally {
    await devServer.stop();
    await listeners.stop();
    fs.rmSync(serverPidFile(), { force: true });
    fs.rmSync(path.join(home, 'temporal.pid'), { force: true });
    info('stopped');
  }
}

async function stopServer(): Promise<void> {
  const home = ensureBerthHome();
  // Only processes that are what their pid files say (a PID may have been reused since).
  const pids = [berthServerDaemon(home), devServerDaemon(home)]
    .map((d) => ({ d, pid: readPidFile(d.pidFile) }))
    .filter(({ d, pid }) => isDaemonPid(d, pid))
    .map(({ pid }) => pid!);
  // Berth's dnsmasq outlives a server restart (containers keep resolving); `stop` ends it too.
  const dns = await stopDnsServer(createDockerClient()).catch(() => undefined);
  if (dns?.stopped) info(`stopped Berth's DNS server (pid ${dns.stopped})`);
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
