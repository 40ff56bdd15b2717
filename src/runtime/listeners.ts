import { spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
import type { Client } from '@temporalio/client';
import { UserError } from '../core/errors';
import { startCodecServer, type CodecServer } from '../adapters/codec-server';
import { startSensorServer, type SensorServer } from '../adapters/sensor-http';
import { projectRoot } from '../adapters/paths';
import { connectClient, temporalTarget } from '../adapters/temporal';

/**
 * Berth's HTTP listeners — the codec server for the Web UI and the sensor endpoint — run in a
 * child process of `berth server` and `berth worker` (the hidden `berth listeners`): a flood of
 * requests then costs that process its CPU and memory, never the worker's event loop, where
 * activities run and heartbeat. The child exits when its parent's pipe to it closes, so it never
 * outlives a parent that was killed.
 */
export interface ListenersConfig {
  codec?: { port: number; origin: string };
  sensor?: { port: number };
}

/** What the child prints, as one JSON line, once it listens. */
export interface ListenersReady {
  pid: number;
  codec?: string;
  sensor?: string;
  /** Listeners that could not start (a port in use...): the parent warns and goes on without them. */
  errors: string[];
}

export interface Listeners extends ListenersReady {
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

export function spawnListeners(config: ListenersConfig): Promise<Listeners> {
  const bin = path.join(projectRoot(), 'bin', 'berth');
  const child = spawn(process.execPath, [bin, 'listeners', JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new UserError(`the HTTP listeners did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve({ ...(JSON.parse(line) as ListenersReady), stop });
      } catch {
        void stop();
        reject(new UserError(`the HTTP listeners said something unexpected: ${line.slice(0, 200)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new UserError(`the HTTP listeners exited (code ${code}) before they listened`));
    });
  });
}

/** The Temporal client, connected on first use and again after a failure (the server may start later). */
function lazyClient(): () => Promise<Client> {
  let client: Promise<Client> | undefined;
  return () => {
    client ??= connectClient(temporalTarget()).catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    return client;
  };
}

/** The child's side: listen, say so on stdout, and stop when stdin closes or on a signal. */
export async function runListeners(config: ListenersConfig): Promise<void> {
  const errors: string[] = [];
  const failed = (err: Error): undefined => void errors.push(err.message);
  const codec: CodecServer | undefined = config.codec
    ? await startCodecServer({
        port: config.codec.port,
        access: { mode: 'local', origin: config.codec.origin },
      }).catch(failed)
    : undefined;
  const sensor: SensorServer | undefined = config.sensor
    ? await startSensorServer({ port: config.sensor.port, client: lazyClient() }).catch(failed)
    : undefined;
  const ready: ListenersReady = { pid: process.pid, codec: codec?.url, sensor: sensor?.url, errors };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve).once('close', resolve).resume();
    process.once('SIGTERM', resolve).once('SIGINT', resolve);
  });
  await Promise.all([codec?.close(), sensor?.close()]);
  process.exit(0);
}
