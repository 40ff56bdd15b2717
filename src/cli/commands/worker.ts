import type { Command } from 'commander';
import { createDockerClient, dockerTarget, pingDocker } from '../../adapters/docker';
import { connectNative, temporalTarget } from '../../adapters/temporal';
import { loadLocalToken } from '../../adapters/local-token';
import { spawnListeners } from '../../runtime/listeners';
import { UserError } from '../../core/errors';
import { createBerthWorker } from '../../runtime/worker';
import { info, warn } from '../output';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a Berth worker against TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (TLS: TEMPORAL_TLS_CERT, _KEY, _CA)',
    )
    .option(
      '--sensor-port <port>',
      'also serve the HTTP sensor endpoint on 127.0.0.1:<port> (0: any free port)',
    )
    .action(async (opts: { sensorPort?: string }) => {
      const sensorPort = opts.sensorPort === undefined ? undefined : Number(opts.sensorPort);
      if (
        sensorPort !== undefined &&
        !(Number.isInteger(sensorPort) && sensorPort >= 0 && sensorPort < 65536)
      )
        throw new UserError(`--sensor-port must be a port number, got '${opts.sensorPort}'`);
      const target = temporalTarget();
      const docker = createDockerClient();
      // A worker may start before its engine; activities retry until it answers.
      await pingDocker(docker).catch((err: Error) => warn(err.message));
      const worker = await createBerthWorker({
        connection: await connectNative(target),
        namespace: target.namespace,
        taskQueue: target.taskQueue,
        docker,
        dockerTarget: dockerTarget(),
      });
      if (sensorPort !== undefined) loadLocalToken(); // made before the child reads it
      const listeners =
        sensorPort === undefined ? undefined : await spawnListeners({ sensor: { port: sensorPort } });
      if (listeners?.errors.length) {
        await listeners.stop();
        throw new UserError(listeners.errors[0]);
      }
      if (listeners?.sensor)
        info(
          `Sensor endpoint ${listeners.sensor}/v1/sensors/{app}/{service}/{metric} (pid ${listeners.pid})`,
        );
      info(
        `Berth worker polling '${target.taskQueue}' on ${target.address} (namespace ${target.namespace}, Docker ${dockerTarget()})`,
      );
      try {
        await worker.run();
      } finally {
        await listeners?.stop();
      }
    });
}
