import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ROOT } from '../../../support/cli';

/**
 * Another Berth install beside this checkout, as an upgrade puts one on a machine: a copy of the
 * built `dist/` and `bin/` (node_modules linked) whose workflow bundle is today's workflows plus
 * `interceptorModule`. Its `bin/berth` runs workers with that bundle (the bundle is found next to
 * the code that loads it), and its `dist/scripts/replay-histories.js` replays against it.
 */
export async function installWithWorkflowChange(stem: string, interceptorModule: string): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `berth-${stem}-`));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(root, 'dist'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'dist', 'workflows', 'index.js'),
    failureConverterPath: path.join(root, 'dist', 'src', 'adapters', 'failure-converter.js'),
    workflowInterceptorModules: [interceptorModule],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  fs.writeFileSync(path.join(root, 'dist', 'workflow-bundle.js'), code);
  return root;
}
