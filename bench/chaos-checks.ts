/**
 * What the chaos run checks after each fault, against the engines themselves (their sockets on this
 * machine) as well as Berth's records: every app at its desired count with every instance running
 * and answering on its port with its own container's id; each instance's name resolving, from every
 * host it has neighbours on, to its one address and answering from its one container; no instance
 * with two running containers; no Berth container that is no instance's; and the registry holding
 * every built image the apps run.
 */
import * as http from 'http';
import type Docker from 'dockerode';
import { LABEL } from '../src/core/names';
import { demultiplexed } from '../src/adapters/logs';
import { isBuiltImageRef, splitImageRef, withoutRegistry } from '../src/core/images';
import type { HostView } from '../workflows/api/inventory';
import type { InstanceRecord } from '../workflows/api/operations';
import type { PoolRig } from './pool-rig';

/** Every bench app serves its container's id at `/id` on this port (see `idServer`). */
export const ID_PORT = 8080;

/** The command of a bench instance: it writes its container id (from its cgroup) and serves it. */
export const ID_SERVER_COMMAND = `mkdir -p /www && grep -o '[0-9a-f]\\{64\\}' /proc/self/cgroup | head -n 1 > /www/id && exec httpd -f -p ${ID_PORT} -h /www`;

/** GET `http://host:port/path`: the body, or undefined (bounded). */
export function httpGet(
  host: string,
  port: number,
  path: string,
  timeoutMs = 2_000,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export interface AppsView {
  hosts: HostView[];
  records: Map<string, InstanceRecord[]>;
}

/**
 * Are the apps whole? Every instance recorded on a live host, as many as desired, its container
 * running there and answering on its forwarded port with its own id. Problems, one line each.
 */
export async function appsHealth(
  rig: PoolRig,
  apps: string[],
): Promise<{ problems: string[]; view: AppsView }> {
  const problems: string[] = [];
  const hosts = await rig.hosts();
  const records = new Map<string, InstanceRecord[]>();
  await Promise.all(
    apps.map(async (app) => {
      const state = await rig.appState(app);
      if (!state) return void problems.push(`${app}: no state`);
      records.set(app, state.instances);
      const desired = Object.values(state.replicas).reduce((a, b) => a + b, 0);
      if (state.instances.length !== desired)
        problems.push(`${app}: ${state.instances.length} instances, ${desired} desired`);
      await Promise.all(
        state.instances.map(async (i) => {
          const host = hosts.find((h) => h.id === i.host);
          if (!host || host.status === 'failed')
            return void problems.push(`${app}/${i.instance}: on ${host?.status ?? 'unknown'} host ${i.host}`);
          const running = await rig
            .docker(i.host)
            .getContainer(i.id)
            .inspect()
            .then((c) => c.State.Running)
            .catch(() => false);
          if (!running) return void problems.push(`${app}/${i.instance}: container not running on ${i.host}`);
          const port = i.ports?.find((p) => p.container === ID_PORT);
          if (!port) return void problems.push(`${app}/${i.instance}: no forwarded port`);
          const id = await httpGet(port.hostIp, port.hostPort, '/id');
          if (id !== i.id)
            problems.push(
              `${app}/${i.instance}: port ${port.hostIp}:${port.hostPort} answers ${id ?? 'nothing'}`,
            );
        }),
      );
    }),
  );
  return { problems: problems.sort(), view: { hosts, records } };
}

interface Container {
  host: string;
  id: string;
  app: string;
  instance: string;
  running: boolean;
  image: string;
}

/** Berth's app containers on every engine that answers (failed hosts' too), by the bench's sockets. */
export async function allContainers(rig: PoolRig, apps: string[]): Promise<Container[]> {
  const out: Container[] = [];
  await Promise.all(
    [...rig.hostIndex.keys()].map(async (host) => {
      const listed = await rig
        .docker(host)
        .listContainers({ all: true, filters: { label: [`${LABEL.kind}=container`] } })
        .catch(() => [] as Docker.ContainerInfo[]);
      for (const c of listed) {
        const app = c.Labels[LABEL.app];
        if (!apps.includes(app)) continue;
        out.push({
          host,
          id: c.Id,
          app,
          instance: c.Labels[LABEL.instance],
          running: c.State === 'running',
          image: c.Image,
        });
      }
    }),
  );
  return out;
}

/** Instances with more than one running container on hosts the pool counts as live. */
export function duplicates(containers: Container[], view: AppsView): string[] {
  const live = new Set(view.hosts.filter((h) => h.status !== 'failed').map((h) => h.id));
  const byInstance = new Map<string, Container[]>();
  for (const c of containers.filter((x) => x.running && live.has(x.host)))
    byInstance.set(`${c.app}/${c.instance}`, [...(byInstance.get(`${c.app}/${c.instance}`) ?? []), c]);
  return [...byInstance.entries()]
    .filter(([, cs]) => cs.length > 1)
    .map(([k, cs]) => `${k}: ${cs.length} running (${cs.map((c) => c.host).join(', ')})`);
}

/** Berth containers that are no instance's current container (stale ones left on a host). */
export function orphans(containers: Container[], view: AppsView): string[] {
  const current = new Set([...view.records.values()].flat().map((i) => i.id));
  return containers
    .filter((c) => !current.has(c.id))
    .map(
      (c) =>
        `${c.app}/${c.instance} ${c.id.slice(0, 12)} on ${c.host} (${c.running ? 'running' : 'stopped'})`,
    );
}

/**
 * Each instance's name, asked from a container of its app on every live host that has one: it
 * must resolve to exactly the instance's address and answer from its container (`/id`). An old
 * copy on a host that came back, if it were reachable by name, shows up here.
 */
export async function nameProblems(rig: PoolRig, view: AppsView): Promise<string[]> {
  const problems: string[] = [];
  const live = new Set(view.hosts.filter((h) => h.status !== 'failed').map((h) => h.id));
  for (const [app, instances] of view.records) {
    const askers = new Map<string, InstanceRecord>();
    for (const i of instances) if (live.has(i.host) && !askers.has(i.host)) askers.set(i.host, i);
    const names = instances.map((i) => i.dnsNames[0]);
    const script = names
      .map(
        (n) =>
          `a=$(nslookup ${n} 2>/dev/null | awk '/^Address/ && !/:53$/ {print $NF}' | sort | tr '\\n' ' '); ` +
          `b=$(printf 'GET /id HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${n} ${ID_PORT} 2>/dev/null | tail -n 1); echo "${n}|$a|$b"`,
      )
      .join('; ');
    await Promise.all(
      [...askers.entries()].map(async ([host, asker]) => {
        const out = await execIn(rig.docker(host), asker.id, ['sh', '-c', script]).catch(
          (err: Error) => `exec failed: ${err.message}`,
        );
        const answers = new Map(
          out
            .split('\n')
            .map((l) => l.split('|'))
            .filter((p) => p.length === 3)
            .map(([n, a, b]) => [n, { addresses: a.trim().split(/\s+/).filter(Boolean), id: b.trim() }]),
        );
        for (const i of instances) {
          const got = answers.get(i.dnsNames[0]);
          if (!got) problems.push(`${app}/${i.instance}: no answer from ${host} (${out.slice(0, 80)})`);
          else if (got.addresses.length !== 1 || got.addresses[0] !== i.ip)
            problems.push(
              `${app}/${i.instance}: from ${host} resolves to [${got.addresses}], recorded ${i.ip}`,
            );
          else if (got.id !== i.id)
            problems.push(
              `${app}/${i.instance}: from ${host} answers from ${got.id.slice(0, 12) || 'nothing'}`,
            );
        }
      }),
    );
  }
  return problems.sort();
}

/** Built images the apps' running containers use that the pool's registry does not have. */
export async function registryGaps(registry: string | undefined, containers: Container[]): Promise<string[]> {
  const built = [
    ...new Set(
      containers.filter((c) => c.running && isBuiltImageRef(c.image)).map((c) => withoutRegistry(c.image)),
    ),
  ];
  if (built.length === 0) return [];
  if (!registry) return ['the pool has no registry'];
  const [host, port] = registry.split(':');
  const gaps: string[] = [];
  for (const image of built) {
    const { repository, tag } = splitImageRef(image);
    const body = await httpGet(host, Number(port), `/v2/${repository}/tags/list`, 5_000);
    const tags = body ? ((JSON.parse(body) as { tags?: string[] }).tags ?? []) : [];
    if (!tags.includes(tag)) gaps.push(`${image} is not in ${registry}`);
  }
  return gaps;
}

/** Runs a command in a container: its output (stdout and stderr, demultiplexed). Bounded. */
async function execIn(docker: Docker, id: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      (stream as { destroy?: () => void }).destroy?.();
      resolve();
    }, 30_000);
    stream.on('data', (c: Buffer) => chunks.push(c));
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
  });
  const raw = Buffer.concat(chunks);
  return demultiplexed(raw);
}
