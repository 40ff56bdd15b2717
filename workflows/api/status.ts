/** The contract of the `status` read workflow (what runs, per app). Implementation: `workflows/status.ts`. */
import type { ActivityTuning } from './operations';
import type { InstanceStatus } from './containers';

export interface StatusInput {
  /** One app, or every app when absent. */
  app?: string;
  activities?: ActivityTuning;
}

export interface AppStatus {
  app: string;
  instances: InstanceStatus[];
}
