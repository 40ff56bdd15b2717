import type { Command } from 'commander';

/** Each CLI verb lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [];
