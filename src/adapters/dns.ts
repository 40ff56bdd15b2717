import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type Docker from 'dockerode';
import { UserError } from '../core/errors';
import { hostsFileOf, type DnsRecord } from '../core/dns-names';
import { DEFAULT_DNS_NETWORK, DEFAULT_DNS_SUBNET, gatewayOf, parseCidr } from '../core/ipam';
import { LABEL, isDnsLabel } from '../core/names';
import { berthHome } from './paths';
import {
  findDaemon,
  isDaemonPid,
  procArgv,
  readPidFile,
  stopDaemon,
  withStartLock,
  type Daemon,
} from './daemon';

/**
 * Berth's DNS server: one dnsmasq per Berth home, answering only `*.berth` from hosts files.
 *
 * - A Docker bridge network (`berth-dns`, default subnet 10.201.255.0/24) gives the host a stable
 *   address, its gateway (10.201.255.1). No container joins it; containers on any app network reach
 *   it through their own gateway (the host routes to its own address), and get it as `Dns`, so
 *   Docker's embedded DNS (127.0.0.11) answers container names itself and forwards the rest here.
 * - dnsmasq runs on the host, detached (it daemonises, and its first process exits only once the
 *   socket is bound and the pid file written), with `--bind-dynamic` on that one address: it binds
 *   again by itself when the network is removed and re-created. It never forwards (`--no-resolv`,
 *   no `--server`, `--conf-file=/dev/null`): `*.berth` names are answered from
 *   `$BERTH_HOME/dns/hosts/<app>` or NXDOMAIN, everything else is REFUSED.
 * - Records change by atomically replacing an app's hosts file; dnsmasq's `--hostsdir` watches the
 *   directory with inotify and swaps that file's names (no signal, no restart).
 */

export interface DnsServerOptions {
  /** Docker network whose gateway dnsmasq listens on. Default `berth-dns` (or `BERTH_DNS_NETWORK`). */
  network?: string;
  /** Its subnet. Default 10.201.255.0/24 (or `BERTH_DNS_SUBNET`); the app subnet pool must exclude it. */
  subnet?: string;
  /** The dnsmasq binary. Default `BERTH_DNSMASQ`, /usr/sbin/dnsmasq, or `dnsmasq` on PATH. */
  dnsmasq?: string;
}

export interface DnsServer {
  /** Where containers send DNS queries (`HostConfig.Dns`). */
  address: string;
  pid: number;
  network: string;
  subnet: string;
  /** False when a live server was reused. */
  started: boolean;
}

/** A failure of the DNS server itself (not Docker's, not the user's): worth retrying. */
export class DnsServerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsServerError';
  }
}

export interface DnsPaths {
  dir: string;
  hostsDir: string;
  stagingDir: string;
  pidFile: string;
  logFile: string;
  stateFile: string;
  lockFile: string;
}

/** Everything lives in `$BERTH_HOME/dns/`: hosts files, a staging directory for atomic writes, pid, log. */
export function dnsPaths(home = berthHome()): DnsPaths {
  const dir = path.join(home, 'dns');
  return {
    dir,
    hostsDir: path.join(dir, 'hosts'),
    stagingDir: path.join(dir, 'staging'),
    pidFile: path.join(dir, 'dnsmasq.pid'),
    logFile: path.join(dir, 'dnsmasq.log'),
    stateFile: path.join(dir, 'server.json'),
    lockFile: path.join(dir, 'start.lock'),
  };
}

function settings(options: DnsServerOptions) {
  const subnet = parseCidr(
    options.subnet ?? process.env.BERTH_DNS_SUBNET ?? DEFAULT_DNS_SUBNET,
    'DNS subnet',
  ).cidr;
  return {
    network: options.network ?? process.env.BERTH_DNS_NETWORK ?? DEFAULT_DNS_NETWORK,
    subnet,
    dnsmasq: options.dnsmasq ?? process.env.BERTH_DNSMASQ ?? findDnsmasq(),
  };
}

function findDnsmasq(): string {
  const candidates = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter))
    if (dir) candidates.push(path.join(dir, 'dnsmasq'));
  const found = candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found)
    throw new UserError(
      'dnsmasq not found: install it (Debian: apt-get install dnsmasq-base) or set BERTH_DNSMASQ',
    );
  return found;
}

// ---------------------------------------------------------------------------------------------
// The network

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** dnsmasq ends at once on SIGTERM; 2 s before SIGKILL is ample. */
const DNSMASQ_GRACE_MS = 2_000;

async function findNetwork(docker: Docker, name: string): Promise<Docker.NetworkInspectInfo | undefined> {
  const found = await docker.listNetworks({ filters: { name: [name] } });
  const hit = found.find((n) => n.Name === name);
  return hit ? docker.getNetwork(hit.Id).inspect() : undefined;
}

function checkNetwork(n: Docker.NetworkInspectInfo, name: string, subnet: string): string {
  if (n.Labels?.[LABEL.managed] !== 'true' || n.Labels?.[LABEL.kind] !== 'dns') {
    throw new UserError(
      `Docker network '${name}' exists but is not Berth's DNS network (no ${LABEL.kind}=dns label): remove or rename it`,
    );
  }
  const config = n.IPAM?.Config?.[0];
  if (config?.Subnet !== subnet) {
    throw new UserError(
      `Berth's DNS network '${name}' has subnet ${config?.Subnet ?? '(none)'}, not ${subnet}: stop the DNS server first (it removes the network) or use its subnet`,
    );
  }
  return config.Gateway ?? gatewayOf(subnet);
}

async function ensureNetwork(
  docker: Docker,
  name: string,
  subnet: string,
): Promise<{ id: string; address: string }> {
  const existing = await findNetwork(docker, name);
  if (existing) return { id: existing.Id, address: checkNetwork(existing, name, subnet) };
  const gateway = gatewayOf(subnet);
  try {
    const created = await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gateway }] },
      // Nothing joins it: it only gives the host an address. No masquerading for it.
      Options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' },
      Labels: { [LABEL.managed]: 'true', [LABEL.kind]: 'dns' },
    });
    return { id: created.id, address: gateway };
  } catch (err) {
    // A concurrent ensure may have made it: Docker then answers 409, or (name check raced) "pool overlaps".
    const status = (err as { statusCode?: number }).statusCode;
    // The overlap is reported before the winner's network is listed: look again, briefly.
    for (let i = 0; status && status < 500 && i < 20; i++) {
      const raced = await findNetwork(docker, name);
      if (raced) return { id: raced.Id, address: checkNetwork(raced, name, subnet) };
      await sleep(50);
    }
    const message = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
    if (status && status < 500 && /overlap/i.test(message)) {
      throw new UserError(
        `Berth's DNS subnet ${subnet} overlaps an existing Docker network (${message}): set BERTH_DNS_SUBNET to a free /24`,
      );
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The process

/** This home's dnsmasq, as a daemon Berth owns: identified by its hosts directory in its argv. */
function dnsmasqDaemon(p: DnsPaths): Daemon {
  return {
    what: 'dnsmasq',
    pidFile: p.pidFile,
    lockFile: p.lockFile,
    isOurs: (argv) => path.basename(argv[0]) === 'dnsmasq' && argv.includes(`--hostsdir=${p.hostsDir}`),
  };
}

/** True when `pid` is a live dnsmasq serving this Berth home's hosts directory. */
export function isOurDnsmasq(pid: number, hostsDir: string): boolean {
  return isDaemonPid(dnsmasqDaemon({ ...dnsPaths(), hostsDir }), pid);
}

function listenAddressOf(pid: number): string | undefined {
  return procArgv(pid)
    ?.find((a) => a.startsWith('--listen-address='))
    ?.slice('--listen-address='.length);
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (!err) return resolve({ code: 0, stderr: String(stderr).trim() });
      const code = typeof err.code === 'number' ? err.code : -1;
      resolve({
        code,
        stderr: String(stderr).trim() || (err.killed ? `timed out after ${timeoutMs} ms` : err.message),
      });
    });
  });
}

async function startDnsmasq(binary: string, address: string, p: DnsPaths): Promise<number> {
  const args = [
    '--conf-file=/dev/null', // no /etc/dnsmasq.conf: nothing can add an upstream server
    `--listen-address=${address}`,
    '--bind-dynamic', // only that address; re-bound if the network is re-created
    '--port=53', // Docker's `Dns` servers are always asked on port 53
    '--no-resolv', // never forward anywhere
    '--no-hosts',
    '--no-poll',
    '--local=/berth/', // answer *.berth from the hosts files alone (NXDOMAIN otherwise)
    `--hostsdir=${p.hostsDir}`,
    `--pid-file=${p.pidFile}`,
    `--log-facility=${p.logFile}`,
  ];
  // As root, dnsmasq would drop to `nobody`/`dnsmasq`, which cannot read a BERTH_HOME under /root.
  if (process.getuid?.() === 0) args.push(`--user=${os.userInfo().username}`);
  fs.rmSync(p.pidFile, { force: true });
  const { code, stderr } = await run(binary, args, 10_000);
  if (code !== 0) {
    const winner = findDaemon(dnsmasqDaemon(p)); // a concurrent ensure may have started it first
    if (winner) return winner;
    const why = stderr || `exit code ${code}`;
    if (/address already in use/i.test(why)) {
      throw new UserError(
        `cannot start dnsmasq: ${address}:53 is taken by another process (another BERTH_HOME's DNS server?): stop it, or give this one its own BERTH_DNS_NETWORK and BERTH_DNS_SUBNET`,
      );
    }
    if (/permission denied/i.test(why) && process.getuid?.() !== 0) {
      throw new UserError(
        `cannot start dnsmasq on ${address}:53 (${why}): Berth's DNS server needs root or CAP_NET_BIND_SERVICE`,
      );
    }
    throw new DnsServerError(`dnsmasq did not start on ${address}:53: ${why} (log: ${p.logFile})`);
  }
  // The first process exits once the daemon is bound and has written its pid file; poll briefly anyway.
  for (let i = 0; i < 40; i++) {
    const pid = readPidFile(p.pidFile);
    if (pid && isOurDnsmasq(pid, p.hostsDir)) return pid;
    await sleep(25);
  }
  throw new DnsServerError(`dnsmasq started but ${p.pidFile} names no live dnsmasq (log: ${p.logFile})`);
}

function asDnsError(what: string, err: unknown): Error {
  if (err instanceof UserError || err instanceof DnsServerError) return err;
  return new DnsServerError(`${what}: ${(err as Error).message}`, { cause: err });
}

/** Runs a local (file or process) step; its failures become DnsServerError, told apart from Docker's. */
function localStep<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asDnsError(what, err);
  }
}

async function localAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asDnsError(what, err);
  }
}

// ---------------------------------------------------------------------------------------------
// The API

/**
 * Makes sure this Berth home's DNS server runs and returns its address. Idempotent: a live dnsmasq
 * from the pid file (checked in /proc to be dnsmasq with our hosts directory) is reused; one
 * listening on another address (the subnet changed) is replaced. Docker errors are thrown as they
 * are; bad configuration as UserError; dnsmasq/file failures as DnsServerError.
 */
export async function ensureDnsServer(docker: Docker, options: DnsServerOptions = {}): Promise<DnsServer> {
  const s = localStep('DNS settings', () => settings(options));
  const p = dnsPaths();
  localStep(`create ${p.dir}`, () => {
    for (const dir of [p.hostsDir, p.stagingDir]) fs.mkdirSync(dir, { recursive: true });
  });
  const { id, address } = await ensureNetwork(docker, s.network, s.subnet);
  const { pid, started } = await localAsync('start dnsmasq', () =>
    withStartLock(dnsmasqDaemon(p), async () => {
      const running = findDaemon(dnsmasqDaemon(p));
      if (running && listenAddressOf(running) === address) return { pid: running, started: false };
      if (running) await stopDaemon(dnsmasqDaemon(p), running, DNSMASQ_GRACE_MS); // the subnet changed
      return { pid: await startDnsmasq(s.dnsmasq, address, p), started: true };
    }),
  );
  const state = { pid, address, network: s.network, networkId: id, subnet: s.subnet };
  localStep(`write ${p.stateFile}`, () =>
    fs.writeFileSync(p.stateFile, `${JSON.stringify(state, null, 2)}\n`),
  );
  return { address, pid, network: s.network, subnet: s.subnet, started };
}

/** The recorded server (from `server.json` and the pid file), if its dnsmasq is alive. */
export function dnsServerStatus(): (Omit<DnsServer, 'started'> & { running: boolean }) | undefined {
  const p = dnsPaths();
  let state: { address: string; network: string; subnet: string } | undefined;
  try {
    state = JSON.parse(fs.readFileSync(p.stateFile, 'utf8'));
  } catch {
    return undefined;
  }
  const pid = readPidFile(p.pidFile) ?? 0;
  return {
    address: state!.address,
    network: state!.network,
    subnet: state!.subnet,
    pid,
    running: isOurDnsmasq(pid, p.hostsDir),
  };
}

/** `*.berth` names, and a blueprint's extra `dnsNames` (any lower-case dotted name). */
const NAME = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function appFile(app: string, p: DnsPaths): string {
  if (!isDnsLabel(app)) throw new UserError(`app '${app}' is not a DNS label`);
  return path.join(p.hostsDir, app);
}

let staged = 0;

/**
 * Replaces the app's names with `records` (see `dnsRecordsFor`): writes a staging file and renames
 * it over `hosts/<app>`, so dnsmasq never reads half a file. No records = no file. Returns whether
 * the file changed (an identical file is left alone, so dnsmasq does not re-read it).
 */
export function publishRecords(app: string, records: DnsRecord[]): { file: string; changed: boolean } {
  const p = dnsPaths();
  const file = appFile(app, p);
  for (const r of records) {
    if (!NAME.test(r.name) || !IPV4.test(r.address))
      throw new UserError(`invalid DNS record '${r.name} → ${r.address}'`);
  }
  if (records.length === 0) return { file, changed: removeRecords(app) };
  const content = hostsFileOf(records);
  return localStep(`write ${file}`, () => {
    let current: string | undefined;
    try {
      current = fs.readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) return { file, changed: false };
    fs.mkdirSync(p.hostsDir, { recursive: true });
    fs.mkdirSync(p.stagingDir, { recursive: true });
    // Staged outside the watched directory, on the same file system: the rename is atomic.
    const tmp = path.join(p.stagingDir, `${app}.${process.pid}.${++staged}`);
    try {
      fs.writeFileSync(tmp, content, { mode: 0o644 });
      fs.renameSync(tmp, file);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return { file, changed: true };
  });
}

/** Removes every name of the app (dnsmasq drops the file's names on the inotify event). */
export function removeRecords(app: string): boolean {
  const p = dnsPaths();
  const file = appFile(app, p);
  return localStep(`remove ${file}`, () => {
    if (!fs.existsSync(file)) return false;
    fs.rmSync(file, { force: true });
    return true;
  });
}

/**
 * Stops this Berth home's dnsmasq (only the process its pid file names, and only when /proc shows it
 * is dnsmasq with our hosts directory) and removes its network. Hosts files stay: a new server
 * serves them again. Idempotent.
 */
export async function stopDnsServer(
  docker: Docker,
  options: Pick<DnsServerOptions, 'network'> = {},
): Promise<{ stopped?: number; networkRemoved: boolean }> {
  const p = dnsPaths();
  // The pid file's process, checked in /proc; without a pid file, our dnsmasq found in /proc.
  const pid = localStep('find dnsmasq', () => findDaemon(dnsmasqDaemon(p)));
  let stopped: number | undefined;
  if (pid) {
    await localAsync('stop dnsmasq', () => stopDaemon(dnsmasqDaemon(p), pid, DNSMASQ_GRACE_MS));
    stopped = pid;
  }
  let recorded: string | undefined;
  try {
    recorded = JSON.parse(fs.readFileSync(p.stateFile, 'utf8')).network;
  } catch {
    recorded = undefined;
  }
  fs.rmSync(p.pidFile, { force: true });
  fs.rmSync(p.stateFile, { force: true });
  const name = options.network ?? recorded ?? process.env.BERTH_DNS_NETWORK ?? DEFAULT_DNS_NETWORK;
  const network = await findNetwork(docker, name);
  let networkRemoved = false;
  if (network && network.Labels?.[LABEL.kind] === 'dns' && network.Labels?.[LABEL.managed] === 'true') {
    try {
      await docker.getNetwork(network.Id).remove();
      networkRemoved = true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
  return { stopped, networkRemoved };
}
