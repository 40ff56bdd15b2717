/**
 * Registry credentials as the Docker CLI finds them on this machine (the one running the worker):
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, its credential helpers (`credHelpers`
 * per registry, `credsStore` for all) and then its `auths`. Read per pull, never cached in Berth's
 * state and never written into a workflow payload.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Credentials as the engine takes them in `X-Registry-Auth`. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** An OAuth identity token (what a credential helper answers with user `<token>`). */
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's names in a config file (the CLI keys its credentials by the v1 index URL). */
const DOCKER_HUB = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
const HELPER_TIMEOUT_MS = 10_000;

export function dockerConfigFile(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

function readConfig(file: string): DockerConfig | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DockerConfig;
  } catch {
    return undefined; // none, or not JSON: as the Docker CLI, go on without credentials
  }
}

/** `https://host:5000/v2/` → `host:5000`. */
function hostOf(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

function isHub(registry: string): boolean {
  return DOCKER_HUB.map(hostOf).includes(registry.toLowerCase());
}

/** The entry of `table` for `registry`, whatever scheme or path its key was written with. */
function entryFor<T>(table: Record<string, T> | undefined, registry: string): T | undefined {
  if (!table) return undefined;
  const wanted = isHub(registry) ? DOCKER_HUB.map(hostOf) : [registry.toLowerCase()];
  const key = Object.keys(table).find((k) => wanted.includes(hostOf(k)));
  return key === undefined ? undefined : table[key];
}

function fromAuths(config: DockerConfig, registry: string): RegistryAuth | undefined {
  const entry = entryFor(config.auths, registry);
  if (!entry) return undefined;
  if (entry.identitytoken) return { identitytoken: entry.identitytoken };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

/** `docker-credential-<helper> get`, as the Docker CLI runs it; undefined when it has none. */
function fromHelper(helper: string, registry: string): Promise<RegistryAuth | undefined> {
  const server = isHub(registry) ? DOCKER_HUB[0] : registry;
  return new Promise((resolve) => {
    const child = execFile(
      `docker-credential-${helper}`,
      ['get'],
      { timeout: HELPER_TIMEOUT_MS, maxBuffer: 64 * 1024 },
      (err, stdout) => {
        if (err) return resolve(undefined); // missing helper, or "credentials not found"
        try {
          const { Username, Secret } = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (!Secret) return resolve(undefined);
          resolve(
            Username === '<token>' ? { identitytoken: Secret } : { username: Username, password: Secret },
          );
        } catch {
          resolve(undefined);
        }
      },
    );
    child.stdin?.end(server);
  });
}

/**
 * The credentials this machine's Docker configuration holds for `registry` (`host[:port]`, or
 * `docker.io`), or undefined. A credential helper (per registry, else the config's store) wins
 * over `auths`, as in the Docker CLI.
 */
export async function dockerConfigAuth(
  registry: string,
  file = dockerConfigFile(),
): Promise<RegistryAuth | undefined> {
  const config = readConfig(file);
  if (!config) return undefined;
  const helper = entryFor(config.credHelpers, registry) ?? config.credsStore;
  const helped = helper ? await fromHelper(helper, registry) : undefined;
  return helped ?? fromAuths(config, registry);
}

/** A `registryAuth` secret's value: `user:password` (the password may hold colons). */
export function parseRegistrySecret(value: string): RegistryAuth | undefined {
  const colon = value.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: value.slice(0, colon), password: value.slice(colon + 1).replace(/\r?\n$/, '') };
}
