/**
 * The index beside recorded histories, `workflow-ids.txt`: one line `FILE WORKFLOW_ID` per history,
 * so replay runs it under the ID it was recorded with (workflows derive names from their own ID).
 */
import * as fs from 'fs';
import * as path from 'path';

const INDEX = 'workflow-ids.txt';

export function readWorkflowIds(dir: string): Map<string, string> {
  const index = path.join(dir, INDEX);
  const ids = new Map<string, string>();
  if (!fs.existsSync(index)) return ids;
  for (const line of fs.readFileSync(index, 'utf8').split('\n')) {
    const [file, workflowId] = line.trim().split(/\s+/);
    if (file && workflowId) ids.set(file, workflowId);
  }
  return ids;
}

/** Records (or replaces) the workflow ID of one history file; lines stay sorted for stable diffs. */
export function writeWorkflowId(dir: string, file: string, workflowId: string): void {
  const ids = readWorkflowIds(dir).set(file, workflowId);
  const lines = [...ids].map(([f, id]) => `${f} ${id}`).sort();
  fs.writeFileSync(path.join(dir, INDEX), lines.join('\n') + '\n');
}
