import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeWorkflowId } from '../../scripts/workflow-ids';
import { findTemporalCli } from '../../src/adapters/temporal-cli';
import { testAddress } from './temporal';

/**
 * Recorded histories (test/fixtures/histories) that the replay test runs against today's workflow
 * code. Tests record them with BERTH_RECORD_HISTORIES=1; payloads are sealed with a fixed
 * test-only key, so replay can open them.
 */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');
export const FIXTURE_KEY = Buffer.alloc(32, 7).toString('base64');
export const RECORDING = process.env.BERTH_RECORD_HISTORIES === '1';
/** `BERTH_RECORD_HISTORIES=rollout` records only the app whose operations roll changes out. */
export const RECORDING_ROLLOUT = RECORDING || process.env.BERTH_RECORD_HISTORIES === 'rollout';

/**
 * Saves a workflow's history so far as `<name>.json`, and its workflow ID in workflow-ids.txt
 * (replay runs it under that ID), replacing an earlier recording of the same name. By default from
 * the run's dev server into the fixtures; the cluster suite passes its own server and directory.
 */
export function saveHistory(
  name: string,
  workflowId: string,
  { address = testAddress(), dir = HISTORIES_DIR }: { address?: string; dir?: string } = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), historyJson(workflowId, address));
  writeWorkflowId(dir, `${name}.json`, workflowId);
}

/** A workflow's history so far, as `temporal workflow show -o json` prints it. */
export function historyJson(workflowId: string, address = testAddress()): string {
  return execFileSync(
    findTemporalCli(),
    ['workflow', 'show', '--address', address, '-w', workflowId, '-o', 'json'],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
}
