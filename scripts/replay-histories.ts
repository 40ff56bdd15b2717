/**
 * Replays recorded histories (JSON of `temporal workflow show -o json`) against the built workflow
 * bundle and prints one line per file: `ok FILE` or `FAIL FILE: reason`; exits 1 on any failure.
 * Usage: node dist/scripts/replay-histories.js FILE... (the payload codec key comes from
 * BERTH_CODEC_KEY, as for a worker). Runs outside jest, whose module registry breaks protobufjs.
 * A history is replayed under its real workflow ID when `workflow-ids.txt` beside it names it
 * (see workflow-ids.ts): workflows that derive names from their own ID need it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from '@temporalio/worker';
import { berthDataConverter } from '../src/adapters/codec';
import { installSdkLogging } from '../src/adapters/temporal';
import { readWorkflowIds } from './workflow-ids';

async function main(files: string[]): Promise<number> {
  const codePath = path.resolve(__dirname, '..', 'workflow-bundle.js');
  process.env.BERTH_LOG_LEVEL ??= 'ERROR';
  installSdkLogging();
  let failed = 0;
  for (const file of files) {
    try {
      await Worker.runReplayHistory(
        {
          workflowBundle: { codePath },
          dataConverter: berthDataConverter(),
          replayName: path.basename(file),
        },
        JSON.parse(fs.readFileSync(file, 'utf8')),
        readWorkflowIds(path.dirname(file)).get(path.basename(file)),
      );
      console.log(`ok ${path.basename(file)}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${path.basename(file)}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`replay-histories: ${(err as Error).message}`);
    process.exit(1);
  },
);
