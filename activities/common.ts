import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { isConflict, isNotFound } from './docker-errors';

/** Heartbeats the current activity; a no-op outside one (direct calls in tests). */
export function heartbeat(details: string): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity
  }
}

/**
 * Force-removes (with their anonymous volumes) the containers carrying every one of `labels`
 * (`key=value`), a few at a time: faster than one by one, gentler than all at once. One already
 * gone, or being removed, is not an error. Returns how many this call removed.
 */
export async function removeLabelledContainers(docker: Docker, labels: string[]): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: labels } });
  let removed = 0;
  for (let i = 0; i < containers.length; i += 8) {
    await Promise.all(
      containers.slice(i, i + 8).map(async (c) => {
        try {
          await docker.getContainer(c.Id).remove({ force: true, v: true });
          removed++;
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
      }),
    );
    heartbeat(`removed ${removed} of ${containers.length}`);
  }
  return removed;
}
