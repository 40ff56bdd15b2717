import { Command } from 'commander';
import { reportAndExit } from './errors';
import { COMMANDS } from './commands';

async function run(): Promise<void> {
  const program = new Command()
    .name('berth')
    .description(
      'Durable container orchestrator: deploy YAML blueprints onto Docker hosts via Temporal workflows',
    )
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    // commander already printed its own usage message for these.
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') process.exit(0);
    if (code?.startsWith('commander.')) process.exit(2);
    throw err;
  }
}

run().catch(reportAndExit);
