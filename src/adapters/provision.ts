import type Docker from 'dockerode';
import { UserError } from '../core/errors';
import type { ExecResult } from './ssh';
import { followJsonStream, inspectImage } from './images';

/**
 * Making a host fit for the pool, over its SSH session and its engine: OS check and Docker install,
 * the base image, swarm membership (overlay networks span hosts only inside a swarm), and the
 * pool's registry. Every step checks before it acts, so running it again is cheap and safe.
 */

/** Runs a shell command on the host (an `SshSession.exec` or `DockerPool.exec`). */
export type RemoteExec = (command: string, timeoutMs?: number) => Promise<ExecResult>;

export interface HostProbe {
  /** `ID` from /etc/os-release (`debian`, `ubuntu`). */
  os: string;
  version: string;
  /** `uname -m`. */
  arch: string;
  dockerInstalled: boolean;
  dockerRunning: boolean;
  /** What provisioning did (`installed docker.io`, `started dockerd`); empty when nothing. */
  actions: string[];
}

const SUPPORTED_OS = new Set(['debian', 'ubuntu']);

// One round trip: os-release as is (KEY=value lines), then Berth's own markers.
const PROBE = [
  'cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null',
  'echo',
  'echo "BERTH_ARCH=$(uname -m)"',
  'if command -v dockerd >/dev/null 2>&1; then echo BERTH_DOCKERD=yes; else echo BERTH_DOCKERD=no; fi',
  // a user outside the docker group asks through sudo
  'if docker version >/dev/null 2>&1 || sudo -n docker version >/dev/null 2>&1; then echo BERTH_RUNNING=yes; else echo BERTH_RUNNING=no; fi',
].join('; ');

// Root, or password-less sudo; systemd's unit where there is one, else a detached dockerd.
const AS_ROOT = 'S=; [ "$(id -u)" = 0 ] || S="sudo -n"';
const START_DOCKER = [
  AS_ROOT,
  'if [ -d /run/systemd/system ]; then $S systemctl start docker; ' +
    'else $S sh -c "setsid nohup dockerd >/var/log/berth-dockerd.log 2>&1 </dev/null &"; fi',
  'for i in $(seq 1 60); do docker version >/dev/null 2>&1 && exit 0; $S docker version >/dev/null 2>&1 && exit 0; sleep 1; done',
  'echo "dockerd did not answer within 60 s" >&2; exit 1',
].join('; ');
const INSTALL_DOCKER = [
  AS_ROOT,
  'export DEBIAN_FRONTEND=noninteractive',
  '$S apt-get update -qq',
  '$S apt-get install -y -qq docker.io >/dev/null',
].join(' && ');

function parseKeyValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1], m[2].replace(/^(["'])(.*)\1$/, '$2'));
  }
  return values;
}

const tail = (r: ExecResult) => (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');

/**
 * Reads the host's OS and Docker state in one exec; on Debian or Ubuntu installs docker.io when it
 * is missing and starts dockerd when it is stopped. Any other OS fails with a one-line UserError.
 */
export async function probeHost(exec: RemoteExec, hostName: string): Promise<HostProbe> {
  const found = await exec(PROBE, 30_000);
  const v = parseKeyValues(found.stdout);
  const os = v.get('ID');
  if (!os) throw new UserError(`${hostName}: cannot read /etc/os-release (${tail(found) || 'no output'})`);
  const version = v.get('VERSION_ID') ?? '';
  if (!SUPPORTED_OS.has(os))
    throw new UserError(
      `${hostName} runs ${os}${version ? ` ${version}` : ''}: only Debian and Ubuntu hosts can be provisioned`,
    );
  const probe: HostProbe = {
    os,
    version,
    arch: v.get('BERTH_ARCH') ?? '',
    dockerInstalled: v.get('BERTH_DOCKERD') === 'yes',
    dockerRunning: v.get('BERTH_RUNNING') === 'yes',
    actions: [],
  };
  if (!probe.dockerInstalled) {
    const r = await exec(INSTALL_DOCKER, 600_000);
    if (r.code !== 0) throw new UserError(`${hostName}: apt-get install docker.io failed: ${tail(r)}`);
    probe.dockerInstalled = true;
    probe.actions.push('installed docker.io');
  }
  if (!probe.dockerRunning) {
    const r = await exec(START_DOCKER, 90_000);
    if (r.code !== 0) throw new UserError(`${hostName}: cannot start dockerd: ${tail(r)}`);
    probe.dockerRunning = true;
    probe.actions.push('started dockerd');
  }
  return probe;
}

// ------------------------------------------------------------------------------------- images

/**
 * Copies `image` from the local engine to the host's (`docker save | docker load`, streamed) when
 * the host lacks it or has another build under that name. Returns true when it copied.
 */
export async function ensureImageOnHost(
  localDocker: Docker,
  hostDocker: Docker,
  image: string,
): Promise<boolean> {
  const local = await localDocker.getImage(image).inspect();
  const there = await inspectImage(hostDocker, image);
  if (there?.Id === local.Id) return false;
  const tar = await localDocker.getImage(image).get();
  const response = await hostDocker.loadImage(tar, { quiet: true });
  // The load answers 200 and reports a failure inside the stream.
  const failed = await followJsonStream(response, () => undefined);
  if (failed)
    throw new Error(`loading ${image} on the host failed: ${failed.errorDetail?.message ?? failed.error}`);
  return true;
}

// -------------------------------------------------------------------------------------- swarm

export interface SwarmMember {
  /** The host's id in the pool (recorded as node label `berth.host`). */
  id: string;
  docker: Docker;
  /** Where the other hosts reach it (advertise and listen address). */
  address: string;
}

export type SwarmRole = 'manager' | 'worker';

export const HOST_NODE_LABEL = 'berth.host';
/**
 * Every host is a manager, up to seven: a worker promoted later never took its raft seat here
 * (its role changed, its ManagerStatus never came), so the pool cannot count on promotion to
 * restore a quorum after a manager leaves or fails. Joining as a manager does work.
 */
const MANAGERS = 7;
/** Overlay subnets Docker picks itself (ingress); apps' networks get explicit subnets anyway. */
const ADDR_POOLS = ['10.202.0.0/16', '172.30.0.0/16'];

interface SwarmState {
  NodeID?: string;
  LocalNodeState?: string;
  ControlAvailable?: boolean;
  Cluster?: { ID?: string };
  RemoteManagers?: Array<{ NodeID: string; Addr: string }> | null;
}

interface NodeInfo {
  ID: string;
  Version: { Index: number };
  Spec: { Role: SwarmRole; Availability: string; Labels?: Record<string, string>; Name?: string };
  Description?: { Hostname?: string };
  Status?: { Addr?: string; State?: string };
  ManagerStatus?: { Addr?: string };
}

const swarmOf = async (m: SwarmMember): Promise<SwarmState> =>
  ((await m.docker.info()) as { Swarm: SwarmState }).Swarm;

function inCidr(address: string, cidr: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}

/**
 * Puts every member in one swarm: initialised on the first member when none of them is a manager,
 * joined by the others (managers until there are seven, then workers), skipping members already
 * in it. A member that still believes it belongs to this swarm after being removed from it (a
 * failed host that came back) leaves and joins again; a member of some other swarm is an error
 * rather than a swarm torn down. Returns each member's role, by id.
 */
export async function ensureSwarm(members: SwarmMember[]): Promise<Record<string, SwarmRole>> {
  if (members.length === 0) return {};
  const states = await Promise.all(members.map(swarmOf));
  let leaderAt = states.findIndex((s) => s.LocalNodeState === 'active' && s.ControlAvailable);
  if (leaderAt < 0) {
    leaderAt = 0;
    const first = members[0];
    if (states[0].LocalNodeState === 'active')
      throw new UserError(
        `${first.id} is a swarm worker whose managers are not in the pool: leave that swarm first`,
      );
    const pool = ADDR_POOLS.find((p) => !members.some((m) => inCidr(m.address, p)));
    if (!pool)
      throw new UserError(`the hosts' addresses overlap every swarm address pool (${ADDR_POOLS.join(', ')})`);
    await first.docker.swarmInit({
      ListenAddr: `${first.address}:2377`,
      AdvertiseAddr: first.address,
      DefaultAddrPool: [pool],
      SubnetSize: 24,
    });
    states[0] = await swarmOf(first);
  }
  const leader = members[leaderAt];
  const clusterId = states[leaderAt].Cluster?.ID;
  const tokens = ((await leader.docker.swarmInspect()) as { JoinTokens: { Manager: string; Worker: string } })
    .JoinTokens;
  let nodes = (await leader.docker.listNodes()) as NodeInfo[];
  const managerAddrs = new Set(nodes.map((n) => n.ManagerStatus?.Addr).filter(Boolean));
  let managers = nodes.filter((n) => n.Spec.Role === 'manager').length;
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    const s = states[i];
    if (s.NodeID && nodes.some((n) => n.ID === s.NodeID)) continue; // already ours
    const staleOfOurs =
      (!!clusterId && s.Cluster?.ID === clusterId) ||
      !!s.RemoteManagers?.some((r) => managerAddrs.has(r.Addr));
    if ((s.LocalNodeState === 'active' || s.LocalNodeState === 'locked') && !staleOfOurs)
      throw new UserError(`${m.id} is in another swarm: run 'docker swarm leave --force' on it first`);
    // removed from ours, or 'pending'/'error': a join that never completed
    if (s.LocalNodeState !== 'inactive') await m.docker.swarmLeave({ force: true });
    const role: SwarmRole = managers < MANAGERS ? 'manager' : 'worker';
    await m.docker.swarmJoin({
      ListenAddr: `${m.address}:2377`,
      AdvertiseAddr: m.address,
      RemoteAddrs: [`${leader.address}:2377`],
      JoinToken: role === 'manager' ? tokens.Manager : tokens.Worker,
    });
    if (role === 'manager') managers++;
    states[i] = await swarmOf(m);
  }
  nodes = (await leader.docker.listNodes()) as NodeInfo[];
  const roles: Record<string, SwarmRole> = {};
  for (let i = 0; i < members.length; i++) {
    const node = nodes.find((n) => n.ID === states[i].NodeID);
    if (!node) throw new Error(`${members[i].id} joined the swarm but its node is not listed`);
    roles[members[i].id] = node.Spec.Role;
    if (node.Spec.Labels?.[HOST_NODE_LABEL] !== members[i].id) {
      // Labelled so a failed host's node can be found by its pool id later.
      await leader.docker.getNode(node.ID).update({
        version: node.Version.Index,
        ...node.Spec,
        Labels: { ...node.Spec.Labels, [HOST_NODE_LABEL]: members[i].id },
      });
    }
  }
  return roles;
}

/** The host leaves whatever swarm it is in (forced: a last manager may leave too). */
export async function leaveSwarm(hostDocker: Docker): Promise<boolean> {
  const info = (await hostDocker.info()) as { Swarm: SwarmState };
  if (info.Swarm.LocalNodeState === 'inactive') return false;
  await hostDocker.swarmLeave({ force: true });
  return true;
}

/**
 * Removes a (failed) host's node from the swarm, found by node ID, hostname, `berth.host` label or
 * address. A manager is demoted first: Docker refuses to remove a raft member. Returns false when
 * there was no such node.
 */
export async function removeSwarmNode(managerDocker: Docker, nodeIdOrHostname: string): Promise<boolean> {
  const nodes = (await managerDocker.listNodes()) as NodeInfo[];
  const node = nodes.find(
    (n) =>
      n.ID === nodeIdOrHostname ||
      n.Description?.Hostname === nodeIdOrHostname ||
      n.Spec.Labels?.[HOST_NODE_LABEL] === nodeIdOrHostname ||
      n.Status?.Addr === nodeIdOrHostname,
  );
  if (!node) return false;
  if (node.Spec.Role === 'manager') {
    await managerDocker
      .getNode(node.ID)
      .update({ version: node.Version.Index, ...node.Spec, Role: 'worker' });
    // Demotion is applied through raft; the removal below is refused until it has been.
    for (let i = 0; i < 50; i++) {
      const now = (await managerDocker.getNode(node.ID).inspect()) as NodeInfo & { ManagerStatus?: unknown };
      if (!now.ManagerStatus) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await managerDocker.getNode(node.ID).remove({ force: true });
  return true;
}

/**
 * The pool id (`berth.host` label, else hostname) of the swarm's leader as `managerDocker` sees it;
 * undefined when it has none (an election under way, or no quorum: listing nodes fails then).
 */
export async function swarmLeader(managerDocker: Docker): Promise<string | undefined> {
  const nodes = (await managerDocker.listNodes()) as (NodeInfo & { ManagerStatus?: { Leader?: boolean } })[];
  const leader = nodes.find((n) => n.ManagerStatus?.Leader);
  return leader ? (leader.Spec.Labels?.[HOST_NODE_LABEL] ?? leader.Description?.Hostname) : undefined;
}

/**
 * Tops the managers up to seven while the swarm has the nodes for it (best effort, see MANAGERS): after a manager failed or left,
 * ready workers are promoted (oldest first), so the next failure still leaves a quorum. Returns
 * every labelled node's role by pool id.
 */
export async function promoteManagers(managerDocker: Docker): Promise<Record<string, SwarmRole>> {
  const nodes = (await managerDocker.listNodes()) as NodeInfo[];
  const ready = nodes.filter((n) => n.Status?.State === 'ready' && n.Spec.Availability === 'active');
  let managers = ready.filter((n) => n.Spec.Role === 'manager').length;
  for (const n of ready.filter((x) => x.Spec.Role === 'worker')) {
    if (managers >= MANAGERS) break;
    await managerDocker.getNode(n.ID).update({ version: n.Version.Index, ...n.Spec, Role: 'manager' });
    n.Spec.Role = 'manager';
    managers++;
  }
  const roles: Record<string, SwarmRole> = {};
  for (const n of nodes) {
    const id = n.Spec.Labels?.[HOST_NODE_LABEL];
    if (id) roles[id] = n.Spec.Role;
  }
  return roles;
}

// ----------------------------------------------------------------------------------- registry

export const REGISTRY_PORT = 5000;

/**
 * Debian's docker-registry on the host, listening on `address:5000` (plain HTTP: the pool's engines
 * list the LAN in insecure-registries), detached with `setsid nohup`; config, storage, log and pid
 * file in /var/lib/berth-registry/<address> (or `$BERTH_REGISTRY_DIR`, which netns hosts set to
 * their own data directory). Idempotent: a live registry of ours is kept. Waits (bounded) until
 * `/v2/` answers on the host. Returns `address:5000`.
 */
export async function ensureRegistryOnHost(exec: RemoteExec, address: string): Promise<string> {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address))
    throw new Error(`registry address '${address}' is not an IPv4 address`);
  const listen = `${address}:${REGISTRY_PORT}`;
  // expanded by the host's shell: no quotes, backslashes or backticks in it
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    '    rootdirectory: $D/data',
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${listen}`,
  ].join('\n');
  const script = [
    AS_ROOT,
    'unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY',
    `D=\${BERTH_REGISTRY_DIR:-/var/lib/berth-registry/${address}}`,
    `answers() { if command -v curl >/dev/null; then curl -fsS -m 2 -o /dev/null http://${listen}/v2/; ` +
      `else wget -q -T 2 -O /dev/null http://${listen}/v2/; fi; }`,
    'ours() { P=$(cat $D/registry.pid 2>/dev/null) && [ -n "$P" ] && tr "\\0" " " </proc/$P/cmdline 2>/dev/null | grep -qF "serve $D/config.yml"; }',
    'if ours && answers 2>/dev/null; then exit 0; fi',
    'if ! command -v docker-registry >/dev/null; then ' +
      '$S env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null || exit 1; ' +
      // the package's own service listens on :5000 on every address; ours takes the pool's address
      '[ -d /run/systemd/system ] && $S systemctl disable --now docker-registry >/dev/null 2>&1; fi',
    'if ours; then $S kill $P; sleep 0.5; fi', // alive but not answering: start afresh
    '$S mkdir -p $D/data',
    `printf '%s\\n' "${config}" | $S tee $D/config.yml >/dev/null`,
    `$S env D="$D" sh -c 'setsid nohup docker-registry serve $D/config.yml >>$D/registry.log 2>&1 </dev/null & echo $! >$D/registry.pid'`,
    // ours must be the one answering (not some other server on that port)
    // (give a process that is still starting, or still exec-ing, two seconds before calling it dead)
    'for i in $(seq 1 200); do if ours; then answers 2>/dev/null && exit 0; elif [ $i -gt 20 ]; then break; fi; sleep 0.1; done',
    `echo "registry did not answer on ${listen}: $(tail -n 3 $D/registry.log)" >&2; exit 1`,
  ].join('\n');
  const r = await exec(script, 120_000);
  if (r.code !== 0) throw new Error(`registry on ${address}: ${tail(r)}`);
  return listen;
}
