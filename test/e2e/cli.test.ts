import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { LABEL } from '../../src/core/names';
import { appContainers, appNetworks, uniqueApp } from '../support/docker';
import { blueprintCopy, expectOneLineError, runCli, workerProcessFixture } from '../support/cli';

describe('berth CLI end to end (real worker process, dev server and Docker engine)', () => {
  const { env, dir } = workerProcessFixture('cli');

  test('deploy, status and destroy the hello blueprint', async () => {
    const app = uniqueApp('hello');
    const file = blueprintCopy('blueprints/hello.yaml', app, dir);

    const deployed = await runCli(['deploy', file, '--json'], env);
    expect(deployed.stderr).toMatch(/deploying .*: workflow berth-deploy-/);
    expect(deployed.code).toBe(0);
    const result = JSON.parse(deployed.stdout);
    expect(result.workflowId).toBe(`berth-deploy-${app}-1`);
    expect(result.instances.length).toBeGreaterThanOrEqual(1);

    const containers = await appContainers(app);
    expect(containers.map((c) => c.State)).toEqual(containers.map(() => 'running'));
    expect(containers.map((c) => c.Labels[LABEL.instance]).sort()).toEqual(
      result.instances.map((i: { instance: string }) => i.instance).sort(),
    );
    expect(containers.every((c) => c.Image === 'berth/busybox:1')).toBe(true);

    const status = await runCli(['status', app, '--json'], env);
    expect(status.code).toBe(0);
    const apps = JSON.parse(status.stdout).apps;
    expect(apps).toHaveLength(1);
    expect(apps[0].instances.map((i: { state: string }) => i.state)).toEqual(containers.map(() => 'running'));

    const human = await runCli(['status', app], env);
    expect(human.stdout).toMatch(new RegExp(`${app}\\s+\\S+\\s+\\S+-1\\s+local\\s+running`));

    const scaled = await runCli(['scale', app, 'web', '2', '--json'], env);
    expect(scaled.code).toBe(0);
    expect(JSON.parse(scaled.stdout).instances.map((i: { instance: string }) => i.instance)).toEqual([
      'web-1',
      'web-2',
    ]);
    expect(await appContainers(app)).toHaveLength(2);

    const destroyed = await runCli(['destroy', app, '--json'], env);
    expect(destroyed.code).toBe(0);
    expect(JSON.parse(destroyed.stdout)).toMatchObject({
      app,
      operation: 'destroy',
      workflowId: `berth-destroy-${app}-3`,
    });
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  });

  test('a worker with another codec key refuses to start instead of failing every task', async () => {
    // The deploy above started this queue's inventory, sealed with the fixture's key.
    const other = crypto.randomBytes(32).toString('base64');
    const result = await runCli(['worker'], { ...env, BERTH_CODEC_KEY: other }, 60_000);
    expectOneLineError(
      result,
      new RegExp(
        `this worker's codec key [0-9a-f]{16} is not the key [0-9a-f]{16} that the workflows on task queue '${env.BERTH_TASK_QUEUE}' were sealed with: set BERTH_CODEC_KEY`,
      ),
    );
  });

  test('bad input: one line, exit 1, no stack, nothing changed', async () => {
    expectOneLineError(
      await runCli(['deploy', path.join(dir, 'missing.yaml')], env),
      /cannot read .*missing.yaml: no such file/,
    );

    const invalid = path.join(dir, 'invalid.yaml');
    fs.writeFileSync(invalid, 'id: bt-invalid\nservices: [\n');
    expectOneLineError(await runCli(['deploy', invalid], env), /invalid.yaml:3:1: invalid YAML/);
    expect(await appContainers('bt-invalid')).toHaveLength(0);

    expectOneLineError(await runCli(['status', 'bt-no-such-app'], env), /unknown app 'bt-no-such-app'/);
    expectOneLineError(await runCli(['destroy', 'bt-no-such-app'], env), /unknown app 'bt-no-such-app'/);
    expectOneLineError(
      await runCli(['scale', 'bt-no-such-app', 'web', 'two'], env),
      /replicas must be a whole number/,
    );

    // No worker polls a queue: the request is refused within seconds, and nothing starts.
    const nobody = await runCli(['deploy', blueprintCopy('blueprints/hello.yaml', 'bt-noworker', dir)], {
      ...env,
      BERTH_TASK_QUEUE: `${env.BERTH_TASK_QUEUE}-nobody`,
    });
    expectOneLineError(
      nobody,
      /no Berth worker polls task queue '.*-nobody' at .*: start one with 'berth worker'; nothing was changed/,
    );
    expect(await appContainers('bt-noworker')).toHaveLength(0);

    // The embedded default checks the local engine before starting anything.
    const home = path.join(dir, 'nodocker-home');
    const noDocker = await runCli(['deploy', 'blueprints/hello.yaml'], {
      TEMPORAL_ADDRESS: '',
      BERTH_HOME: home,
      BERTH_PORT: '1',
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expectOneLineError(noDocker, /Docker engine unreachable at unix:\/\/\/nonexistent\/docker.sock/);
    expect(fs.existsSync(path.join(home, 'server.pid'))).toBe(false);

    const usage = await runCli(['deploy'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'file'/);
  });
});
