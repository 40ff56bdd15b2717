import type Docker from 'dockerode';
import { StringDecoder } from 'string_decoder';
import { LABEL } from '../core/names';

/**
 * Failure detection on one engine: its event stream, filtered to Berth's containers. The stream
 * arrives in arbitrary chunks (one JSON object per line); a dropped stream is re-opened with `since`
 * = the last event's second, but the daemon replays only its last ~1000 events (of every kind), so
 * after a reconnect the caller is told (`onGap`) and re-lists what failed meanwhile (`relistFailed`).
 */

export type ContainerEventKind = 'die' | 'oom' | 'unhealthy' | 'healthy' | 'start' | 'destroy';

export interface ContainerEvent {
  kind: ContainerEventKind;
  id: string;
  app: string;
  service: string;
  instance: string;
  /** `die`: the main process's exit code. */
  exitCode?: number;
  /** Engine clock, ns since the epoch (a double: ~256 ns precision). */
  timeNano: number;
}

/** Actions subscribed to (`health_status` matches `health_status: healthy|unhealthy|starting`). */
export const WATCHED_ACTIONS = ['die', 'oom', 'health_status', 'start', 'destroy'];

const BERTH_CONTAINER_LABELS = [`${LABEL.managed}=true`, `${LABEL.kind}=container`];

/** Splits a stream of newline-delimited JSON into values, however the bytes are chunked. */
export class JsonLines {
  private readonly decoder = new StringDecoder('utf8');
  private buffered = '';
  /** Lines that were not JSON (skipped). */
  malformed = 0;

  push(chunk: Buffer | string): unknown[] {
    this.buffered += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        this.malformed++;
      }
    }
    return out;
  }
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** A daemon event as a ContainerEvent (undefined: not a Berth container, or an action not watched). */
export function toContainerEvent(raw: unknown): ContainerEvent | undefined {
  const e = raw as RawEvent;
  if (!e || typeof e !== 'object' || (e.Type && e.Type !== 'container')) return undefined;
  const action = e.Action ?? e.status ?? '';
  let kind: ContainerEventKind;
  if (action === 'health_status: unhealthy') kind = 'unhealthy';
  else if (action === 'health_status: healthy') kind = 'healthy';
  else if (action === 'die' || action === 'oom' || action === 'start' || action === 'destroy') kind = action;
  else return undefined;
  const attrs = e.Actor?.Attributes ?? {};
  const id = e.Actor?.ID ?? e.id;
  const app = attrs[LABEL.app];
  if (!id || !app) return undefined;
  const timeNano = typeof e.timeNano === 'number' ? e.timeNano : (e.time ?? 0) * 1e9;
  const exitCode = attrs.exitCode !== undefined ? Number(attrs.exitCode) : undefined;
  return {
    kind,
    id,
    app,
    service: attrs[LABEL.service] ?? '',
    instance: attrs[LABEL.instance] ?? '',
    ...(exitCode !== undefined && Number.isFinite(exitCode) ? { exitCode } : {}),
    timeNano,
  };
}

/** A client, or a way to get one (a pool's: after an SSH host reconnects, the old client is dead). */
export type DockerSource = Docker | (() => Promise<Docker>);

export interface WatchOptions {
  /** Unix seconds (engine clock): replay events from then on (the daemon keeps its last ~1000). */
  since?: number;
  /** Aborting it ends the watch: `watchContainerEvents` then resolves. */
  signal: AbortSignal;
  /** Awaited event by event, in order; a throw ends the watch with that error. */
  onEvent: (e: ContainerEvent) => void | Promise<void>;
  /** After a reconnect, once the new stream is open: events in [fromS, toS] may have been lost. */
  onGap?: (gap: { fromS: number; toS: number }) => Promise<void>;
  /** Call `onGap` after the first connection too (a caller that re-lists on start). */
  gapOnFirstConnect?: boolean;
  /** Each time a stream opens (tests use it to break the stream). */
  onConnected?: (info: { stream: NodeJS.ReadableStream; reconnect: boolean }) => void;
  /** Consecutive failed (or under 5 s) connections before giving up with an error. Default 10. */
  maxReconnects?: number;
  /** Pause before each reconnect. Default 1000. */
  reconnectDelayMs?: number;
}

export interface WatchResult {
  /** Second (engine clock) of the last event delivered, else `since` or when the watch began. */
  lastEventS?: number;
  delivered: number;
  reconnects: number;
}

/** A connection that lasted this long (or delivered an event) resets the failure count. */
const HEALTHY_CONNECTION_MS = 5_000;

class HandlerError extends Error {
  constructor(readonly inner: unknown) {
    super('handler failed');
  }
}

/**
 * Follows the engine's container events (Berth containers only) until `signal` aborts, reconnecting
 * when the stream ends or fails. Events are delivered once even when a reconnect replays the
 * second the last one happened in.
 */
export async function watchContainerEvents(source: DockerSource, opts: WatchOptions): Promise<WatchResult> {
  const { signal } = opts;
  const maxReconnects = opts.maxReconnects ?? 10;
  const delayMs = opts.reconnectDelayMs ?? 1_000;
  let cursorS = opts.since;
  // Keys of the events delivered in second `cursorS` (a replay from that second repeats them).
  const seen = new Set<string>();
  let delivered = 0;
  let reconnects = 0;
  let failures = 0;
  let connectedBefore = false;
  let lastError: unknown;

  while (!signal.aborted) {
    if (connectedBefore || failures > 0) {
      if (failures > maxReconnects) {
        const why = (lastError as Error)?.message ?? String(lastError);
        throw new Error(`event stream failed ${failures} times in a row: ${why}`);
      }
      await abortableSleep(delayMs, signal);
      if (signal.aborted) break;
      reconnects++;
    }
    const connection = new AbortController();
    const stop = () => connection.abort();
    signal.addEventListener('abort', stop, { once: true });
    let stream: NodeJS.ReadableStream | undefined;
    const openedAt = Date.now();
    let deliveredHere = 0;
    try {
      const docker = typeof source === 'function' ? await source() : source;
      stream = await docker.getEvents({
        filters: { type: ['container'], label: BERTH_CONTAINER_LABELS, event: WATCHED_ACTIONS },
        ...(cursorS !== undefined ? { since: cursorS } : {}),
        abortSignal: connection.signal,
      });
      // Without a cursor, the engine's own clock (the response's Date) is where a replay would start.
      if (cursorS === undefined) cursorS = engineSecond(stream) ?? Math.floor(Date.now() / 1000);
      const reconnect = connectedBefore;
      connectedBefore = true;
      opts.onConnected?.({ stream, reconnect });
      if ((reconnect || opts.gapOnFirstConnect) && opts.onGap) {
        try {
          await opts.onGap({ fromS: cursorS, toS: Math.ceil(Date.now() / 1000) });
        } catch (err) {
          throw new HandlerError(err);
        }
      }
      const lines = new JsonLines();
      for await (const chunk of stream as AsyncIterable<Buffer | string>) {
        for (const raw of lines.push(chunk)) {
          const e = toContainerEvent(raw);
          if (!e) continue;
          const second = Math.floor(e.timeNano / 1e9);
          const key = `${e.id}|${(raw as RawEvent).Action ?? e.kind}|${e.timeNano}`;
          if (cursorS !== undefined && second < cursorS) continue;
          if (second === cursorS && seen.has(key)) continue;
          if (second !== cursorS) seen.clear();
          cursorS = second;
          seen.add(key);
          try {
            await opts.onEvent(e);
          } catch (err) {
            throw new HandlerError(err);
          }
          delivered++;
          deliveredHere++;
        }
      }
      lastError = new Error('the engine closed the event stream');
    } catch (err) {
      if (err instanceof HandlerError) throw err.inner;
      if (signal.aborted) break;
      lastError = err;
    } finally {
      signal.removeEventListener('abort', stop);
      destroy(stream);
    }
    const healthy = deliveredHere > 0 || Date.now() - openedAt >= HEALTHY_CONNECTION_MS;
    failures = healthy ? 1 : failures + 1;
  }
  return { ...(cursorS !== undefined ? { lastEventS: cursorS } : {}), delivered, reconnects };
}

function engineSecond(stream: NodeJS.ReadableStream): number | undefined {
  const date = (stream as { headers?: Record<string, string | undefined> }).headers?.date;
  const ms = date ? Date.parse(date) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

function destroy(stream: NodeJS.ReadableStream | undefined): void {
  const s = stream as { destroy?: () => void } | undefined;
  try {
    s?.destroy?.();
  } catch {
    // already gone
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function parseMs(iso: string | undefined): number | undefined {
  const ms = iso ? Date.parse(iso) : NaN;
  // Docker's zero time (0001-01-01) means "never".
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * When a container failed, from its inspection, so a live event and a later re-list name the same
 * failure with the same time: `die` → `State.FinishedAt`; `unhealthy` → the end of the first
 * failing check of the current streak while the health log (5 entries) still holds it, else
 * `State.StartedAt`; otherwise (or when unknown) `fallbackMs`.
 */
export function failureTimeMs(
  info: Docker.ContainerInspectInfo,
  kind: ContainerEventKind,
  fallbackMs: number,
): number {
  const state = info.State;
  if (kind === 'die') return parseMs(state?.FinishedAt) ?? fallbackMs;
  if (kind === 'unhealthy') {
    const health = state?.Health;
    const log = health?.Log ?? [];
    const streak = health?.FailingStreak ?? 0;
    const first = streak > 0 && streak <= log.length ? log[log.length - streak] : undefined;
    return parseMs(first?.End) ?? parseMs(state?.StartedAt) ?? fallbackMs;
  }
  return fallbackMs;
}

/** A die event's time within this of `State.FinishedAt` is that exit (not a later one). */
const SAME_EXIT_MS = 5_000;

/**
 * The time (ms, engine clock) and exit code of a failure event, normalised through an inspection
 * (see `failureTimeMs`); a container already removed keeps the event's own time.
 */
export async function settleFailure(
  docker: Docker,
  e: ContainerEvent,
): Promise<{ atMs: number; exitCode?: number }> {
  const eventMs = Math.round(e.timeNano / 1e6);
  if (e.kind !== 'die' && e.kind !== 'unhealthy') return { atMs: eventMs, ...exitOf(e.exitCode) };
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(e.id).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return { atMs: eventMs, ...exitOf(e.exitCode) };
    throw err;
  }
  const atMs = failureTimeMs(info, e.kind, eventMs);
  const close = Math.abs(atMs - eventMs) <= SAME_EXIT_MS;
  return { atMs: close ? atMs : eventMs, ...exitOf(e.exitCode) };
}

function exitOf(code: number | undefined): { exitCode?: number } {
  return code !== undefined ? { exitCode: code } : {};
}

/**
 * Berth containers (of `app`, or all) that are stopped (`exited`, `dead`: kind `die`) or running
 * but unhealthy (kind `unhealthy`), as events timed like the live ones (`failureTimeMs`). Used
 * after a gap in the event stream. Containers removed meanwhile are left out.
 */
export async function relistFailed(docker: Docker, app?: string): Promise<ContainerEvent[]> {
  const label = [...BERTH_CONTAINER_LABELS, ...(app ? [`${LABEL.app}=${app}`] : [])];
  const [stopped, unhealthy] = await Promise.all([
    docker.listContainers({ all: true, filters: { label, status: ['exited', 'dead'] } }),
    docker.listContainers({ filters: { label, health: ['unhealthy'] } }),
  ]);
  const candidates: { info: Docker.ContainerInfo; kind: 'die' | 'unhealthy' }[] = [
    ...stopped.map((info) => ({ info, kind: 'die' as const })),
    ...unhealthy.map((info) => ({ info, kind: 'unhealthy' as const })),
  ];
  const out: ContainerEvent[] = [];
  for (let i = 0; i < candidates.length; i += 8) {
    const batch = await Promise.all(
      candidates.slice(i, i + 8).map(async ({ info, kind }): Promise<ContainerEvent | undefined> => {
        let inspected: Docker.ContainerInspectInfo;
        try {
          inspected = await docker.getContainer(info.Id).inspect();
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 404) return undefined;
          throw err;
        }
        const labels = info.Labels ?? {};
        const exitCode = kind === 'die' ? (inspected.State?.ExitCode ?? exitCodeOf(info.Status)) : undefined;
        return {
          kind,
          id: info.Id,
          app: labels[LABEL.app] ?? '',
          service: labels[LABEL.service] ?? '',
          instance: labels[LABEL.instance] ?? '',
          ...exitOf(exitCode),
          timeNano: failureTimeMs(inspected, kind, Date.now()) * 1e6,
        };
      }),
    );
    for (const e of batch) if (e && e.app) out.push(e);
  }
  return out;
}

/** `Exited (137) 5 minutes ago` → 137. */
function exitCodeOf(status: string | undefined): number | undefined {
  const m = /\((-?\d+)\)/.exec(status ?? '');
  return m ? Number(m[1]) : undefined;
}
