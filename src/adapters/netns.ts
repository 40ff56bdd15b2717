import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { HostConnection } from '../core/hosts';
import { projectRoot } from './paths';
import { fingerprintOf } from './ssh';

/**
 * Docker hosts on this machine (`scripts/netns-host.sh`): a network namespace per host with its
 * own dockerd and sshd, reached over SSH like any remote host. For tests, demos and `berth hosts
 * add --netns`; needs root.
 */

export interface NetnsHostSpec {
  /** Names the namespaces and interfaces: ^[a-z][a-z0-9]{0,7}$. */
  prefix: string;
  /** 1..40; the host's address is `<lan>.<10 + index>`. */
  index: number;
  /** First three octets of the hosts' /24, e.g. `10.213.5`. */
  lan: string;
  /** Installed as the host's authorized_keys. */
  publicKeyFile: string;
  /** The matching private key (default: `publicKeyFile` without `.pub`). */
  privateKeyFile?: string;
}

const RUN_BASE = '/run/berth-netns';
const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;

export function netnsScript(): string {
  return path.join(projectRoot(), 'scripts', 'netns-host.sh');
}

export function netnsAddress(lan: string, index: number): string {
  return `${lan}.${10 + index}`;
}

function stateDir(prefix: string, index: number): string {
  return `${RUN_BASE}/${prefix}/h${index}`;
}

/** The host's engine socket on this machine (reachable without SSH, for tests and cleanup). */
export function netnsHostSocket(prefix: string, index: number): string {
  return path.join(stateDir(prefix, index), 'docker.sock');
}

/** The prefix and index of a host this module created (from its socket path), else undefined. */
export function netnsIndexOf(host: HostConnection): { prefix: string; index: number } | undefined {
  if (host.provider !== 'netns') return undefined;
  const m = /^\/run\/berth-netns\/([a-z][a-z0-9]{0,7})\/h(\d{1,2})\/docker\.sock$/.exec(
    host.dockerSocket ?? '',
  );
  return m ? { prefix: m[1], index: Number(m[2]) } : undefined;
}

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [netnsScript(), ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const said = stderr
          .trim()
          .split('\n')
          .map((l) => l.replace(/^netns-host: /, ''))
          .filter(Boolean)
          .join('; ')
          .slice(0, 600);
        const why = err.killed ? `timed out after ${timeoutMs / 1000} s` : said || err.message;
        reject(new Error(`netns-host ${args.slice(0, 3).join(' ')}: ${why}`));
      },
    );
  });
}

function check(prefix: string, index?: number): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`netns prefix '${prefix}' must match ${PREFIX_RE.source}`);
  if (index !== undefined && !(Number.isInteger(index) && index >= 1 && index <= 40))
    throw new Error(`netns host index ${index} must be 1..40`);
}

/**
 * Brings host `index` up (idempotent) and returns how to reach it, with its host key pinned: the
 * script generated that key, so there is no first connection to trust.
 */
export async function createNetnsHost(spec: NetnsHostSpec): Promise<HostConnection> {
  check(spec.prefix, spec.index);
  // beyond the script's own bounds (lock 120 s, dockerd 60 s, sshd 20 s): it reports first
  await runScript(['up', spec.prefix, String(spec.index), spec.lan, spec.publicKeyFile], 240_000);
  const dir = stateDir(spec.prefix, spec.index);
  const address = netnsAddress(spec.lan, spec.index);
  return {
    id: address,
    provider: 'netns',
    ssh: {
      host: address,
      port: 22,
      user: 'root',
      keyFile: spec.privateKeyFile ?? spec.publicKeyFile.replace(/\.pub$/, ''),
      hostKey: hostKeyFingerprint(path.join(dir, 'ssh_host_ed25519_key.pub')),
    },
    dockerSocket: netnsHostSocket(spec.prefix, spec.index),
    address,
  };
}

/** `SHA256:...` of an OpenSSH public key file (`type base64 comment`). */
export function hostKeyFingerprint(publicKeyFile: string): string {
  const blob = fs.readFileSync(publicKeyFile, 'utf8').trim().split(/\s+/)[1];
  return fingerprintOf(Buffer.from(blob, 'base64'));
}

/** How long a fault script may take: stopping an engine with many containers on a loaded machine took over 30 s. */
const FAULT_SCRIPT_MS = 120_000;

/** Simulates a host failure: kill -9 of its dockerd, containerd, shims and containers. */
export async function stopNetnsDocker(prefix: string, index: number): Promise<void> {
  check(prefix, index);
  await runScript(['stop-docker', prefix, String(index)], FAULT_SCRIPT_MS);
}

/** Simulates a crash of the engine's daemon alone: kill -9 of its dockerd (its containers run on). */
export async function killNetnsDockerd(prefix: string, index: number): Promise<void> {
  check(prefix, index);
  await runScript(['kill-dockerd', prefix, String(index)], FAULT_SCRIPT_MS);
}

/** Simulates a partition: every packet on the host's LAN interface is dropped (iptables in its netns). */
export async function cutNetnsHost(prefix: string, index: number): Promise<void> {
  check(prefix, index);
  await runScript(['cut', prefix, String(index)], FAULT_SCRIPT_MS);
}

/** Ends `cutNetnsHost` (idempotent). */
export async function restoreNetnsHost(prefix: string, index: number): Promise<void> {
  check(prefix, index);
  await runScript(['restore', prefix, String(index)], FAULT_SCRIPT_MS);
}

export async function destroyNetnsHost(prefix: string, index: number): Promise<void> {
  check(prefix, index);
  await runScript(['down', prefix, String(index)], 60_000);
}

/** Every host of `prefix`, its bridge and the machine's leg; fine when nothing exists. */
export async function destroyAllNetnsHosts(prefix: string): Promise<void> {
  check(prefix);
  await runScript(['down-all', prefix], 180_000);
}

export interface BerthSshKey {
  privateKeyFile: string;
  publicKeyFile: string;
}

/** Berth's own key pair (`$BERTH_HOME/ssh/id_ed25519`), made on first use. */
export async function ensureBerthSshKey(berthHome: string): Promise<BerthSshKey> {
  const dir = path.join(berthHome, 'ssh');
  const key = {
    privateKeyFile: path.join(dir, 'id_ed25519'),
    publicKeyFile: path.join(dir, 'id_ed25519.pub'),
  };
  if (fs.existsSync(key.privateKeyFile) && fs.existsSync(key.publicKeyFile)) return key;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Generated under a temporary name and renamed (public key first), so a concurrent caller sees
  // either no key or a complete pair, never ssh-keygen's half-written files or its overwrite prompt.
  const tmp = path.join(dir, `.id_ed25519.${process.pid}.${Date.now()}`);
  await new Promise<void>((resolve, reject) =>
    execFile(
      'ssh-keygen',
      ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth', '-f', tmp],
      { timeout: 30_000 },
      (err, _out, stderr) =>
        err ? reject(new Error(`ssh-keygen failed: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  );
  if (!fs.existsSync(key.privateKeyFile)) {
    fs.renameSync(`${tmp}.pub`, key.publicKeyFile);
    fs.renameSync(tmp, key.privateKeyFile);
  } else {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.pub`, { force: true });
  }
  return key;
}
