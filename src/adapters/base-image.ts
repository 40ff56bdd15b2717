import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type Docker from 'dockerode';
import { LABEL } from '../core/names';
import { UserError } from '../core/errors';

export const BASE_IMAGE = 'berth/busybox:1';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/www", "/etc", "/root"]
RUN ["/bin/busybox", "--install", "-s"]
RUN ["/bin/sh", "-c", "echo 'hello from berth' > /www/index.html && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group && chmod 1777 /tmp"]
LABEL ${LABEL.managed}=true ${LABEL.kind}=base-image
CMD ["sh"]
`;

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
 * busybox (sh, httpd, nc, nslookup, wget). Returns false when it already existed.
 */
export async function ensureBaseImage(docker: Docker, busybox = '/bin/busybox'): Promise<boolean> {
  try {
    await docker.getImage(BASE_IMAGE).inspect();
    return false;
  } catch {
    // not there yet: build it
  }
  if (!fs.existsSync(busybox)) throw new UserError(`${busybox} is missing: apt-get install busybox-static`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-base-'));
  try {
    fs.copyFileSync(busybox, path.join(dir, 'busybox'));
    fs.chmodSync(path.join(dir, 'busybox'), 0o755);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
    const stream = await docker.buildImage(
      { context: dir, src: ['Dockerfile', 'busybox'] },
      { t: BASE_IMAGE, rm: true, forcerm: true },
    );
    await followBuild(docker, stream);
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
