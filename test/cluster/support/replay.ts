import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from '../../support/cli';

/**
 * Replays history files against an install's workflow bundle (`root`: this checkout, or a copy
 * with another bundle), in a child process as the replay test does (jest breaks protobufjs'
 * reflection). One `ok FILE` or `FAIL FILE: reason` line per file.
 */
export function replayHistories(
  files: string[],
  key: string,
  root = ROOT,
): { lines: string[]; status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'dist', 'scripts', 'replay-histories.js'), ...files],
    { encoding: 'utf8', env: { ...process.env, BERTH_CODEC_KEY: key }, timeout: 300_000 },
  );
  return {
    // The SDK's own log lines (a failing replay warns) share stdout with the verdicts.
    lines: result.stdout.split('\n').filter((l) => l.startsWith('ok ') || l.startsWith('FAIL ')),
    status: result.status,
    output: `${result.stdout}${result.stderr}`,
  };
}
