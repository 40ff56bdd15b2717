import type { RegisterCommand } from './index';
import { BLUEPRINT_SCHEMA } from '../../core/blueprint/schema';

export const registerSchema: RegisterCommand = (program) => {
  program
    .command('schema')
    .description('Print the JSON Schema of blueprints (for editors, e.g. yaml-language-server)')
    .action(() => {
      console.log(JSON.stringify(BLUEPRINT_SCHEMA, null, 2));
    });
};
