import * as fs from 'fs';
import * as path from 'path';
import { LABEL } from '../../src/core/names';
import { appContainers, appNetworks, appVolumes, docker, execIn, uniqueApp } from '../support/docker';
import { runCli, tempDir, workerProcessFixture } from '../support/cli';

/**
 * Named volumes (one per instance), bind mounts and graceful stops on one host, through the CLI:
 * data survives a heal, a restart, an update and a scale down then up; a TERM handler in the
 * container runs on scale-down, update and destroy; destroy keeps named volumes, --volumes removes
 * them; a bind source missing on the host fails the deploy.
 */
describe('volumes and graceful stops', () => {
  const { env, dir } = workerProcessFixture('volumes');
  const out = tempDir('volumes-out');

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  /** Every start appends the instance to its own volume; a TERM appends it to the shared bind mount. */
  const blueprint = (app: string, replicas: number, version: string): string => {
    const file = path.join(dir, `${app}.yaml`);
    fs.writeFileSync(
      file,
      [
        `id: ${app}`,
        'services:',
        '  - id: db',
        '    type: cluster',
        `    replicas: ${replicas}`,
        '    image: berth/busybox:1',
        `    volumes: [data:/data, ${out}:/out, /scratch]`,
        `    env: {VERSION: "${version}"}`,
        '    command: >-',
        `      trap 'echo "$(hostname) $VERSION TERM" >> /out/term.log; exit 0' TERM;`,
        '      echo "$(hostname) $VERSION" >> /data/boots;',
        '      while :; do sleep 1; done',
        '',
      ].join('\n'),
    );
    return file;
  };

  const containerOf = async (app: string, instance: string) =>
    (await appContainers(app)).find((c) => c.Labels[LABEL.instance] === instance)!;
  const boots = async (app: string, instance: string) =>
    (await execIn((await containerOf(app, instance)).Id, ['cat', '/data/boots'])).output.trim().split('\n');
  const terms = () =>
    fs.existsSync(path.join(out, 'term.log'))
      ? fs.readFileSync(path.join(out, 'term.log'), 'utf8').trim().split('\n').filter(Boolean)
      : [];
  const ok = (r: { code: number | null; stderr: string }) =>
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });

  test('one volume per instance, kept across heal, restart, update and scale down then up; TERM handlers run', async () => {
    const app = uniqueApp('vol');
    ok(await runCli(['deploy', blueprint(app, 2, 'v1')], env, 180_000));

    // Each instance has its own labelled volume, mounted where the blueprint says.
    const volumes = (await appVolumes(app)).map((v) => [v.Name, v.Labels]);
    expect(volumes.sort()).toEqual(
      ['db-1', 'db-2'].map((instance) => [
        `berth-${app}-${instance}-data`,
        {
          'berth.managed': 'true',
          'berth.kind': 'volume',
          'berth.app': app,
          'berth.service': 'db',
          'berth.instance': instance,
          'berth.volume': 'data',
        },
      ]),
    );
    const mounts = (await docker.getContainer((await containerOf(app, 'db-1')).Id).inspect()).Mounts;
    expect(
      mounts
        .map((m) => [
          m.Type,
          m.Type === 'volume' && m.Destination !== '/data' ? 'anonymous' : (m.Source ?? m.Name),
          m.Destination,
        ])
        .sort(),
    ).toEqual(
      [
        ['bind', out, '/out'],
        ['volume', 'anonymous', '/scratch'],
        ['volume', expect.stringContaining(`berth-${app}-db-1-data`), '/data'],
      ].sort(),
    );
    expect(await boots(app, 'db-1')).toEqual(['db-1 v1']);
    expect(await boots(app, 'db-2')).toEqual(['db-2 v1']);

    // Heal: the container is gone; the instance comes back with its data.
    await docker.getContainer((await containerOf(app, 'db-1')).Id).remove({ force: true });
    ok(await runCli(['heal', app], env));
    expect(await boots(app, 'db-1')).toEqual(['db-1 v1', 'db-1 v1']);

    // Restart (the engine's): same container, same volume.
    await docker.getContainer((await containerOf(app, 'db-2')).Id).restart({ t: 1 });
    expect(await boots(app, 'db-2')).toEqual(['db-2 v1', 'db-2 v1']);
    expect(terms()).toEqual(['db-2 v1 TERM']); // the engine's restart stops it gracefully too
    fs.rmSync(path.join(out, 'term.log'));

    // Update: every instance is stopped gracefully (its TERM handler runs) and comes back with its data.
    ok(await runCli(['deploy', blueprint(app, 2, 'v2')], env, 180_000));
    expect(terms().sort()).toEqual(['db-1 v1 TERM', 'db-2 v1 TERM']);
    expect(await boots(app, 'db-1')).toEqual(['db-1 v1', 'db-1 v1', 'db-1 v2']);

    // Scale down: db-2 stops gracefully, its volume stays; scale up: it has its data again.
    ok(await runCli(['scale', app, 'db', '1'], env));
    expect(terms()).toContain('db-2 v2 TERM');
    expect((await appVolumes(app)).map((v) => v.Name).sort()).toEqual([
      `berth-${app}-db-1-data`,
      `berth-${app}-db-2-data`,
    ]);
    ok(await runCli(['scale', app, 'db', '2'], env));
    expect(await boots(app, 'db-2')).toEqual(['db-2 v1', 'db-2 v1', 'db-2 v2', 'db-2 v2']);

    // Destroy stops every instance gracefully and keeps named volumes; --volumes removes them.
    fs.rmSync(path.join(out, 'term.log'), { force: true });
    ok(await runCli(['destroy', app], env));
    expect(terms().sort()).toEqual(['db-1 v2 TERM', 'db-2 v2 TERM']);
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
    expect(await appVolumes(app)).toHaveLength(2);
    // A deploy of the same app after a destroy finds its data again (as `docker compose up` would).
    ok(await runCli(['deploy', blueprint(app, 1, 'v3')], env, 180_000));
    expect(await boots(app, 'db-1')).toEqual(['db-1 v1', 'db-1 v1', 'db-1 v2', 'db-1 v3']);
    ok(await runCli(['destroy', app, '--volumes'], env));
    expect(await appVolumes(app)).toHaveLength(0);
    expect(await appContainers(app)).toHaveLength(0);
  });

  test('a bind mount whose host path is missing fails the deploy with one clear line and leaves nothing', async () => {
    const app = uniqueApp('bind');
    const missing = path.join(out, 'no-such-dir');
    const file = path.join(dir, `${app}.yaml`);
    fs.writeFileSync(
      file,
      [
        `id: ${app}`,
        'services:',
        '  - id: web',
        '    image: berth/busybox:1',
        `    volumes: [${missing}:/x:ro]`,
        '    command: [sleep, "600"]',
        '',
      ].join('\n'),
    );
    const result = await runCli(['deploy', file], env);
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors).toEqual([
      `error: service web: bind mount source ${missing} does not exist on host local (create it there, or change the volume)`,
    ]);
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
  });
});
