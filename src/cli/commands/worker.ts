import type { Command } from 'commander';
import { createDockerClient, dockerTarget, pingDocker } from '../../adapters/docker';
import { connectClient, connectNative, temporalTarget } from '../../adapters/temporal';
import { startSensorServer } from '../../adapters/sensor-http';
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
      const sensors =
        sensorPort === undefined
          ? undefined
          : await startSensorServer({ port: sensorPort, client: await connectClient(target) });
      if (sensors) info(`Sensor endpoint ${sensors.url}/v1/sensors/{app}/{service}/{metric}`);
      info(
        `Berth worker polling '${target.taskQueue}' on ${target.address} (namespace ${target.namespace}, Docker ${dockerTarget()})`,
      );
      try {
        await worker.run();
      } finally {
        await sensors?.close();
      }
    });
}
