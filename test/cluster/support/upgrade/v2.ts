import { patched, sleep, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * A stand-in for the next Berth release's workflow code, for the upgrade test: before handling any
 * update (the app's `operate`, the inventory's `reserve`/`release`…), a workflow first waits 1 ms.
 * That timer is a new command, the kind of change that breaks running workflows unless guarded by
 * `patched()`. Injected as a workflow interceptor so it reaches every workflow without editing them.
 */
export const UPGRADE_PATCH = 'berth-upgrade-test-v2';

export function upgradeInterceptors(guarded: boolean): WorkflowInterceptorsFactory {
  return () => ({
    inbound: [
      {
        async handleUpdate(input, next) {
          if (!guarded || patched(UPGRADE_PATCH)) await sleep(1);
          return next(input);
        },
      },
    ],
  });
}
