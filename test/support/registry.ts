/**
 * A real registry for the tests: Debian's `docker-registry` (Distribution 2.8) on a free loopback
 * port, with htpasswd authentication (bcrypt entries made by `htpasswd` from apache2-utils, which
 * scripts/setup.sh installs), storage in a temp directory, stopped by its PID.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type Docker from 'dockerode';
import { followJsonStream } from '../../src/adapters/images';
import { registryAnswers } from '../../src/adapters/registry';
import { docker } from './docker';

export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  address: string;
  port: number;
  /** Users and their passwords. */
  users: Record<string, string>;
  /** Tags a local image as `<address>/<repository>` and pushes it; returns the digest. */
  push(local: string, repository: string): Promise<string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startTestRegistry(users: Record<string, string> = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-registry-'));
  const port = await freePort();
  const auth = Object.keys(users).length > 0;
  if (auth) {
    const lines = Object.entries(users).map(([user, password]) =>
      execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim(),
    );
    fs.writeFileSync(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
  }
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'storage'))}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}, secret: berth-test}`,
      ...(auth
        ? [`auth: {htpasswd: {realm: berth-test, path: ${JSON.stringify(path.join(dir, 'htpasswd'))}}}`]
        : []),
      '',
    ].join('\n'),
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
    stdio: 'ignore',
    env,
  });
  for (let i = 0; i < 100 && !(await registryAnswers(port, 200)); i++)
    await new Promise((r) => setTimeout(r, 50));
  if (!(await registryAnswers(port, 1000))) {
    child.kill('SIGKILL');
    throw new Error(`the test registry did not answer on 127.0.0.1:${port}`);
  }
  const address = `127.0.0.1:${port}`;
  const [user, password] = Object.entries(users)[0] ?? [];
  return {
    address,
    port,
    users,
    async push(local, repository) {
      const { repository: repo, tag } = splitRef(repository);
      const target = `${address}/${repo}`;
      await docker.getImage(local).tag({ repo: target, tag });
      const stream = await docker.getImage(target).push({
        tag,
        authconfig: user ? { username: user, password, serveraddress: address } : {},
      } as Docker.ImagePushOptions);
      let digest: string | undefined;
      const failed = await followJsonStream(stream, (e) => (digest = e.aux?.Digest ?? digest));
      if (failed || !digest) throw new Error(`push ${target}:${tag}: ${failed?.error ?? 'no digest'}`);
      return digest;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null)
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function splitRef(ref: string): { repository: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/')
    ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { repository: ref, tag: 'latest' };
}
