import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createImageActivities, type EnsureImageInput } from '../../activities/images';
import type { ImageSource } from '../../src/core/blueprint/model';
import { builderContainerName, builtImageTag } from '../../src/core/images';
import { LABEL } from '../../src/core/names';
import { buildFromDockerfile, pullImage, pushImage } from '../../src/adapters/images';
import {
  ensureRegistry,
  isOurRegistry,
  registryAnswers,
  registryPaths,
  stopRegistry,
} from '../../src/adapters/registry';
import { docker, execIn, uniqueApp } from '../support/docker';

/**
 * Image builds on the real engine: Dockerfiles (inline, from a loopback HTTP server, from a path),
 * Clocker's entity builds (builder container + exec + commit), and push/pull through Debian's
 * docker-registry on a free loopback port. Everything is labelled with this file's test apps and
 * removed in afterAll, even after a failure; the registry is stopped by its PID.
 */
const BASE = 'berth/busybox:1';
const apps: string[] = [];
const app = (stem: string) => {
  const name = uniqueApp(stem);
  apps.push(name);
  return name;
};
const timings: Record<string, number> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[what] = Math.round(performance.now() - start);
  }
}

const activities = createImageActivities({ docker });
const ensure = (input: EnsureImageInput) => activities.ensureImage(input);

/** The failure an activity call rejects with (an ApplicationFailure from the activity). */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

/** Runs `image` once (its own command unless `cmd`), returns what it printed; the container is removed. */
async function runOnce(image: string, owner: string, cmd?: string[]): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    ...(cmd ? { Cmd: cmd } : {}),
    Tty: true,
    Labels: { [LABEL.managed]: 'true', [LABEL.app]: owner, [LABEL.kind]: 'test' },
  });
  try {
    await container.start();
    await container.wait();
    return (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  } finally {
    await container.remove({ force: true });
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** True once `pid` no longer exists (the registry is this process's child: Node reaps it). */
async function pidGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
    await sleep(20);
  }
  return false;
}

let registryHome = '';

afterAll(async () => {
  if (registryHome) {
    await stopRegistry({ home: registryHome }).catch(() => undefined);
    fs.rmSync(registryHome, { recursive: true, force: true });
  }
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL.app] } });
  for (const c of containers.filter((c) => apps.includes(c.Labels[LABEL.app])))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  // Built images, their registry tags and a failed build's intermediate layers all carry the app label.
  const images = await docker.listImages({ all: true, filters: { label: [LABEL.app] } });
  const ours = images
    .filter((i) => apps.includes(i.Labels?.[LABEL.app] ?? ''))
    .sort((a, b) => b.Created - a.Created); // children before parents
  for (const image of ours)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
  console.log(`image timings (ms): ${JSON.stringify(timings)}`);
});

describe('Dockerfile sources', () => {
  const owner = app('dockerfile');
  const source: ImageSource = {
    kind: 'dockerfile',
    inline: `FROM ${BASE}\nRUN echo hi > /hi\nCMD ["cat","/hi"]\n`,
  };

  test('an inline Dockerfile builds to berth/<app>-<service>:<hash> and its containers run it', async () => {
    const first = await timed('dockerfile build', () => ensure({ app: owner, service: 'web', source }));
    expect(first.built).toBe(true);
    expect(first.image).toBe(builtImageTag(owner, 'web', { kind: 'dockerfile', dockerfile: source.inline! }));
    const info = await docker.getImage(first.image).inspect();
    expect(info.Config.Labels).toMatchObject({
      [LABEL.managed]: 'true',
      [LABEL.kind]: 'image',
      [LABEL.app]: owner,
      [LABEL.service]: 'web',
    });
    expect((await runOnce(first.image, owner)).trim()).toBe('hi');

    const again = await timed('dockerfile ensure (exists)', () =>
      ensure({ app: owner, service: 'web', source }),
    );
    expect(again).toEqual({ image: first.image, built: false });
  });

  test('a failing step is a non-retryable ImageBuildFailed naming the step and Docker’s message', async () => {
    const failing: ImageSource = {
      kind: 'dockerfile',
      // The LABEL marks the intermediate layers of this failed build, so afterAll can remove them.
      inline: `FROM ${BASE}\nLABEL ${LABEL.app}=${owner}\nRUN echo before-the-failure\nRUN false\nCMD ["true"]\n`,
    };
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const failure = await failureOf(
      env.run(activities.ensureImage, { app: owner, service: 'bad', source: failing }),
    );
    expect(failure.type).toBe('ImageBuildFailed');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/Step 4\/\d+ : RUN false/);
    expect(failure.message).toContain("The command '/bin/sh -c false' returned a non-zero code: 1");
    expect(failure.details?.[0]).toMatchObject({ step: expect.stringMatching(/^Step 4\/\d+ : RUN false$/) });
    // Inside an activity, build lines heartbeat (the step lines among them).
    expect(beats).toEqual(expect.arrayContaining([expect.stringMatching(/^Step 4\/\d+ : RUN false$/)]));
    // forcerm: no intermediate container is left.
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.app}=${owner}`] } });
    expect(left).toEqual([]);
  });

  test('the adapter reports a rejected Dockerfile (parse error) with Docker’s message', async () => {
    await expect(
      buildFromDockerfile(docker, {
        dockerfile: `FROM ${BASE}\nNOPE nothing\n`,
        tag: `berth/${owner}-parse:1`,
        labels: { [LABEL.app]: owner },
      }),
    ).rejects.toThrow(/unknown instruction: NOPE/i);
  });

  test('a Dockerfile whose FROM image is missing fails fast with ImageNotFound (nothing is pulled)', async () => {
    const failure = await failureOf(
      ensure({
        app: owner,
        service: 'nobase',
        source: { kind: 'dockerfile', inline: 'FROM berth/no-such-base:1\nRUN true\n' },
      }),
    );
    expect(failure.type).toBe('ImageNotFound');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain("'berth/no-such-base:1'");
  });

  test('a Dockerfile from a loopback URL is fetched and hashed by its content; a 404 is the user’s error', async () => {
    const text = `FROM ${BASE}\nRUN echo fetched > /fetched\nCMD ["cat","/fetched"]\n`;
    const server = http.createServer((req, res) => {
      if (req.url === '/app/Dockerfile') res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const url = `http://127.0.0.1:${port}/app/Dockerfile`;
      const built = await ensure({ app: owner, service: 'fetched', source: { kind: 'dockerfile', url } });
      expect(built.built).toBe(true);
      expect((await runOnce(built.image, owner)).trim()).toBe('fetched');
      // The same text inlined (what the CLI sends) is the same image.
      const inlined = await ensure({
        app: owner,
        service: 'fetched',
        source: { kind: 'dockerfile', inline: text },
      });
      expect(inlined).toEqual({ image: built.image, built: false });

      const missing = await failureOf(
        ensure({ app: owner, service: 'fetched', source: { kind: 'dockerfile', url: `${url}.missing` } }),
      );
      expect(missing.type).toBe('ImageBuildFailed');
      expect(missing.nonRetryable).toBe(true);
      expect(missing.message).toContain('HTTP 404');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    // Nothing listens any more: a network failure is retryable.
    const down = await failureOf(
      ensure({
        app: owner,
        service: 'fetched',
        source: { kind: 'dockerfile', url: `http://127.0.0.1:${port}/app/Dockerfile` },
      }),
    );
    expect(down.type).toBe('DockerfileUnavailable');
    expect(down.nonRetryable).toBe(false);
  });

  test('a Dockerfile path is read relative to blueprintDir on the worker', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-img-'));
    try {
      fs.mkdirSync(path.join(dir, 'web'));
      fs.writeFileSync(path.join(dir, 'web', 'Dockerfile'), `FROM ${BASE}\nCMD ["echo","from a path"]\n`);
      const built = await ensure({
        app: owner,
        service: 'pathed',
        source: { kind: 'dockerfile', path: 'web/Dockerfile' },
        blueprintDir: dir,
      });
      expect(built.built).toBe(true);
      expect((await runOnce(built.image, owner)).trim()).toBe('from a path');
      const relative = await failureOf(
        ensure({ app: owner, service: 'pathed', source: { kind: 'dockerfile', path: 'web/Dockerfile' } }),
      );
      expect(relative.type).toBe('ImageBuildFailed');
      expect(relative.message).toMatch(/relative and no blueprint directory/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('image sources', () => {
  test('an image on the engine passes through; a missing one is a non-retryable ImageNotFound', async () => {
    const owner = app('plain');
    expect(await ensure({ app: owner, service: 'web', source: { kind: 'image', image: BASE } })).toEqual({
      image: BASE,
      built: false,
    });
    const failure = await failureOf(
      ensure({ app: owner, service: 'web', source: { kind: 'image', image: 'berth/not-here:1' } }),
    );
    expect(failure.type).toBe('ImageNotFound');
    expect(failure.nonRetryable).toBe(true);
  });
});

describe('entity sources (Clocker: base image + install commands, committed)', () => {
  const owner = app('entity');
  const source: ImageSource = {
    kind: 'entity',
    base: BASE,
    install: ['echo installed > /installed'],
    customize: ['echo customized >> /installed'],
    launch: 'cat /installed; sleep 3600',
  };

  test('commits an image whose containers have the installed files and run the launch command', async () => {
    const tag = builtImageTag(owner, 'app', { ...source, kind: 'entity' });
    // A builder left over by a crashed attempt is removed first.
    const leftover = await docker.createContainer({
      name: builderContainerName(tag),
      Image: BASE,
      Cmd: ['sleep', '3600'],
      Labels: { [LABEL.managed]: 'true', [LABEL.app]: owner, [LABEL.kind]: 'builder' },
    });
    await leftover.start();

    const built = await timed('entity build+commit', () => ensure({ app: owner, service: 'app', source }));
    expect(built).toEqual({ image: tag, built: true });
    const info = await docker.getImage(tag).inspect();
    expect(info.Config.Cmd).toEqual(['sh', '-c', 'cat /installed; sleep 3600']);
    expect(info.Config.Entrypoint ?? []).toEqual([]);
    expect(info.Config.Labels).toMatchObject({
      [LABEL.kind]: 'image',
      [LABEL.app]: owner,
      [LABEL.service]: 'app',
    });
    // The builder (and the leftover) are gone.
    const builders = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.app}=${owner}`, `${LABEL.kind}=builder`] },
    });
    expect(builders).toEqual([]);

    const container = await docker.createContainer({
      Image: tag,
      Labels: { [LABEL.managed]: 'true', [LABEL.app]: owner, [LABEL.kind]: 'test' },
    });
    try {
      await container.start();
      expect(await execIn(container.id, ['cat', '/installed'])).toEqual({
        code: 0,
        output: 'installed\ncustomized\n',
      });
      const top = await container.top();
      expect(top.Processes.map((p: string[]) => p.join(' ')).join('\n')).toContain('sleep 3600');
    } finally {
      await container.remove({ force: true });
    }

    const again = await timed('entity ensure (exists)', () => ensure({ app: owner, service: 'app', source }));
    expect(again).toEqual({ image: tag, built: false });
  });

  test('a failing install step names the step, its exit code and its last output; the builder is removed', async () => {
    const failure = await failureOf(
      ensure({
        app: owner,
        service: 'broken',
        source: { kind: 'entity', base: BASE, install: ['echo one', 'echo oops >&2; exit 3'], customize: [] },
      }),
    );
    expect(failure.type).toBe('ImageBuildFailed');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(
      "Step 2/2 (install) : echo oops >&2; exit 3: 'echo oops >&2; exit 3' returned a non-zero code: 3",
    );
    expect(failure.message).toContain('oops');
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.app}=${owner}`] } });
    expect(left).toEqual([]);
  });

  test('a base image without a shell (built from extra context files) is the definition’s error', async () => {
    const noShell = `berth/${owner}-noshell:1`;
    await buildFromDockerfile(docker, {
      dockerfile: 'FROM scratch\nCOPY notes/readme.txt /readme.txt\nCMD ["/readme.txt"]\n',
      contextFiles: { 'notes/readme.txt': 'no shell in here\n' },
      tag: noShell,
      labels: { [LABEL.app]: owner },
    });
    const failure = await failureOf(
      ensure({
        app: owner,
        service: 'noshell',
        source: { kind: 'entity', base: noShell, install: ['true'], customize: [] },
      }),
    );
    expect(failure.type).toBe('ImageBuildFailed');
    expect(failure.message).toContain(`the base image '${noShell}' cannot run sh`);
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.app}=${owner}`] } });
    expect(left).toEqual([]);
  });

  test('a cancelled build stops at once and removes its builder', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    let sawStep!: () => void;
    const stepStarted = new Promise<void>((resolve) => (sawStep = resolve));
    env.on('heartbeat', (d: unknown) => {
      if (typeof d === 'string' && d.includes('sleep 30')) sawStep();
    });
    const source: ImageSource = { kind: 'entity', base: BASE, install: ['sleep 30'], customize: [] };
    const running = env.run(activities.ensureImage, { app: owner, service: 'slow', source });
    running.catch(() => undefined);
    await stepStarted;
    const start = performance.now();
    env.cancel();
    await expect(running).rejects.toMatchObject({ name: 'CancelledFailure' });
    // The SDK settles a cancelled activity at once; the abort then removes the builder, which ends
    // the running `sleep 30` exec, and nothing is committed.
    let left = [{}];
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await sleep(50);
      left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.app}=${owner}`] } });
    }
    expect(left).toEqual([]);
    expect(performance.now() - start).toBeLessThan(5000);
    expect(await docker.listImages({ filters: { reference: [`berth/${owner}-slow`] } })).toEqual([]);
  });

  test('a missing base image is ImageNotFound', async () => {
    const failure = await failureOf(
      ensure({
        app: owner,
        service: 'nobase',
        source: { kind: 'entity', base: 'berth/no-such-base:1', install: ['true'], customize: [] },
      }),
    );
    expect(failure.type).toBe('ImageNotFound');
    expect(failure.message).toContain("'berth/no-such-base:1'");
  });
});

describe('the registry (docker-registry on loopback)', () => {
  test('starts once, takes a push, serves a pull, and stops by PID', async () => {
    registryHome = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-test-'));
    const port = await freePort();
    const registry = await timed('registry start', () => ensureRegistry({ home: registryHome, port }));
    expect(registry).toMatchObject({ address: `127.0.0.1:${port}`, port, started: true });
    expect(isOurRegistry(registry.pid, registryHome)).toBe(true);
    expect(fs.readFileSync(registryPaths(registryHome).pidFile, 'utf8').trim()).toBe(String(registry.pid));
    expect(await ensureRegistry({ home: registryHome, port })).toEqual({ ...registry, started: false });

    const owner = app('registry');
    const { image } = await ensure({
      app: owner,
      service: 'web',
      source: {
        kind: 'dockerfile',
        inline: `FROM ${BASE}\nRUN echo pushed > /pushed\nCMD ["cat","/pushed"]\n`,
      },
    });
    const pushed = await timed('push', () => pushImage(docker, image, registry.address));
    expect(pushed.ref).toBe(`127.0.0.1:${port}/${image}`);
    expect(pushed.digest).toMatch(/^sha256:/);
    await timed('push again', () => pushImage(docker, image, registry.address));

    // Remove the local copy of the registry tag, then pull it back.
    await docker.getImage(pushed.ref).remove();
    await expect(docker.getImage(pushed.ref).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const pulled = await timed('pull', () => pullImage(docker, pushed.ref));
    expect(pulled.id).toBe((await docker.getImage(image).inspect()).Id);
    expect((await runOnce(pushed.ref, owner)).trim()).toBe('pushed');

    // With a registry configured, built images are pushed; a host without the image pulls it rather than build.
    const withRegistry = createImageActivities({ docker, registry: { address: registry.address } });
    const source: ImageSource = {
      kind: 'entity',
      base: BASE,
      install: ['echo e > /e'],
      customize: [],
      launch: 'cat /e',
    };
    const built = await withRegistry.ensureImage({ app: owner, service: 'ent', source });
    expect(built).toMatchObject({ built: true, registryImage: `127.0.0.1:${port}/${built.image}` });
    // Every tag (local and registry), as on another host; the layers go with them.
    const { Id } = await docker.getImage(built.image).inspect();
    await docker.getImage(Id).remove({ force: true });
    await expect(docker.getImage(built.registryImage!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const elsewhere = await timed('ensure via registry pull', () =>
      withRegistry.ensureImage({ app: owner, service: 'ent', source }),
    );
    expect(elsewhere).toEqual({ image: built.image, built: false, registryImage: built.registryImage });
    expect((await runOnce(elsewhere.image, owner)).trim()).toBe('e');

    const stopped = await stopRegistry({ home: registryHome });
    expect(stopped).toEqual({ stopped: true, pid: registry.pid });
    expect(await pidGone(registry.pid)).toBe(true);
    expect(await registryAnswers(port)).toBe(false);
    expect(await stopRegistry({ home: registryHome })).toEqual({ stopped: false });
  });
});
