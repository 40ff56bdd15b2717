/** Bundles the workflow code once at build time (dist/workflow-bundle.js); workers load it directly. */
import * as fs from 'fs';
import * as path from 'path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'dist', 'workflows', 'index.js'),
    // Failures raised in workflow code are encoded (then sealed by the codec) like the worker's.
    failureConverterPath: path.join(root, 'dist', 'src', 'adapters', 'failure-converter.js'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  fs.writeFileSync(path.join(root, 'dist', 'workflow-bundle.js'), code);
}

main().catch((err) => {
  console.error(`bundle-workflows: ${(err as Error).message}`);
  process.exit(1);
});
