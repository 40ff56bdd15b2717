import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import type { HostConnection } from '../../core/hosts';
import { createDockerClient } from '../../adapters/docker';
import { createDockerPool, type DockerPool } from '../../adapters/docker-pool';
import { appContainersOn, containerLogLines, execInContainer, type AppContainer } from '../../adapters/logs';
import type { AppStateView } from '../../../workflows/api/app';
import { parseCount, parseDuration } from '../durations';
import { openSession, type Session } from '../session';

/**
 * `berth logs` and `berth exec`: reads and commands on an app's containers, from this machine, over
 * the engines the pool uses (`src/adapters/logs.ts`). Nothing goes through a workflow.
 */

/** Compose's palette: each instance keeps its colour for the command's life. */
const COLOURS = ['36', '33', '32', '35', '34', '96', '93', '92', '95', '94'];
/** How often `--follow` looks for containers a heal or a rollout started. */
const FOLLOW_POLL_MS = 1_000;

interface LogFlags {
  follow?: boolean;
  tail?: string;
  since?: string;
  timestamps?: boolean;
}

/** The engines of the pool (failed hosts left out), or the local one alone. */
async function poolHosts(session: Session): Promise<(HostConnection | undefined)[]> {
  const inventory = await session.inventory.state().catch(() => undefined);
  const hosts = inventory?.hosts.filter((h) => h.status !== 'failed').map((h) => h.connection) ?? [];
  return hosts.length > 0 ? hosts : [undefined];
}

/** `10m` (that long ago) or a date (`2026-12-06T10:00:00Z`), as Unix seconds. */
export function parseSince(text: string, now = Date.now()): number {
  const at = /^\d+(\.\d+)?(ms|s|m|h)$/.test(text.trim())
    ? now - parseDuration(text, '--since')
    : Date.parse(text);
  if (!Number.isFinite(at))
    throw new UserError(`--since: '${text}' is neither a duration (10m, 2h) nor a date`);
  return at / 1000;
}

/** Which containers a `SERVICE|INSTANCE` argument selects (all without one). */
function selector(state: AppStateView, target: string | undefined): (c: AppContainer) => boolean {
  if (!target) return () => true;
  const services = state.blueprint?.services.map((s) => s.id) ?? [];
  if (services.includes(target)) return (c) => c.service === target;
  const instances = [...new Set(state.instances.map((i) => i.instance))];
  if (instances.includes(target) || /-\d+$/.test(target)) return (c) => c.instance === target;
  throw new UserError(
    `app '${state.app}' has no service or instance '${target}' (services: ${services.join(', ') || 'none'}; instances: ${instances.join(', ') || 'none'})`,
  );
}

/** RFC 3339 with nanoseconds, as the engine writes it (trailing zeros dropped), in an order that sorts. */
function sortKey(at: string): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(at);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}` : at;
}

class LogPrinter {
  private readonly colourOf = new Map<string, string>();
  private width = 0;

  constructor(
    private readonly timestamps: boolean,
    private readonly colour: boolean,
  ) {}

  know(instances: string[]): void {
    for (const i of instances) {
      if (!this.colourOf.has(i)) this.colourOf.set(i, COLOURS[this.colourOf.size % COLOURS.length]);
      this.width = Math.max(this.width, i.length);
    }
  }

  print(instance: string, line: { at: string; text: string }): void {
    this.know([instance]);
    const name = instance.padEnd(this.width);
    const prefix = this.colour ? `\x1b[${this.colourOf.get(instance)}m${name} |\x1b[0m` : `${name} |`;
    process.stdout.write(`${prefix} ${this.timestamps ? `${line.at} ` : ''}${line.text}\n`);
  }
}

async function showLogs(session: Session, app: string, target: string | undefined, flags: LogFlags) {
  const state = await session.apps.requireState(app);
  const wanted = selector(state, target);
  const hosts = await poolHosts(session);
  const pool = createDockerPool(createDockerClient());
  const printer = new LogPrinter(
    Boolean(flags.timestamps),
    Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  );
  const options = {
    ...(flags.tail !== undefined ? { tail: flags.tail === 'all' ? undefined : parseTail(flags.tail) } : {}),
    ...(flags.since !== undefined ? { since: parseSince(flags.since) } : {}),
  };
  try {
    const containers = (await appContainersOn(pool, hosts, app)).filter(wanted);
    printer.know(containers.map((c) => c.instance));
    if (!flags.follow) return await printAll(pool, containers, options, printer);
    await follow(session, pool, hosts, app, wanted, containers, options, printer);
  } finally {
    await pool.close();
  }
}

function parseTail(text: string): number {
  return text === '0' ? 0 : parseCount(text, '--tail');
}

/** Every selected container's lines, merged in the order the engines stamped them. */
async function printAll(
  pool: DockerPool,
  containers: AppContainer[],
  options: { tail?: number; since?: number },
  printer: LogPrinter,
): Promise<void> {
  const lines: { instance: string; at: string; key: string; text: string }[] = [];
  await Promise.all(
    containers.map(async (c) =>
      containerLogLines(await pool.docker(c.host), c.id, { follow: false, ...options }, (l) =>
        lines.push({ instance: c.instance, at: l.at, key: sortKey(l.at), text: l.text }),
      ),
    ),
  );
  lines.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const l of lines) printer.print(l.instance, l);
}

/**
 * Streams every selected container, and every container that appears later (a heal's replacement,
 * a rollout's new instance), until interrupted or the app is destroyed. The loop is bounded by the
 * user (Ctrl-C), as `docker compose logs -f` is; each round is one listing per host.
 */
async function follow(
  session: Session,
  pool: DockerPool,
  hosts: (HostConnection | undefined)[],
  app: string,
  wanted: (c: AppContainer) => boolean,
  initial: AppContainer[],
  options: { tail?: number; since?: number },
  printer: LogPrinter,
): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const followed = new Set<string>();
  const streams: Promise<void>[] = [];
  const start = (c: AppContainer, first: boolean) => {
    followed.add(c.id);
    streams.push(
      pool
        .docker(c.host)
        .then((docker) =>
          containerLogLines(
            docker,
            c.id,
            { follow: true, ...(first ? options : {}) },
            (l) => printer.print(c.instance, l),
            abort.signal,
          ),
        )
        .catch(() => undefined), // a container removed under us ends its stream
    );
  };
  for (const c of initial) start(c, true);
  for (let round = 1; !abort.signal.aborted; round++) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    if (abort.signal.aborted) break;
    for (const c of (await appContainersOn(pool, hosts, app)).filter(wanted))
      if (!followed.has(c.id)) start(c, false);
    if (round % 5 === 0) {
      const state = await session.apps.state(app).catch(() => undefined);
      if (!state || state.phase === 'destroyed') abort.abort();
    }
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await Promise.all(streams);
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("print an app's container output, every instance on every host, prefixed by instance")
    .argument('<app>', 'app name')
    .argument('[target]', 'one service or one instance (default: all)')
    .option('-f, --follow', 'keep streaming, picking up containers a heal or a rollout starts')
    .option('--tail <n>', 'lines from the end of each container (or all)')
    .option('--since <time>', 'lines since a duration ago (10m, 2h) or a date')
    .option('-t, --timestamps', "show the engine's timestamps")
    .action(async (app: string, target: string | undefined, flags: LogFlags) => {
      const session = await openSession({ autostart: false });
      await showLogs(session, app, target, flags);
    });
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a command in an instance (exit code passed through; a TTY when stdin is one)')
    .argument('<app>', 'app name')
    .argument('<instance>', 'instance, e.g. web-1')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (app: string, instance: string, command: string[]) => {
      const session = await openSession({ autostart: false });
      const state = await session.apps.requireState(app);
      const pool = createDockerPool(createDockerClient());
      let code: number;
      try {
        const all = (await appContainersOn(pool, await poolHosts(session), app)).filter(
          (c) => c.instance === instance,
        );
        if (all.length === 0)
          throw new UserError(
            `app '${app}' has no instance '${instance}' (instances: ${state.instances.map((i) => i.instance).join(', ') || 'none'})`,
          );
        const running = all.filter((c) => c.state === 'running');
        // A replacement beside its instance (a start-first rollout) is the newer one: the instance's own comes first.
        const target = running[0];
        if (!target)
          throw new UserError(`instance '${instance}' of app '${app}' is not running (${all[0].state})`);
        const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
        code = await execInContainer(await pool.docker(target.host), target.id, command, {
          stdin: process.stdin,
          stdout: process.stdout,
          stderr: process.stderr,
          tty,
        });
      } finally {
        await pool.close();
      }
      process.exit(code);
    });
}
