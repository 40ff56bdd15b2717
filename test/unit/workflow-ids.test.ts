import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readWorkflowIds, writeWorkflowId } from '../../scripts/workflow-ids';

describe('workflow-ids.txt beside recorded histories', () => {
  test('a recording replaces its own line, keeps the others and keeps them sorted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ids-'));
    try {
      expect(readWorkflowIds(dir).size).toBe(0);
      writeWorkflowId(dir, 'b.json', 'wf-b');
      writeWorkflowId(dir, 'a.json', 'wf-a');
      writeWorkflowId(dir, 'b.json', 'wf-b2');
      expect(fs.readFileSync(path.join(dir, 'workflow-ids.txt'), 'utf8')).toBe('a.json wf-a\nb.json wf-b2\n');
      expect(readWorkflowIds(dir).get('b.json')).toBe('wf-b2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
