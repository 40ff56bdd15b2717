import type { Command } from 'commander';
import { createDockerClient, dockerTarget, pingDocker } from '../../adapters/docker';
import { connectNative, temporalTarget } from '../../adapters/temporal';
import { createBerthWorker } from '../../runtime/worker';
import { info, warn } from '../output';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a Berth worker against TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (TLS: TEMPORAL_TLS_CERT, _KEY, _CA)',
    )
    .action(async () => {
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
      info(
        `Berth worker polling '${target.taskQueue}' on ${target.address} (namespace ${target.namespace}, Docker ${dockerTarget()})`,
      );
      await worker.run();
    });
}
