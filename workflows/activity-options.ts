import { proxyActivities } from '@temporalio/workflow';
import type { BerthActivities } from '../activities';

/** Durations are inputs, so tests can run in seconds and operators can tune them. */
export interface ActivityTuning {
  /** Upper bound for one Docker call (create, start, remove). Default 60 s. */
  startToCloseMs?: number;
  /** Attempts before an infrastructure failure (engine unreachable, 5xx) fails the operation. Default 5. */
  maxAttempts?: number;
}

export function dockerActivities(tuning: ActivityTuning = {}) {
  return proxyActivities<BerthActivities>({
    startToCloseTimeout: tuning.startToCloseMs ?? 60_000,
    retry: {
      initialInterval: 500,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
      maximumAttempts: tuning.maxAttempts ?? 5,
    },
  });
}
