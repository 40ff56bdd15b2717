import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { UserError } from '../../core/errors';
import { parseSshUrl, type HostConnection } from '../../core/hosts';
import {
  addHostUpdate,
  addNetnsHostsUpdate,
  DEFAULT_POOL_SETTINGS,
  drainHostUpdate,
  removeHostUpdate,
  settingsUpdate,
  type HostView,
} from '../../../workflows/api/inventory';
import { info, printJson, setJsonMode, table } from '../output';
import { parseCount, parseDuration } from '../durations';
import { openSession } from '../session';

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** A share as a percentage (`37%`), `-` when not sensed (yet). */
function percent(share: number | undefined): string {
  return share === undefined ? '-' : `${Math.round(share * 100)}%`;
}

function statusText(h: HostView): string {
  if (h.failedReason)
    return `${h.status} (${h.failedReason}${h.rejoinError ? `; rejoin: ${h.rejoinError}` : ''})`;
  if (h.rejoined) return `${h.status} (back after: ${h.rejoined.failure})`;
  return h.status;
}

function printHosts(hosts: HostView[]): void {
  info(
    table([
      [
        'HOST',
        'PROVIDER',
        'ADDRESS',
        'STATUS',
        'ROLE',
        'CPUS',
        'MEMORY',
        'RESERVED',
        'RUNNING',
        'CPU',
        'MEM',
        'LOAD',
      ],
      ...hosts.map((h) => [
        h.id,
        h.provider,
        h.address ?? '-',
        statusText(h),
        [h.swarmRole, h.registry ? 'registry' : undefined].filter(Boolean).join(', ') || '-',
        String(h.cpus),
        gib(h.memoryBytes),
        String(h.reservations),
        h.sensors ? String(h.sensors.running) : '-',
        percent(h.sensors?.cpu),
        percent(h.sensors?.memory),
        h.sensors?.load !== undefined ? h.sensors.load.toFixed(2) : '-',
      ]),
    ]),
  );
}

/** `ssh://user@host[:port]` and a readable key file, or a one-line error naming what is wrong. */
export function sshConnection(target: string, keyFile: string | undefined, name?: string): HostConnection {
  const url = parseSshUrl(target);
  if (!url) throw new UserError(`'${target}' is not a host: use ssh://user@host[:port], netns or local`);
  if (!keyFile)
    throw new UserError(`an SSH host needs --key FILE (the private key to log in as ${url.user})`);
  const key = path.resolve(keyFile);
  try {
    fs.accessSync(key, fs.constants.R_OK);
  } catch {
    throw new UserError(`cannot read the key file ${key}`);
  }
  return {
    id: name ?? url.host,
    provider: 'ssh',
    ssh: { host: url.host, port: url.port, user: url.user, keyFile: key },
    address: url.host,
  };
}

export function registerHosts(program: Command): void {
  const hosts = program.command('hosts').description("the pool's Docker hosts: add, list, drain, remove");

  hosts
    .command('add')
    .description(
      'add a host: ssh://user@host[:port] --key FILE, netns (a new host on this machine), or local',
    )
    .argument('<target>', 'ssh://user@host[:port] | netns | local')
    .option('--key <file>', 'private key for ssh hosts')
    .option('--name <id>', 'host id in the pool (default: the address)')
    .option('--count <n>', 'netns: how many hosts to create', '1')
    .option('--prefix <name>', 'netns: name prefix of namespaces (letters/digits, up to 8)', 'berth')
    .option('--lan <a.b.c>', "netns: the hosts' /24 LAN", '10.213.1')
    .option('--max-hosts <n>', 'netns: most hosts provisioning may grow the pool to', '9')
    .option('--json', 'machine-readable output')
    .action(
      async (
        target: string,
        opts: {
          key?: string;
          name?: string;
          count: string;
          prefix: string;
          lan: string;
          maxHosts: string;
          json?: boolean;
        },
      ) => {
        setJsonMode(Boolean(opts.json));
        let added: HostView[];
        if (target === 'netns') {
          if (!/^[a-z][a-z0-9]{0,7}$/.test(opts.prefix))
            throw new UserError(`--prefix '${opts.prefix}' must be a letter then up to 7 letters or digits`);
          if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(opts.lan))
            throw new UserError(`--lan '${opts.lan}' must be the first three octets of a /24, like 10.213.1`);
          const count = parseCount(opts.count, '--count');
          const maxHosts = parseCount(opts.maxHosts, '--max-hosts');
          const session = await openSession({ autostart: true });
          added = await session.inventory.update(addNetnsHostsUpdate, {
            provider: { prefix: opts.prefix, lan: opts.lan, maxHosts },
            count,
          });
        } else {
          const connection: HostConnection =
            target === 'local'
              ? { id: opts.name ?? 'local', provider: 'local' }
              : sshConnection(target, opts.key, opts.name);
          const session = await openSession({ autostart: true });
          added = [await session.inventory.update(addHostUpdate, { connection })];
        }
        if (opts.json) return printJson(added);
        printHosts(added);
      },
    );

  hosts
    .command('configure')
    .description('how the pool watches its hosts: sensing interval and misses before a host is failed')
    .option(
      '--sense-every <duration>',
      `sensing interval (default ${DEFAULT_POOL_SETTINGS.sensorIntervalMs / 1000}s)`,
    )
    .option(
      '--failure-threshold <n>',
      `consecutive missed readings before a host is failed (default ${DEFAULT_POOL_SETTINGS.failureThreshold})`,
    )
    .option('--json', 'machine-readable output')
    .action(async (opts: { senseEvery?: string; failureThreshold?: string; json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const changes: { sensorIntervalMs?: number; failureThreshold?: number } = {};
      if (opts.senseEvery) changes.sensorIntervalMs = parseDuration(opts.senseEvery, '--sense-every');
      if (opts.failureThreshold)
        changes.failureThreshold = parseCount(opts.failureThreshold, '--failure-threshold');
      const session = await openSession({ autostart: true });
      const settings = await session.inventory.update(settingsUpdate, changes);
      if (opts.json) return printJson(settings);
      info(
        `hosts are sensed every ${settings.sensorIntervalMs} ms; failed after ${settings.failureThreshold} missed readings`,
      );
    });

  hosts
    .command('list')
    .description("the pool's hosts with their status and sensors")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      let list: HostView[];
      try {
        list = await session.inventory.hosts();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        list = [];
      }
      if (opts.json) return printJson(list);
      if (list.length === 0) return info('no pool yet: apps go to the local engine');
      printHosts(list);
    });

  hosts
    .command('drain')
    .description('stop placing on a host and move its containers to the others (the apps heal)')
    .argument('<host>', 'host id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      const drained = await session.inventory.update(drainHostUpdate, { id });
      if (opts.json) return printJson(drained);
      info(
        `host ${id} is draining` +
          (drained.apps.length
            ? `; healing ${drained.apps.join(', ')} onto the other hosts`
            : '; it ran nothing'),
      );
    });

  hosts
    .command('remove')
    .description('take a drained (or failed) host out of the pool; a netns host is deleted')
    .argument('<host>', 'host id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      setJsonMode(Boolean(opts.json));
      const session = await openSession({ autostart: false });
      const removed = await session.inventory.update(removeHostUpdate, { id });
      if (opts.json) return printJson(removed);
      info(`host ${id} removed`);
    });
}
