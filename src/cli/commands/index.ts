import type { Command } from 'commander';
import { registerCluster } from './cluster';
import { registerCodecServer } from './codec-server';
import { registerDeploy } from './deploy';
import { registerDestroy, registerHeal, registerRetry, registerScale } from './operations';
import { registerHosts } from './hosts';
import { registerListeners } from './listeners';
import { registerExec, registerLogs } from './logs';
import { registerPlan } from './plan';
import { registerPolicy } from './policy';
import { registerRollout } from './rollout';
import { registerSensor } from './sensor';
import { registerServer } from './server';
import { registerSetupImage } from './setup-image';
import { registerSchema } from './schema';
import { registerStatus } from './status';
import { registerValidate } from './validate';
import { registerWorker } from './worker';

/** Each CLI verb lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  registerValidate,
  registerSchema,
  registerDeploy,
  registerStatus,
  registerScale,
  registerHeal,
  registerDestroy,
  registerRetry,
  registerLogs,
  registerExec,
  registerRollout,
  registerServer,
  registerWorker,
  registerCodecServer,
  registerSetupImage,
  registerPlan,
  registerPolicy,
  registerSensor,
  registerHosts,
  registerListeners,
  registerCluster,
];
