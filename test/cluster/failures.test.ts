/**
 * Failures in the middle of a deploy on the cluster: one of two workers killed with SIGKILL, the
 * history service stopped and started again, PostgreSQL stopped and started again. Each deploy must
 * end with exactly the desired containers: nothing lost, nothing doubled.
 */
import * as fs from 'fs';
import * as os from 'os';
import type { Client } from '@temporalio/client';
import { appContainers, uniqueApp } from '../support/docker';
import { runCli, tempDir } from '../support/cli';
import { waitFor } from '../support/policies';
import {
  ClusterWorkers,
  HTTPD,
  SLOW_HTTPD,
  clusterCli,
  clusterClient,
  clusterEnv,
  expectExactly,
  writeBlueprint,
} from './support/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STARTED = 2; // PENDING_ACTIVITY_STATE_STARTED: a worker runs it

describe('a deploy on the cluster survives failures of workers, the history service and PostgreSQL', () => {
  const dir = tempDir('cluster-fail');
  const env = clusterEnv({ BERTH_TASK_QUEUE: `cl-fail-${process.pid}` });
  const workers = new ClusterWorkers(env);
  const cli = (args: string[]) => runCli(args, env);
  let client: Client;
  let closeClient: () => Promise<void>;

  beforeAll(async () => {
    ({ client, close: closeClient } = await clusterClient());
    await workers.start();
    await workers.start();
  });

  afterAll(async () => {
    await workers.stopAll();
    await closeClient();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function deployDetached(
    app: string,
    command: string,
    replicas: number,
    flags: string[],
  ): Promise<string> {
    const started = await cli([
      'deploy',
      writeBlueprint(dir, app, command, replicas),
      '--detach',
      '--json',
      ...flags,
    ]);
    expect(started.code).toBe(0);
    return JSON.parse(started.stdout).workflowId;
  }

  async function expectDeployed(app: string, workflowId: string, replicas: number): Promise<void> {
    const result = await client.workflow.getHandle(workflowId).result();
    expect(result.instances.map((i: { instance: string }) => i.instance).sort()).toEqual(
      Array.from({ length: replicas }, (_, i) => `web-${i + 1}`).sort(),
    );
    await expectExactly(app, replicas);
    const status = await cli(['status', app, '--json']);
    expect(JSON.parse(status.stdout).apps[0].instances.map((i: { state: string }) => i.state)).toEqual(
      Array.from({ length: replicas }, () => 'running'),
    );
    expect((await cli(['destroy', app])).code).toBe(0);
    expect(await appContainers(app)).toHaveLength(0);
  }

  test('two workers on one task queue; the one running a deploy activity is killed with SIGKILL', async () => {
    const app = uniqueApp('cl-kill');
    // Four instances that answer only after 3 s: their readiness waits are activities in flight.
    const workflowId = await deployDetached(app, SLOW_HTTPD, 4, ['--activity-timeout', '6s']);
    const identity = await waitFor(
      'a deploy activity running on a worker',
      async () => {
        const { raw } = await client.workflow.getHandle(workflowId).describe();
        return raw.pendingActivities?.find((a) => a.state === STARTED && a.lastWorkerIdentity)
          ?.lastWorkerIdentity;
      },
      (id) => !!id,
      60_000,
      100,
    );
    // The SDK's default identity is `<pid>@<hostname>`.
    const victim = workers.processes.find((w) => identity === `${w.pid}@${os.hostname()}`);
    expect(victim).toBeDefined();
    victim!.kill('SIGKILL');
    await expectDeployed(app, workflowId, 4);
  });

  // An outage longer than a stagger: a timer and the running activities' completions meet it.
  test.each([
    ['the history service', 'history'],
    ['PostgreSQL', 'postgres'],
  ])('%s stopped in the middle of a deploy and started again', async (_, component) => {
    const app = uniqueApp(`cl-${component}`);
    const workflowId = await deployDetached(app, HTTPD, 3, ['--stagger', '2s']);
    await waitFor(
      'the first container',
      () => appContainers(app),
      (cs) => cs.length >= 1,
      60_000,
    );
    const down = await clusterCli(['down', component, '--json']);
    expect(JSON.parse(down.stdout).stopped).toEqual([component]);
    await sleep(3000);
    const up = await clusterCli(['up', '--json']);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout).started).toEqual([component]);
    await expectDeployed(app, workflowId, 3);
  });
});
