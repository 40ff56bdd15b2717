import type { Command } from 'commander';
import { registerDeploy } from './deploy';
import { registerDestroy } from './destroy';
import { registerServer } from './server';
import { registerSetupImage } from './setup-image';
import { registerStatus } from './status';
import { registerWorker } from './worker';

/** Each CLI verb lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  registerDeploy,
  registerStatus,
  registerDestroy,
  registerServer,
  registerWorker,
  registerSetupImage,
];
