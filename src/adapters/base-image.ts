import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type Docker from 'dockerode';
import { LABEL } from '../core/names';
import { UserError } from '../core/errors';

export const BASE_IMAGE = 'berth/busybox:1';

/**
 * Bumped when what the image holds changes: an image of an older version (or none) is rebuilt.
 * 2: glibc's name service (the loader, libc, libnss_files, libnss_dns, nsswitch.conf, hosts).
 */
export const BASE_IMAGE_VERSION = '2';
const VERSION_LABEL = 'berth.base-image-version';

/**
 * Debian's busybox-static is linked against glibc, which loads its name service modules at run
 * time (`dlopen`): without them every `getaddrinfo` (wget, ping, nc with a name) crashes. The
 * modules need the shared libc and the loader they were built with, at their usual paths.
 */
function dockerfile(libraries: { file: string; target: string }[]): string {
  return `FROM scratch
COPY busybox /bin/busybox
${libraries.map((l) => `COPY ${l.file} ${l.target}`).join('\n')}
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/www", "/etc", "/root"]
RUN ["/bin/busybox", "--install", "-s"]
RUN ["/bin/sh", "-c", "echo 'hello from berth' > /www/index.html && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group && echo 'hosts: files dns' > /etc/nsswitch.conf && printf '127.0.0.1 localhost\\n::1 localhost ip6-localhost\\n' > /etc/hosts && chmod 1777 /tmp"]
LABEL ${LABEL.managed}=true ${LABEL.kind}=base-image ${VERSION_LABEL}=${BASE_IMAGE_VERSION}
CMD ["sh"]
`;
}

const LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
];

/**
 * The files glibc's `files` and `dns` name services need, by the path they must have in the image:
 * the two modules, and what `ldd` says they load (libc and the loader).
 */
export function nameServiceLibraries(): string[] {
  const modules = ['libnss_files.so.2', 'libnss_dns.so.2'].map((name) => {
    const dir = LIBRARY_DIRS.find((d) => fs.existsSync(path.join(d, name)));
    if (!dir) throw new UserError(`glibc's ${name} is missing (Debian's libc6 ships it)`);
    return path.join(dir, name);
  });
  const needed = new Set(modules);
  for (const m of modules) {
    const out = execFileSync('ldd', [m], { encoding: 'utf8', timeout: 10_000 });
    for (const line of out.split('\n')) {
      const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (lib) needed.add(lib);
    }
  }
  return [...needed];
}

/** Reads a build's JSON progress stream and turns `{error}` lines into an exception (dockerode does not). */
export async function followBuild(docker: Docker, stream: NodeJS.ReadableStream): Promise<string[]> {
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
        if (event.stream) output.push(event.stream);
        if (event.error) reject(new Error(event.errorDetail?.message ?? event.error));
      },
    );
  });
  return output;
}

/**
 * The base image for examples and tests, built with no registry: `FROM scratch` plus Debian's static
 * busybox (sh, httpd, nc, nslookup, wget) and glibc's name service, so names resolve through every
 * tool. Returns false when it already existed (at this `BASE_IMAGE_VERSION`).
 */
export async function ensureBaseImage(docker: Docker, busybox = '/bin/busybox'): Promise<boolean> {
  try {
    const image = await docker.getImage(BASE_IMAGE).inspect();
    if (image.Config?.Labels?.[VERSION_LABEL] === BASE_IMAGE_VERSION) return false;
  } catch {
    // not there yet: build it
  }
  if (!fs.existsSync(busybox)) throw new UserError(`${busybox} is missing: apt-get install busybox-static`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-base-'));
  try {
    fs.copyFileSync(busybox, path.join(dir, 'busybox'));
    fs.chmodSync(path.join(dir, 'busybox'), 0o755);
    const libraries = nameServiceLibraries().map((target, i) => ({ file: `lib${i}`, target }));
    for (const l of libraries) fs.copyFileSync(fs.realpathSync(l.target), path.join(dir, l.file));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile(libraries));
    const stream = await docker.buildImage(
      { context: dir, src: ['Dockerfile', 'busybox', ...libraries.map((l) => l.file)] },
      { t: BASE_IMAGE, rm: true, forcerm: true },
    );
    await followBuild(docker, stream);
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
