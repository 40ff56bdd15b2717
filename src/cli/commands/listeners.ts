import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { runListeners, type ListenersConfig } from '../../runtime/listeners';

/** `berth listeners CONFIG`: hidden; the child process `berth server` and `berth worker` start. */
export function registerListeners(program: Command): void {
  program
    .command('listeners', { hidden: true })
    .argument('<config>', 'JSON: {codec?: {port, origin}, sensor?: {port}}')
    .action(async (text: string) => {
      let config: ListenersConfig;
      try {
        config = JSON.parse(text) as ListenersConfig;
      } catch {
        throw new UserError('listeners: CONFIG must be JSON');
      }
      await runListeners(config);
    });
}
