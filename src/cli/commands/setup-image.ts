import type { Command } from 'commander';
import { BASE_IMAGE, ensureBaseImage } from '../../adapters/base-image';
import { createDockerClient, pingDocker } from '../../adapters/docker';
import { info } from '../output';

export function registerSetupImage(program: Command): void {
  program
    .command('setup-image')
    .description(`build the base image ${BASE_IMAGE} from the static busybox, without any registry`)
    .action(async () => {
      const docker = createDockerClient();
      await pingDocker(docker);
      const built = await ensureBaseImage(docker);
      info(built ? `built ${BASE_IMAGE}` : `${BASE_IMAGE} already present`);
    });
}
