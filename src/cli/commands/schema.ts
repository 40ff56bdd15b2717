import type { Command } from 'commander';
import { BLUEPRINT_SCHEMA } from '../../core/blueprint/schema';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of blueprints (for editors, e.g. yaml-language-server)')
    .action(() => {
      console.log(JSON.stringify(BLUEPRINT_SCHEMA, null, 2));
    });
}
