import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
const BERTH = path.join(ROOT, 'bin', 'berth');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (the compiled build, as a user would) and collects its output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BERTH, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `berth worker` (with `args`; `bin`: another install's bin/berth) and resolves once it says it is polling. */
export function startWorkerProcess(
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
  args: string[] = [],
  onOutput?: (output: string) => void,
  bin = BERTH,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'worker', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker did not start: ${output}`));
    }, timeoutMs);
    // BERTH_TEST_WORKER_LOG=FILE keeps every worker's output (to read after a failed run).
    const log = process.env.BERTH_TEST_WORKER_LOG;
    const onData = (d: Buffer) => {
      if (log) fs.appendFileSync(log, d);
      output += d;
      onOutput?.(output);
      if (output.includes('Berth worker polling')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}: ${output}`));
    });
  });
}

export async function stopProcess(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export function tempDir(stem: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `berth-${stem}-`));
}

/** A copy of a blueprint with a unique app id, so tests never touch a user's apps. */
export function blueprintCopy(source: string, app: string, dir: string): string {
  const text = fs.readFileSync(path.join(ROOT, source), 'utf8').replace(/^id:\s*\S+/m, `id: ${app}`);
  const file = path.join(dir, path.basename(source));
  fs.writeFileSync(file, text);
  return file;
}

/** A user-facing failure: exit 1, one line on stderr starting with `error:`, no stack. */
export function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

export interface WorkerFixture {
  /** Environment for `runCli`: the test server and this fixture's own task queue. */
  env: NodeJS.ProcessEnv;
  dir: string;
  /** Kills the worker with `signal` and starts a new one (a crash and a restart). */
  restart(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A `berth worker` process for one describe block: started in beforeAll against the run's dev
 * server on a task queue of its own, stopped (and its temp dir removed) in afterAll. The run's
 * BERTH_HOME (global-setup) is shared: one DNS server, one codec key.
 */
export function workerProcessFixture(stem: string, extraEnv: NodeJS.ProcessEnv = {}): WorkerFixture {
  const dir = tempDir(stem);
  const env: NodeJS.ProcessEnv = { BERTH_TASK_QUEUE: `test-${stem}-${process.pid}`, ...extraEnv };
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    env.TEMPORAL_ADDRESS = process.env.BERTH_TEST_TEMPORAL_ADDRESS;
    worker = await startWorkerProcess(env);
  });
  afterAll(async () => {
    await stopProcess(worker);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    env,
    dir,
    async restart(signal = 'SIGKILL') {
      await stopProcess(worker, signal);
      worker = await startWorkerProcess(env);
    },
  };
}
