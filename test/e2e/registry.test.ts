import * as fs from 'fs';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { buildFromDockerfile } from '../../src/adapters/images';
import { LABEL } from '../../src/core/names';
import { appContainers, appNetworks, appVolumes, docker, execIn, uniqueApp } from '../support/docker';
import { blueprintCopy, runCli, tempDir, workerProcessFixture, type CliResult } from '../support/cli';
import { httpRequest } from '../support/http';
import { freePort, startTestRegistry, type TestRegistry } from '../support/registry';
import { testAddress } from '../support/temporal';

/**
 * Images from a real registry (Debian's docker-registry with htpasswd auth on loopback), through
 * the compiled CLI and a worker whose Docker config holds one user's credentials.
 */

/** A failed operation as a user sees it: exit 1, and one `error:` line, no stack. */
function expectFailure(result: CliResult, pattern: RegExp): string {
  expect(result.code).toBe(1);
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return errors[0];
}

/**
 * An image of its own (a layer of ~1 MB, so a pull moves something), with `/www/version`. The run's
 * nonce defeats the build cache: a cached layer from an earlier run, still tagged by a leftover
 * image, would already be on the engine and the pull would move nothing.
 */
async function buildVersion(tag: string, version: string): Promise<void> {
  const nonce = `${process.pid}-${Date.now()}`;
  await buildFromDockerfile(docker, {
    dockerfile: `FROM berth/busybox:1\nRUN head -c 1000000 /dev/urandom > /payload && echo ${version} > /www/version && echo ${nonce} > /nonce\n`,
    tag,
    labels: {},
  });
}

async function removeImage(ref: string): Promise<void> {
  await docker
    .getImage(ref)
    .remove({ force: true })
    .catch(() => undefined);
}

describe('images from any registry: pinned digests, credentials, failures', () => {
  const configDir = tempDir('docker-config');
  const { env, dir } = workerProcessFixture('registry', { DOCKER_CONFIG: configDir });
  let registry: TestRegistry;
  let repo: string;
  const local = `berth-test-${process.pid}/web`;

  beforeAll(async () => {
    registry = await startTestRegistry({ alice: 'wonderland', bob: 'builder' });
    repo = `${registry.address}/team/web`;
    // The worker's machine knows alice (`docker login` writes this); bob exists only as a secret.
    fs.writeFileSync(
      path.join(configDir, 'config.json'),
      JSON.stringify({
        auths: { [registry.address]: { auth: Buffer.from('alice:wonderland').toString('base64') } },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    for (const v of ['v1', 'v2', 'guestbook']) await removeImage(`${local}:${v}`);
    // Whatever the tests pulled from the registry (its address is this run's own).
    const guestbook = repo.replace(/\/web$/, '/guestbook');
    const pulled = await docker.listImages({
      filters: { reference: [repo, `${repo}:*`, guestbook, `${guestbook}:*`] },
    });
    for (const image of pulled) await removeImage(image.Id);
    fs.rmSync(configDir, { recursive: true, force: true });
  });

  const blueprint = (app: string, image: string, extra: string[] = []): string => {
    const file = path.join(dir, `${app}.yaml`);
    fs.writeFileSync(
      file,
      [
        `id: ${app}`,
        ...extra.filter((l) => l.startsWith('secrets:')),
        'services:',
        '  - id: web',
        '    type: cluster',
        '    replicas: 1',
        `    image: ${image}`,
        '    command: [httpd, -f, -p, "8080", -h, /www]',
        '    ports: ["8080"]',
        ...extra.filter((l) => !l.startsWith('secrets:')).map((l) => `    ${l}`),
        '',
      ].join('\n'),
    );
    return file;
  };

  test("a pull with the worker's Docker credentials; the digest is pinned, shown, kept by a scale-up after the tag moved, and a new deploy takes the new one", async () => {
    const app = uniqueApp('pin');
    await buildVersion(`${local}:v1`, 'v1');
    const first = await registry.push(`${local}:v1`, 'team/web:1');
    // The engine must fetch it: nothing of it is local but the base layers.
    await removeImage(`${repo}:1`);
    await removeImage(`${local}:v1`);

    const file = blueprint(app, `${repo}:1`);
    const deployed = await runCli(['deploy', file], env, 180_000);
    expect({ code: deployed.code, stderr: deployed.code === 0 ? '' : deployed.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    // Progress names the digest and the pull, in the CLI's progress style.
    expect(deployed.stdout).toContain(`web: ${repo}:1 is ${first.slice(0, 19)}`);
    const pulled = /pulled (\S+) on local: (\d+) of (\d+) layers, ([\d.]+) MB in ([\d.]+) s/.exec(
      deployed.stdout,
    );
    expect(pulled?.[1]).toBe(`${repo}:1@${first.slice(0, 19)}`);
    expect(Number(pulled![2])).toBeGreaterThanOrEqual(1);
    console.log(
      JSON.stringify({ pull: { layers: Number(pulled![3]), mb: Number(pulled![4]), s: Number(pulled![5]) } }),
    );

    const status = JSON.parse((await runCli(['status', app, '--json'], env)).stdout).apps[0];
    expect(status.images.web).toEqual({ image: `${repo}:1`, ref: `${repo}@${first}`, digest: first });
    expect(status.instances[0].image).toBe(`${repo}@${first}`);
    expect((await runCli(['status', app], env)).stdout).toContain(
      `images: web=${repo}:1@${first.slice(0, 19)}`,
    );

    // The tag moves to another image; the one the app runs is gone from the engine (in use, so
    // only untagged): a scale-up must fetch exactly the pinned digest again.
    await buildVersion(`${local}:v2`, 'v2');
    const second = await registry.push(`${local}:v2`, 'team/web:1');
    expect(second).not.toBe(first);
    await removeImage(`${repo}:1`);
    await removeImage(`${repo}@${first}`);
    await removeImage(`${local}:v2`);

    const scaled = await runCli(['scale', app, 'web', '2'], env, 120_000);
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toContain(`pulled ${repo}:1@${first.slice(0, 19)} on local`);
    const versions = async () => {
      const containers = (await appContainers(app)).sort((a, b) =>
        a.Labels[LABEL.instance].localeCompare(b.Labels[LABEL.instance]),
      );
      return Promise.all(
        containers.map(async (c) => ({
          instance: c.Labels[LABEL.instance],
          image: c.Image,
          version: (await execIn(c.Id, ['cat', '/www/version'])).output.trim(),
        })),
      );
    };
    expect(await versions()).toEqual([
      { instance: 'web-1', image: `${repo}@${first}`, version: 'v1' },
      { instance: 'web-2', image: `${repo}@${first}`, version: 'v1' },
    ]);

    // The same blueprint deployed again resolves the tag again: a new digest is a change.
    const again = await runCli(['deploy', file, '--json'], env, 180_000);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).images.web.digest).toBe(second);
    expect((await versions()).map((v) => [v.image, v.version])).toEqual([
      [`${repo}@${second}`, 'v2'],
      [`${repo}@${second}`, 'v2'],
    ]);
    const after = JSON.parse((await runCli(['status', app, '--json'], env)).stdout).apps[0];
    expect(after.version).toBe(2);

    expect((await runCli(['destroy', app], env)).code).toBe(0);
  });

  test('the guestbook example from the registry: pinned, its web tier reaches db.<app>.berth through libc, and its store flushes on TERM to a volume a destroy keeps', async () => {
    const app = uniqueApp('guestbook');
    // The example's image, with a layer of its own, only in the registry.
    const image = `${repo.replace(/\/web$/, '/guestbook')}:1`;
    await buildFromDockerfile(docker, {
      dockerfile: `FROM berth/busybox:1\nRUN echo ${app} > /etc/guestbook-image\n`,
      tag: `${local}:guestbook`,
      labels: {},
    });
    const digest = await registry.push(`${local}:guestbook`, 'team/guestbook:1');
    await removeImage(image);
    await removeImage(`${local}:guestbook`);
    const file = blueprintCopy('blueprints/guestbook.yaml', app, dir);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.match(/^ {4}image: berth\/busybox:1$/gm)).toHaveLength(2);
    fs.writeFileSync(file, text.replace(/^ {4}image: berth\/busybox:1$/gm, `    image: ${image}`));

    const deploy = async () => {
      const result = await runCli(['deploy', file], env, 400_000);
      expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({
        code: 0,
        stderr: '',
      });
      return result.stdout;
    };
    const out = await deploy();
    expect(out).toContain(`pulled ${image}@${digest.slice(0, 19)} on local`);
    const status = JSON.parse((await runCli(['status', app, '--json'], env)).stdout).apps[0];
    const pinned = `${image.replace(/:1$/, '')}@${digest}`;
    expect(status.images).toEqual({
      db: { image, ref: pinned, digest },
      web: { image, ref: pinned, digest },
    });
    const containers = await appContainers(app);
    expect(containers.map((c) => c.Image)).toEqual([pinned, pinned]);
    const web = containers.find((c) => c.Labels[LABEL.service] === 'web')!;

    // From inside the web tier, the store's service name resolves through libc (glibc's NSS in the
    // base image: busybox's wget crashed on every URL without it) and answers.
    const byName = await execIn(web.Id, ['wget', '-q', '-O', '-', `http://db.${app}.berth:7000/journal`]);
    expect({ code: byName.code, output: byName.output }).toEqual({ code: 0, output: 'db-1 started\n' });

    // Through the web tier from the host: a write is buffered by the store, in its container only.
    const webPort = (
      status.instances as { service: string; ports: { container: number; hostPort: number }[] }[]
    )
      .find((i) => i.service === 'web')!
      .ports.find((p) => p.container === 8080)!.hostPort;
    const get = (what: string) =>
      httpRequest(`http://127.0.0.1:${webPort}/cgi-bin/${what}`, { method: 'GET' });
    const entry = `signed-by-${app}`;
    expect(await get(`sign?${entry}`)).toMatchObject({ status: 200, body: 'buffered\n' });
    expect((await get('journal')).body).toBe('db-1 started\n');

    // Destroy stops the store gracefully (its TERM handler flushes) and keeps its volume; a deploy
    // of the same app finds the data again.
    expect((await runCli(['destroy', app], env)).code).toBe(0);
    expect(await appContainers(app)).toHaveLength(0);
    expect((await appVolumes(app)).map((v) => v.Name)).toEqual([`berth-${app}-db-1-data`]);
    await deploy();
    const again = JSON.parse((await runCli(['status', app, '--json'], env)).stdout).apps[0];
    const port = again.instances.find((i: { service: string }) => i.service === 'web').ports[0].hostPort;
    const journal = await httpRequest(`http://127.0.0.1:${port}/cgi-bin/journal`, { method: 'GET' });
    expect(journal.body.trim().split('\n')).toEqual([
      'db-1 started',
      entry,
      'db-1 flushed on TERM',
      'db-1 started',
    ]);

    expect((await runCli(['destroy', app, '--volumes'], env)).code).toBe(0);
    expect(await appVolumes(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  }, 600_000); // two deploys, two destroys, a build and a push: jest's 180 s ran out on a loaded machine

  test('registryAuth from a secret: a wrong password fails fast and leaves nothing; the right one deploys', async () => {
    await buildVersion(`${local}:v1`, 'v1');
    await registry.push(`${local}:v1`, 'team/web:1');
    const app = uniqueApp('auth');
    const file = blueprint(app, `${repo}:1`, ['secrets: [registry]', 'registryAuth: ${secret:registry}']);

    const denied = await runCli(['deploy', file], { ...env, BERTH_SECRET_REGISTRY: 'bob:wrong' });
    const line = expectFailure(
      denied,
      new RegExp(`^error: image '${repo}:1': registry ${registry.address} answered: .*unauthorized`),
    );
    expect(line).not.toContain('bob:wrong');
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);

    const ok = await runCli(['deploy', file, '--json'], { ...env, BERTH_SECRET_REGISTRY: 'bob:builder' });
    expect({ code: ok.code, stderr: ok.code === 0 ? '' : ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await appContainers(app)).map((c) => c.State)).toEqual(['running']);

    // Credentials appear in no history in clear.
    const connection = await Connection.connect({ address: testAddress() });
    try {
      const raw = new Client({ connection });
      for (const id of [`berth-app-${app}`, `berth-deploy-${app}-1`, `berth-deploy-${app}-2`]) {
        const history = JSON.stringify(await raw.workflow.getHandle(id).fetchHistory());
        expect(history).not.toContain('builder');
        expect(history).not.toContain(Buffer.from('bob:builder').toString('base64'));
      }
    } finally {
      await connection.close();
    }
    expect((await runCli(['destroy', app], env)).code).toBe(0);
  });

  test("a missing image fails fast with the registry's answer, and leaves nothing", async () => {
    const app = uniqueApp('missing');
    const missing = await runCli(['deploy', blueprint(app, `${repo}:no-such-tag`)], env);
    expectFailure(
      missing,
      new RegExp(
        `^error: image '${repo}:no-such-tag': registry ${registry.address} answered: manifest unknown`,
      ),
    );
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  });

  test('an unreachable registry is asked again with backoff, then fails the same way', async () => {
    const app = uniqueApp('unreachable');
    const closed = `127.0.0.1:${await freePort()}`;
    const result = await runCli(['deploy', blueprint(app, `${closed}/team/web:1`)], env);
    expectFailure(
      result,
      new RegExp(
        `^error: image '${closed}/team/web:1': registry ${closed} cannot be reached: .*connection refused`,
      ),
    );
    expect(await appContainers(app)).toHaveLength(0);
    // It was retried (bounded: the operation's default of 5 attempts).
    const connection = await Connection.connect({ address: testAddress() });
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(`berth-deploy-${app}-1`)
        .fetchHistory();
      const attempts = (history.events ?? [])
        .map((e) => e.activityTaskStartedEventAttributes?.attempt)
        .filter((a): a is number => typeof a === 'number');
      expect(Math.max(...attempts)).toBe(5);
    } finally {
      await connection.close();
    }
  });
});
