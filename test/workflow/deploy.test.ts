import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { parseBlueprint } from '../../src/core/blueprint/parse';
import { LABEL } from '../../src/core/names';
import { createDockerClient } from '../../src/adapters/docker';
import type { DeployResult } from '../../workflows/deploy';
import type { AppStatus } from '../../workflows/status';
import { appContainers, appNetworks, uniqueApp } from '../support/docker';
import { inProcessWorker, testClient, uniqueTaskQueue } from '../support/temporal';

function blueprint(app: string, image = 'berth/busybox:1') {
  return parseBlueprint(
    `id: ${app}
services:
  - id: db
    image: ${image}
    command: [sleep, "3600"]
  - id: web
    type: cluster
    initialSize: 2
    image: ${image}
    command: [httpd, -f, -p, "8080", -h, /www]
`,
    'test.yaml',
  );
}

const fast = { startToCloseMs: 20_000, maxAttempts: 2 };

describe('deploy / status / destroy workflows on the real dev server and Docker engine', () => {
  let client: Awaited<ReturnType<typeof testClient>>;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  let run: Promise<void>;
  const taskQueue = uniqueTaskQueue('deploy');

  beforeAll(async () => {
    client = await testClient();
    worker = await inProcessWorker(taskQueue);
    run = worker.worker.run();
  });

  afterAll(async () => {
    worker.worker.shutdown();
    await run;
    await worker.close();
    await client.close();
  });

  const execute = <R>(type: string, id: string, arg: unknown) =>
    client.client.workflow.execute(type, { taskQueue, workflowId: id, args: [arg] }) as Promise<R>;

  test('deploy creates labelled, running containers in dependency order on one app network', async () => {
    const app = uniqueApp('deploy');
    const result = await execute<DeployResult>('deploy', `${app}-1`, {
      blueprint: blueprint(app),
      activities: fast,
    });
    expect(result.instances.map((i) => i.instance)).toEqual(['db-1', 'web-1', 'web-2']);
    expect(result.instances.every((i) => i.created)).toBe(true);

    const containers = await appContainers(app);
    expect(containers).toHaveLength(3);
    for (const c of containers) {
      expect(c.State).toBe('running');
      expect(c.Labels[LABEL.managed]).toBe('true');
      expect(c.Labels[LABEL.app]).toBe(app);
      expect(['db', 'web']).toContain(c.Labels[LABEL.service]);
      expect(Object.keys(c.NetworkSettings.Networks)).toEqual([`berth-${app}`]);
    }
    expect((await appNetworks(app)).map((n) => n.Name)).toEqual([`berth-${app}`]);

    // Running it again converges on what exists: same containers, nothing created.
    const again = await execute<DeployResult>('deploy', `${app}-2`, {
      blueprint: blueprint(app),
      activities: fast,
    });
    expect(again.instances.map((i) => i.id)).toEqual(result.instances.map((i) => i.id));
    expect(again.instances.some((i) => i.created)).toBe(false);
    expect(await appContainers(app)).toHaveLength(3);

    const statuses = await execute<AppStatus[]>('status', `${app}-status`, { app, activities: fast });
    expect(statuses).toHaveLength(1);
    expect(statuses[0].instances.map((i) => `${i.instance}:${i.state}`)).toEqual([
      'db-1:running',
      'web-1:running',
      'web-2:running',
    ]);

    const removed = await execute<{ containers: number; networks: number }>('destroy', `${app}-destroy`, {
      app,
      activities: fast,
    });
    expect(removed).toEqual({ containers: 3, networks: 1 });
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  });

  test('a missing image fails fast as a non-retryable user error and creates nothing', async () => {
    const app = uniqueApp('noimage');
    const err = await execute('deploy', `${app}-1`, {
      blueprint: blueprint(app, 'berth/no-such-image:0'),
      activities: fast,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('ImageNotFound');
    expect((cause as ApplicationFailure).message).toMatch(/berth\/no-such-image:0/);
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  });

  test('destroy and status of an unknown app fail with UnknownApp', async () => {
    const app = uniqueApp('unknown');
    for (const type of ['destroy', 'status']) {
      const err = await execute(type, `${app}-${type}`, { app, activities: fast }).catch((e) => e);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('UnknownApp');
    }
  });

  test('an unreachable Docker engine fails the deploy after bounded retries with a clear message', async () => {
    const queue = uniqueTaskQueue('nodocker');
    const target = 'unix:///nonexistent/docker.sock';
    const broken = await inProcessWorker(queue, createDockerClient(target), target);
    const app = uniqueApp('nodocker');
    const err = await broken.worker
      .runUntil(
        client.client.workflow.execute('deploy', {
          taskQueue: queue,
          workflowId: `${app}-1`,
          args: [{ blueprint: blueprint(app), activities: { startToCloseMs: 5000, maxAttempts: 2 } }],
        }),
      )
      .catch((e) => e);
    await broken.close();
    const cause = (err as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(cause.type).toBe('DockerUnreachable');
    expect(cause.message).toMatch(/Docker engine unreachable at unix:\/\/\/nonexistent\/docker.sock/);
  });
});

describe('activities are idempotent against the real engine', () => {
  test('ensureContainer and ensureNetwork find what an earlier attempt made', async () => {
    const { createActivities } = await import('../../activities');
    const activities = createActivities({ docker: createDockerClient() });
    const app = uniqueApp('idem');
    const net1 = await activities.ensureNetwork(app);
    const net2 = await activities.ensureNetwork(app);
    expect(net2).toBe(net1);
    const spec = {
      app,
      service: 'web',
      instance: 'web-1',
      image: 'berth/busybox:1',
      command: ['sleep', '3600'],
      env: {},
      ports: [],
      network: `berth-${app}`,
      aliases: ['web'],
    };
    const first = await activities.ensureContainer(spec);
    const second = await activities.ensureContainer(spec);
    expect(first.created).toBe(true);
    expect(second).toEqual({ ...first, created: false });
    expect(await appContainers(app)).toHaveLength(1);
    expect(await activities.removeApp(app)).toEqual({ containers: 1, networks: 1 });
  });
});

// Keeps the type import used in the worker helper's signature honest.
export type _W = Worker;
