import { LABEL, inventoryWorkflowId } from '../../src/core/names';
import { appStateQuery } from '../../workflows/api/app';
import { inventoryQuery } from '../../workflows/api/inventory';
import { appContainers, appNetworks, docker, uniqueApp } from '../support/docker';
import { blueprintOf, innermost, operate, operateExpectingFailure, session } from '../support/operations';
import { inProcessWorker, testClient, uniqueTaskQueue } from '../support/temporal';

const webDb = (app: string, image = 'berth/busybox:1') =>
  blueprintOf(`id: ${app}
services:
  - id: db
    image: ${image}
    command: [sh, -c, "mkdir -p /srv && httpd -f -p 5432 -h /srv"]
    ports: ["5432"]
  - id: web
    type: cluster
    initialSize: 2
    image: berth/busybox:1
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: ["8080"]
    env:
      DB_ADDRESS: \${db.address}
      DB_HOST: \${db.host}
`);

async function envOf(id: string): Promise<Record<string, string>> {
  const info = await docker.getContainer(id).inspect();
  return Object.fromEntries(
    info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
}

describe('the app workflow runs deploy, scale, heal, destroy and retry as child operations', () => {
  const taskQueue = uniqueTaskQueue('app');
  let client: Awaited<ReturnType<typeof testClient>>;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  let running: Promise<void>;
  const s = () => session(client.client, taskQueue);

  beforeAll(async () => {
    client = await testClient();
    worker = await inProcessWorker(taskQueue);
    running = worker.worker.run();
  });

  afterAll(async () => {
    worker.worker.shutdown();
    await running;
    await worker.close();
    await client.close();
  });

  test('deploy resolves references in dependency order, assigns addresses in the app subnet, and converges', async () => {
    const app = uniqueApp('webdb');
    const result = await operate(s(), app, { type: 'deploy', blueprint: webDb(app) });
    expect(result.instances.map((i) => `${i.instance}:${i.action}`)).toEqual([
      'db-1:created',
      'web-1:created',
      'web-2:created',
    ]);
    const subnet = result.subnet!;
    expect(subnet).toMatch(/^10\.201\.\d+\.0\/24$/);
    const prefix = subnet.split('.').slice(0, 3).join('.');
    for (const i of result.instances)
      expect(i.ip).toMatch(new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.\\d+$`));
    expect(new Set(result.instances.map((i) => i.ip)).size).toBe(3);

    const db = result.instances.find((i) => i.service === 'db')!;
    const web1 = result.instances.find((i) => i.instance === 'web-1')!;
    expect(await envOf(web1.id)).toMatchObject({ DB_ADDRESS: db.ip, DB_HOST: `db.${app}.berth` });
    const containers = await appContainers(app);
    expect(containers).toHaveLength(3);
    const db1 = await docker.getContainer(db.id).inspect();
    expect(db1.NetworkSettings.Networks[`berth-${app}`].IPAddress).toBe(db.ip);

    // The same blueprint again changes nothing.
    const again = await operate(s(), app, { type: 'deploy', blueprint: webDb(app) });
    expect(again.instances.map((i) => i.action)).toEqual(['kept', 'kept', 'kept']);
    expect(again.instances.map((i) => i.id)).toEqual(result.instances.map((i) => i.id));

    // Scale up, then down: the newest instances go first.
    const up = await operate(s(), app, { type: 'scale', service: 'web', replicas: 4 });
    expect(up.instances.filter((i) => i.service === 'web').map((i) => i.instance)).toEqual([
      'web-1',
      'web-2',
      'web-3',
      'web-4',
    ]);
    const down = await operate(s(), app, { type: 'scale', service: 'web', replicas: 1 });
    expect(down.removed).toEqual(['web-4', 'web-3', 'web-2']);
    expect((await appContainers(app)).map((c) => c.Labels[LABEL.instance]).sort()).toEqual(['db-1', 'web-1']);

    // Heal: a removed container comes back with its address; a stopped one is started.
    await docker.getContainer(db.id).remove({ force: true });
    await docker.getContainer(web1.id).stop({ t: 0 });
    const healed = await operate(s(), app, { type: 'heal' });
    expect(healed.instances.map((i) => `${i.instance}:${i.action}`)).toEqual([
      'db-1:created',
      'web-1:started',
    ]);
    expect(healed.instances[0].ip).toBe(db.ip);

    const state = await client.client.workflow.getHandle(`berth-app-${app}`).query(appStateQuery);
    expect(state.phase).toBe('running');
    expect(state.replicas).toEqual({ db: 1, web: 1 });
    expect(state.operations.map((o) => `${o.type}:${o.status}`)).toEqual([
      'deploy:completed',
      'deploy:completed',
      'scale:completed',
      'scale:completed',
      'heal:completed',
    ]);

    await operate(s(), app, { type: 'destroy' });
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
    const inventory = await client.client.workflow
      .getHandle(inventoryWorkflowId(taskQueue))
      .query(inventoryQuery);
    expect(Object.values(inventory.reservations).filter((r) => r.app === app)).toEqual([]);
    expect(inventory.subnets[app]).toBeUndefined();
  });

  test('a failed deploy rolls back what it created; retry after the fix converges', async () => {
    const app = uniqueApp('retry');
    const missing = `berth/${app}:later`;
    const failed = await operateExpectingFailure(s(), app, {
      type: 'deploy',
      blueprint: webDb(app, missing),
    });
    expect(innermost(failed.error).message).toMatch(
      // Pulled when missing (issue 13): the answer is the registry's (docker.io: unknown here, offline).
      new RegExp(`image '${missing}': registry docker\\.io .*\\(service db\\)`),
    );
    expect(await appContainers(app)).toHaveLength(0);

    await docker.getImage('berth/busybox:1').tag({ repo: `berth/${app}`, tag: 'later' });
    try {
      const { requestRetry } = await import('../../src/cli/operation');
      const retried = await requestRetry(s(), failed.operationId);
      expect(retried).not.toBe(failed.operationId);
      const result = await client.client.workflow.getHandle(retried).result();
      expect(result.instances.map((i: { instance: string }) => i.instance)).toEqual([
        'db-1',
        'web-1',
        'web-2',
      ]);
      expect(await appContainers(app)).toHaveLength(3);
      await operate(s(), app, { type: 'destroy' });
    } finally {
      await docker
        .getImage(missing)
        .remove()
        .catch(() => undefined);
    }
  });

  test('a deploy whose instance never gets ready rolls back, unless asked to keep it', async () => {
    const app = uniqueApp('notready');
    const bp = blueprintOf(`id: ${app}
services:
  - id: web
    image: berth/busybox:1
    command: [sleep, "3600"]
    ports: ["8080"]
`);
    const options = { activities: { startToCloseMs: 20_000, maxAttempts: 1 }, readyTimeoutMs: 1500 };
    const rolledBack = await operateExpectingFailure(s(), app, { type: 'deploy', blueprint: bp, options });
    expect(innermost(rolledBack.error).message).toMatch(/not ready: port 8080 .* does not answer/);
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);

    await operateExpectingFailure(s(), app, {
      type: 'deploy',
      blueprint: bp,
      options: { ...options, keepOnFailure: true },
    });
    expect(await appContainers(app)).toHaveLength(1);
    await operate(s(), app, { type: 'destroy' });
    expect(await appContainers(app)).toHaveLength(0);
  });

  test('scale of an unknown service or app is rejected with a clear message and changes nothing', async () => {
    const app = uniqueApp('reject');
    await expect(operate(s(), app, { type: 'scale', service: 'web', replicas: 2 })).rejects.toThrow(
      new RegExp(`unknown app '${app}'`),
    );
    await operate(s(), app, { type: 'deploy', blueprint: webDb(app) });
    await expect(operate(s(), app, { type: 'scale', service: 'nope', replicas: 2 })).rejects.toThrow(
      /has no service 'nope' \(services: db, web\)/,
    );
    expect(await appContainers(app)).toHaveLength(3);
    await operate(s(), app, { type: 'destroy' });
  });

  test('a scale-down stops the instances it removes all at once, not `parallelism` at a time', async () => {
    // `sleep` as PID 1 ignores TERM, so each stop lasts its grace period and ends with KILL: stopped
    // one at a time, an instance would die before the next is told to stop.
    const app = uniqueApp('stops');
    const blueprint = blueprintOf(`id: ${app}
services:
  - id: web
    image: berth/busybox:1
    command: [sleep, "600"]
    replicas: 4
    stopGracePeriod: 2s
`);
    await operate(s(), app, { type: 'deploy', blueprint });
    const since = Math.floor(Date.now() / 1000) - 1;
    const down = await operate(s(), app, {
      type: 'scale',
      service: 'web',
      replicas: 1,
      options: { parallelism: 1 },
    });
    expect(down.removed).toHaveLength(3);
    const stream = await docker.getEvents({
      since,
      until: Math.floor(Date.now() / 1000) + 1,
      filters: { label: [`${LABEL.app}=${app}`], event: ['kill', 'die'] },
    });
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      stream.on('data', (d: Buffer) => (out += d.toString()));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
    const events = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } })
      .map((e) => `${e.Action}${e.Actor.Attributes.signal ? `:${e.Actor.Attributes.signal}` : ''}`);
    const firstDie = events.indexOf('die');
    expect(firstDie).toBeGreaterThan(0);
    expect(events.slice(0, firstDie).filter((e) => e === 'kill:15')).toHaveLength(3);
    await operate(s(), app, { type: 'destroy' });
  }, 120_000);
});

describe('the inventory workflow serialises placement', () => {
  test('two deploys started at once onto a host limited by maxContainers never exceed the limit', async () => {
    const taskQueue = uniqueTaskQueue('inventory');
    const client = await testClient();
    const worker = await inProcessWorker(taskQueue);
    const running = worker.worker.run();
    try {
      const apps = [uniqueApp('limit-a'), uniqueApp('limit-b')];
      const bp = (app: string) =>
        blueprintOf(`id: ${app}
placement:
  - maxContainers: 4
services:
  - id: web
    type: cluster
    initialSize: 3
    image: berth/busybox:1
    command: [sleep, "3600"]
`);
      const outcomes = await Promise.allSettled(
        apps.map((app) =>
          operate(session(client.client, taskQueue), app, { type: 'deploy', blueprint: bp(app) }),
        ),
      );
      const counts = await Promise.all(apps.map(async (app) => (await appContainers(app)).length));
      expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(innermost(rejected.reason).message).toMatch(
        /no host fits web-\d: maxContainers excluded 1 host/,
      );
      for (const [i, app] of apps.entries()) {
        if (outcomes[i].status === 'fulfilled')
          await operate(session(client.client, taskQueue), app, { type: 'destroy' });
      }
    } finally {
      worker.worker.shutdown();
      await running;
      await worker.close();
      await client.close();
    }
  });
});
