/**
 * A Berth of its own on netns hosts, for the benches that break hosts (`chaos`, `failover`): a
 * temporary BERTH_HOME, a Temporal dev server and a `berth worker` as separate processes (so either
 * can be killed and started again), a pool of netns hosts added through the CLI, and direct access
 * to each host's engine socket (the bench's view of the truth, beside Berth's). `close()` removes
 * everything it made: apps, worker, server, hosts, home.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Docker from 'dockerode';
import type { Client } from '@temporalio/client';
import { AppClient } from '../src/clients/app';
import { InventoryClient } from '../src/clients/inventory';
import { connectClient, temporalTarget } from '../src/adapters/temporal';
import { findTemporalCli } from '../src/adapters/temporal-cli';
import { devServerArgs } from '../src/runtime/dev-server';
import {
  createNetnsHost,
  cutNetnsHost,
  destroyAllNetnsHosts,
  ensureBerthSshKey,
  killNetnsDockerd,
  netnsHostSocket,
  restoreNetnsHost,
  stopNetnsDocker,
} from '../src/adapters/netns';
import { swarmLeader } from '../src/adapters/provision';
import type { HostView } from '../workflows/api/inventory';
import type { AppStateView } from '../workflows/api/app';
import { BERTH, ROOT, tcpAnswers } from './support';
import { writeWorkflowId } from '../scripts/workflow-ids';

export interface RigOptions {
  /** Netns prefix (^[a-z][a-z0-9]{0,7}$) and LAN (`10.213.x`) of the hosts. */
  prefix: string;
  lan: string;
  hosts: number;
  /** Temporal dev server port (its UI is off). */
  temporalPort: number;
  /** How often hosts are sensed, and after how many misses one fails. */
  senseEveryMs: number;
  failureThreshold: number;
  /** Says what is going on (stderr: stdout is for the JSON). */
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last `n` lines of a file, for the reason a process died. */
export function lastLines(file: string, n = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

export class PoolRig {
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly taskQueue = 'bench';
  private server?: ChildProcess;
  private worker?: ChildProcess;
  private client?: Client;
  apps!: AppClient;
  inventory!: InventoryClient;
  /** Host id → netns index. */
  readonly hostIndex = new Map<string, number>();
  private readonly dockers = new Map<string, Docker>();
  private closed = false;

  constructor(readonly options: RigOptions) {
    // Found while BERTH_HOME is still the user's: the build scripts/setup.sh made is in ~/.berth/bin.
    const temporalCli = process.env.BERTH_TEMPORAL_CLI ?? findTemporalCli();
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${options.prefix}-`));
    this.env = {
      ...process.env,
      BERTH_HOME: this.home,
      BERTH_TEMPORAL_CLI: temporalCli,
      TEMPORAL_ADDRESS: `127.0.0.1:${options.temporalPort}`,
      BERTH_TASK_QUEUE: this.taskQueue,
      // The DNS server is not used across hosts, but a converge may still ask for its network.
      BERTH_DNS_NETWORK: `berth-dns-${options.prefix}`,
      BERTH_DNS_SUBNET: `10.207.${(options.temporalPort % 200) + 20}.0/24`,
    };
  }

  private get serverLog(): string {
    return path.join(this.home, 'temporal.log');
  }

  get workerLog(): string {
    return path.join(this.home, 'worker.log');
  }

  /** Server, worker, client, and the pool's hosts (sensed every `senseEveryMs`). */
  async start(): Promise<void> {
    const { options } = this;
    await destroyAllNetnsHosts(options.prefix);
    await this.startServer();
    await this.startWorker();
    Object.assign(process.env, {
      BERTH_HOME: this.home,
      TEMPORAL_ADDRESS: this.env.TEMPORAL_ADDRESS,
      BERTH_TASK_QUEUE: this.taskQueue,
    });
    const target = temporalTarget();
    this.client = await connectClient(target);
    this.apps = new AppClient(this.client, this.taskQueue);
    this.inventory = new InventoryClient(this.client, this.taskQueue);
    options.log(`adding ${options.hosts} netns hosts (${options.prefix}, ${options.lan}.0/24)`);
    const added = JSON.parse(
      this.cli([
        'hosts',
        'add',
        'netns',
        '--count',
        String(options.hosts),
        '--prefix',
        options.prefix,
        '--lan',
        options.lan,
        '--max-hosts',
        String(options.hosts),
        '--json',
      ]),
    ) as HostView[];
    added.forEach((h, i) => this.hostIndex.set(h.id, i + 1));
    this.cli([
      'hosts',
      'configure',
      '--sense-every',
      `${options.senseEveryMs}ms`,
      '--failure-threshold',
      String(options.failureThreshold),
    ]);
  }

  /** `berth ARGS` against this rig: its stdout, or an error with what it said. */
  cli(args: string[], timeoutMs = 300_000): string {
    const r = spawnSync(process.execPath, [BERTH, ...args], {
      env: this.env,
      encoding: 'utf8',
      cwd: ROOT,
      timeout: timeoutMs,
    });
    if (r.status !== 0)
      throw new Error(
        `berth ${args.slice(0, 2).join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`,
      );
    return r.stdout;
  }

  /**
   * Deploys blueprints (text) through the CLI, all at once (each `berth deploy` a process of its
   * own); fails with what the first failed one said. Their containers go with the hosts (`close()`).
   */
  async deploy(blueprints: Record<string, string>): Promise<void> {
    const runs = Object.entries(blueprints).map(([app, text]) => {
      const file = path.join(this.home, `${app}.yaml`);
      fs.writeFileSync(file, text);
      return new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [BERTH, 'deploy', file, '--json'], {
          env: this.env,
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`berth deploy ${app} failed (${code}): ${stderr.trim()}`));
        });
      });
    });
    await Promise.all(runs);
  }

  // ---- processes --------------------------------------------------------------------------------

  async startServer(): Promise<void> {
    const { temporalPort } = this.options;
    const args = [
      ...devServerArgs(path.join(this.home, 'temporal.db'), temporalPort, temporalPort + 1000),
      '--headless',
    ];
    const log = fs.openSync(this.serverLog, 'a');
    this.server = spawn(this.env.BERTH_TEMPORAL_CLI!, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    for (let i = 0; i < 240; i++) {
      if (this.server.exitCode !== null) break;
      if (await tcpAnswers(temporalPort)) return;
      await sleep(250);
    }
    throw new Error(`the Temporal dev server did not start; its log ends:\n${lastLines(this.serverLog)}`);
  }

  /** kill -9 of the dev server (its SQLite file keeps every workflow), then a new one on the same file. */
  async restartServer(): Promise<void> {
    await kill(this.server, 'SIGKILL');
    await this.startServer();
  }

  async startWorker(): Promise<void> {
    const log = fs.openSync(this.workerLog, 'a');
    const worker = spawn(process.execPath, [BERTH, 'worker'], { env: this.env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.worker = worker;
    for (let i = 0; i < 240; i++) {
      if (worker.exitCode !== null) break;
      if (/Berth worker polling/.test(lastLines(this.workerLog, 5))) return;
      await sleep(250);
    }
    throw new Error(`the Berth worker did not start; its log ends:\n${lastLines(this.workerLog)}`);
  }

  /** kill -9 of the worker (a crash), then a new one. */
  async restartWorker(): Promise<void> {
    await kill(this.worker, 'SIGKILL');
    await this.startWorker();
  }

  // ---- hosts ------------------------------------------------------------------------------------

  /** The host's engine, straight through its socket on this machine (no SSH, no Berth). */
  docker(hostId: string): Docker {
    let d = this.dockers.get(hostId);
    if (!d) {
      d = new Docker({
        socketPath: netnsHostSocket(this.options.prefix, this.index(hostId)),
        timeout: 10_000,
      });
      this.dockers.set(hostId, d);
    }
    return d;
  }

  index(hostId: string): number {
    const i = this.hostIndex.get(hostId);
    if (i === undefined) throw new Error(`no netns host ${hostId}`);
    return i;
  }

  async hosts(): Promise<HostView[]> {
    return this.inventory.hosts();
  }

  /** The swarm's leader, asked of each ready host's engine until one knows. */
  async leader(): Promise<string | undefined> {
    for (const h of await this.hosts().catch(() => [] as HostView[])) {
      if (h.status === 'failed') continue;
      const leader = await swarmLeader(this.docker(h.id)).catch(() => undefined);
      if (leader) return leader;
    }
    return undefined;
  }

  async appState(app: string): Promise<AppStateView | undefined> {
    return this.apps.state(app);
  }

  killDockerd(hostId: string): Promise<void> {
    return killNetnsDockerd(this.options.prefix, this.index(hostId));
  }

  stopEngine(hostId: string): Promise<void> {
    return stopNetnsDocker(this.options.prefix, this.index(hostId));
  }

  cut(hostId: string): Promise<void> {
    return cutNetnsHost(this.options.prefix, this.index(hostId));
  }

  restore(hostId: string): Promise<void> {
    return restoreNetnsHost(this.options.prefix, this.index(hostId));
  }

  /** Starts a host's engine again (after a kill or a stop), as its init system would. */
  async startEngine(hostId: string): Promise<void> {
    const key = await ensureBerthSshKey(this.home);
    await createNetnsHost({
      prefix: this.options.prefix,
      index: this.index(hostId),
      lan: this.options.lan,
      publicKeyFile: key.publicKeyFile,
    });
  }

  /**
   * Copies every workflow's history (JSON, as `temporal workflow show` prints it; payloads stay
   * sealed, events and times are readable) into `dir`, for a post-mortem of a failed run.
   */
  dumpHistories(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const temporal = (args: string[]) =>
      spawnSync(
        this.env.BERTH_TEMPORAL_CLI!,
        [...args, '--address', this.env.TEMPORAL_ADDRESS!, '--output', 'json'],
        {
          encoding: 'utf8',
          timeout: 60_000,
          maxBuffer: 256 * 1024 * 1024,
        },
      ).stdout;
    const listed = JSON.parse(temporal(['workflow', 'list', '--limit', '500']) || '[]') as {
      execution: { workflowId: string; runId: string };
    }[];
    for (const w of listed) {
      const out = temporal([
        'workflow',
        'show',
        '--workflow-id',
        w.execution.workflowId,
        '--run-id',
        w.execution.runId,
      ]);
      fs.writeFileSync(
        path.join(dir, `${w.execution.workflowId}.${w.execution.runId.slice(0, 8)}.json`),
        out,
      );
    }
    fs.copyFileSync(this.workerLog, path.join(dir, 'worker.log'));
  }

  /**
   * Saves one workflow's history as `<dir>/<name>.json` and its ID in `workflow-ids.txt`, the
   * replay fixtures' format (test/workflow/replay.test.ts); payloads stay sealed with the rig's key.
   */
  saveHistory(dir: string, name: string, workflowId: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const shown = spawnSync(
      this.env.BERTH_TEMPORAL_CLI!,
      ['workflow', 'show', '--address', this.env.TEMPORAL_ADDRESS!, '-w', workflowId, '-o', 'json'],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
    );
    if (shown.status !== 0) throw new Error(`no history of ${workflowId}: ${shown.stderr.trim()}`);
    fs.writeFileSync(path.join(dir, `${name}.json`), shown.stdout);
    writeWorkflowId(dir, `${name}.json`, workflowId);
  }

  /** On SIGINT/SIGTERM: everything this rig made is removed, then the process exits (130). */
  closeOnSignals(): void {
    const stop = () => {
      this.options.log('interrupted: cleaning up');
      void this.close().finally(() => process.exit(130));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }

  /** Everything this rig made; safe to call twice and after a failed start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The apps' containers are removed with the hosts' engines (no destroy each: minutes on a loaded machine).
    await this.client?.connection.close().catch(() => undefined);
    await kill(this.worker, 'SIGTERM');
    await kill(this.server, 'SIGTERM');
    await destroyAllNetnsHosts(this.options.prefix).catch((err: Error) =>
      this.options.log(`removing the netns hosts: ${err.message}`),
    );
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** Stops a child (bounded: SIGKILL after 10 s) and waits for it to be gone. */
async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
