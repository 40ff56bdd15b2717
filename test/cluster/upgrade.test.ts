/**
 * Upgrading Berth while its workflows run: the `patched()` discipline with a rolling worker upgrade
 * (docs/DECISIONS.md, 2026-12-06). An app and its pool's inventory — long-running entity workflows —
 * start on today's workers; workers of a "next release" (today's workflows plus a new command
 * guarded by `patched()`, see support/upgrade/v2.ts) join them on the same task queue; the old
 * worker leaves in the middle of a deploy; the new one finishes it and serves the app on. The
 * same change without the guard fails to replay the histories written before the upgrade.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ChildProcess } from 'child_process';
import type { Client } from '@temporalio/client';
import { appWorkflowId, inventoryWorkflowId } from '../../src/core/names';
import { appContainers, uniqueApp } from '../support/docker';
import { runCli, stopProcess, tempDir } from '../support/cli';
import { saveHistory } from '../support/histories';
import { waitFor } from '../support/policies';
import {
  ClusterWorkers,
  HTTPD,
  clusterAddress,
  clusterClient,
  clusterEnv,
  expectExactly,
  writeBlueprint,
} from './support/cluster';
import { replayHistories } from './support/replay';
import { installWithWorkflowChange } from './support/upgrade/install';
import { UPGRADE_PATCH } from './support/upgrade/v2';

const UPGRADE_DIR = path.join(__dirname, 'support', 'upgrade');

describe('a rolling upgrade of Berth workers on the cluster', () => {
  const dir = tempDir('cluster-upgrade');
  const queue = `cl-upgrade-${process.pid}`;
  const env = clusterEnv({ BERTH_TASK_QUEUE: queue });
  const workers = new ClusterWorkers(env);
  const cli = (args: string[]) => runCli(args, env);
  const app = uniqueApp('cl-upgrade');
  const ids = { app: appWorkflowId(app), inventory: inventoryWorkflowId(queue) };
  let patchedInstall = '';
  let unguardedInstall = '';
  let client: Client;
  let closeClient: () => Promise<void>;

  beforeAll(async () => {
    ({ client, close: closeClient } = await clusterClient());
    patchedInstall = await installWithWorkflowChange('next-patched', path.join(UPGRADE_DIR, 'v2-patched.ts'));
    unguardedInstall = await installWithWorkflowChange(
      'next-unguarded',
      path.join(UPGRADE_DIR, 'v2-unguarded.ts'),
    );
  });

  afterAll(async () => {
    await workers.stopAll();
    await closeClient();
    for (const d of [dir, patchedInstall, unguardedInstall])
      if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const changeVersions = async (workflowId: string): Promise<unknown> =>
    (await client.workflow.getHandle(workflowId).describe()).searchAttributes.TemporalChangeVersion ?? [];

  const save = (name: string, workflowId: string, into: string) =>
    saveHistory(name, workflowId, { address: clusterAddress(), dir: into });

  test('old and new workers side by side; the app and the inventory cross the upgrade', async () => {
    // Before: today's worker alone runs the app and the inventory.
    const old: ChildProcess = await workers.start();
    expect((await cli(['deploy', writeBlueprint(dir, app, HTTPD, 2)])).code).toBe(0);
    const before = path.join(dir, 'before');
    save('app', ids.app, before);
    save('inventory', ids.inventory, before);
    const runBefore = (await client.workflow.getHandle(ids.app).describe()).runId;

    // The next release's worker joins; a deploy starts; the old worker leaves in its middle.
    await workers.start({}, path.join(patchedInstall, 'bin', 'berth'));
    const started = await cli([
      'deploy',
      writeBlueprint(dir, app, HTTPD, 4),
      '--detach',
      '--json',
      '--stagger',
      '1s',
    ]);
    expect(started.code).toBe(0);
    const { workflowId } = JSON.parse(started.stdout);
    await waitFor(
      'the third container',
      () => appContainers(app),
      (cs) => cs.length >= 3,
      60_000,
    );
    await stopProcess(old, 'SIGTERM');

    const result = await client.workflow.getHandle(workflowId).result();
    expect(result.instances.map((i: { instance: string }) => i.instance).sort()).toEqual([
      'web-1',
      'web-2',
      'web-3',
      'web-4',
    ]);
    await expectExactly(app, 4);

    // After: only the new worker runs; the same app workflow run takes the new code path.
    const scaled = await cli(['scale', app, 'web', '1', '--json']);
    expect(scaled.code).toBe(0);
    await expectExactly(app, 1);
    expect((await client.workflow.getHandle(ids.app).describe()).runId).toBe(runBefore);
    expect(await changeVersions(ids.app)).toContain(UPGRADE_PATCH);
    expect(await changeVersions(ids.inventory)).toContain(UPGRADE_PATCH);

    const after = path.join(dir, 'after');
    save('app', ids.app, after);
    save('inventory', ids.inventory, after);
    const key = env.BERTH_CODEC_KEY!;
    const files = (d: string) => ['app', 'inventory'].map((n) => path.join(d, `${n}.json`));
    // The guarded release replays what the old one wrote, and its own mixed histories.
    expect(replayHistories(files(before), key, patchedInstall).lines).toEqual([
      'ok app.json',
      'ok inventory.json',
    ]);
    expect(replayHistories(files(after), key, patchedInstall).lines).toEqual([
      'ok app.json',
      'ok inventory.json',
    ]);
    // Without the guard, the same change cannot replay the workflows that ran before it.
    const unguarded = replayHistories(files(before), key, unguardedInstall);
    expect(unguarded.lines).toEqual([
      expect.stringMatching(/^FAIL app\.json: .*[Nn]ondetermin/),
      expect.stringMatching(/^FAIL inventory\.json: .*[Nn]ondetermin/),
    ]);
    expect(unguarded.status).toBe(1);

    expect((await cli(['destroy', app])).code).toBe(0);
    expect(await appContainers(app)).toHaveLength(0);
  });
});
