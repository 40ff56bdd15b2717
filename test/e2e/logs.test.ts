import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { LABEL } from '../../src/core/names';
import { appContainers, docker, uniqueApp } from '../support/docker';
import { ROOT, runCli, workerProcessFixture } from '../support/cli';

const BERTH = path.join(ROOT, 'bin', 'berth');

/** `berth logs` and `berth exec` on the local engine, through the compiled CLI. */
describe('logs and exec', () => {
  const { env, dir } = workerProcessFixture('logs');
  const app = uniqueApp('logs');

  beforeAll(async () => {
    const file = path.join(dir, 'logs.yaml');
    fs.writeFileSync(
      file,
      [
        `id: ${app}`,
        'services:',
        '  - id: talker',
        '    type: cluster',
        '    replicas: 2',
        '    image: berth/busybox:1',
        '    command: >-',
        '      i=0; while :; do i=$((i+1)); echo "$(hostname) out $i"; echo "$(hostname) err $i" >&2; sleep 0.2; done',
        '  - id: quiet',
        '    image: berth/busybox:1',
        '    command: [sleep, "3600"]',
        '',
      ].join('\n'),
    );
    const deployed = await runCli(['deploy', file], env, 180_000);
    expect({ code: deployed.code, stderr: deployed.code === 0 ? '' : deployed.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    await new Promise((r) => setTimeout(r, 1000)); // a few lines each
  }, 240_000);

  test('every instance, prefixed by instance, stdout and stderr, in the order they were written', async () => {
    const started = Date.now();
    const all = await runCli(['logs', app], env);
    const berthMs = Date.now() - started;
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    for (const instance of ['talker-1', 'talker-2'])
      for (const stream of ['out', 'err']) expect(lines).toContain(`${instance} | ${instance} ${stream} 1`);
    expect(lines.every((l) => /^(talker-1|talker-2|quiet-1 ) \| /.test(l))).toBe(true);
    // One instance's lines stay in their order.
    const own = lines
      .filter((l) => l.startsWith('talker-1 | talker-1 out'))
      .map((l) => Number(l.split(' ').pop()));
    expect(own).toEqual([...own].sort((a, b) => a - b));

    // The peer: `docker logs` of one container, measured in the same run.
    const one = (await appContainers(app)).find((c) => c.Labels[LABEL.instance] === 'talker-1')!;
    const peerStarted = Date.now();
    await new Promise<void>((resolve) =>
      spawn('docker', ['logs', one.Id], { stdio: 'ignore' }).once('exit', () => resolve()),
    );
    const dockerMs = Date.now() - peerStarted;
    console.log(
      JSON.stringify({ logs: { berthMs, dockerLogsMs: dockerMs, ratio: +(berthMs / dockerMs).toFixed(2) } }),
    );
  });

  test('one service or one instance, --tail per container, --since, --timestamps; an unknown target is one line', async () => {
    const service = await runCli(['logs', app, 'talker'], env);
    expect(service.stdout).not.toContain('quiet-1');
    expect(service.stdout).toContain('talker-2 |');

    const tail = await runCli(['logs', app, 'talker-2', '--tail', '3'], env);
    const tailLines = tail.stdout.trim().split('\n');
    expect(tailLines).toHaveLength(3);
    expect(tailLines.every((l) => l.startsWith('talker-2 | talker-2 '))).toBe(true);

    const stamped = await runCli(
      ['logs', app, 'talker-1', '--timestamps', '--since', '1h', '--tail', '2'],
      env,
    );
    for (const l of stamped.stdout.trim().split('\n'))
      expect(l).toMatch(/^talker-1 \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z talker-1 (out|err) \d+$/);
    expect((await runCli(['logs', app, 'talker-1', '--since', '2099-01-01T00:00:00Z'], env)).stdout).toBe('');

    const unknown = await runCli(['logs', app, 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      `error: app '${app}' has no service or instance 'nobody' (services: talker, quiet; instances: talker-1, talker-2, quiet-1)`,
    );
  });

  test("--follow keeps streaming across a heal: the replaced instance's new container is picked up", async () => {
    const child = spawn(
      process.execPath,
      [BERTH, 'logs', app, 'talker-1', '--follow', '--tail', '1', '--timestamps'],
      { cwd: ROOT, env: { ...process.env, ...env } },
    );
    let output = '';
    // How long a line takes from the container (the engine's timestamp) to this terminal.
    const delays: number[] = [];
    child.stdout.on('data', (d: Buffer) => {
      const now = Date.now();
      output += d;
      for (const m of d.toString().matchAll(/^talker-1 \| (\S+) /gm)) delays.push(now - Date.parse(m[1]));
    });
    const lines = () => output.split('\n').map((l) => l.replace(/^(talker-1 \| )\S+ /, '$1'));
    const waitFor = async (test: () => boolean, what: string) => {
      for (let i = 0; i < 300 && !test(); i++) await new Promise((r) => setTimeout(r, 100));
      if (!test()) throw new Error(`no ${what} in: ${output}`);
    };
    try {
      await waitFor(() => lines().some((l) => /^talker-1 \| talker-1 out \d+$/.test(l)), 'first line');
      const old = (await appContainers(app)).find((c) => c.Labels[LABEL.instance] === 'talker-1')!;
      await docker.getContainer(old.Id).remove({ force: true });
      expect((await runCli(['heal', app], env)).code).toBe(0);
      // The new container counts from 1 again.
      await waitFor(() => lines().includes('talker-1 | talker-1 out 1'), "the new container's first line");
      await waitFor(() => lines().includes('talker-1 | talker-1 out 5'), 'more lines of the new container');
      const sorted = [...delays].sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          logsFollowDelayMs: {
            lines: sorted.length,
            p50: sorted[Math.floor(sorted.length / 2)],
            max: sorted.at(-1),
          },
        }),
      );
    } finally {
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(0);
    }
  });

  test("exec: output and exit code pass through; stdin is the command's; unknown instances are one line", async () => {
    const hostname = await runCli(['exec', app, 'talker-1', '--', 'cat', '/etc/hostname'], env);
    expect({ code: hostname.code, out: hostname.stdout.trim() }).toEqual({ code: 0, out: 'talker-1' });

    const failing = await runCli(
      ['exec', app, 'quiet-1', '--', 'sh', '-c', 'echo to-stderr >&2; exit 7'],
      env,
    );
    expect(failing.code).toBe(7);
    expect(failing.stderr).toContain('to-stderr');

    const echoed = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [BERTH, 'exec', app, 'quiet-1', '--', 'sh', '-c', 'tr a-z A-Z'], {
        cwd: ROOT,
        env: { ...process.env, ...env },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.once('exit', (code) => resolve({ code, out }));
      child.stdin.end('piped input\n');
    });
    expect(echoed).toEqual({ code: 0, out: 'PIPED INPUT\n' });

    const unknown = await runCli(['exec', app, 'talker-9', '--', 'true'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      `error: app '${app}' has no instance 'talker-9' (instances: talker-1, talker-2, quiet-1)`,
    );
    expect((await runCli(['destroy', app], env)).code).toBe(0);
  });
});
