/**
 * A blueprint's `update:` block (per service, and a blueprint-wide default) and how a service is
 * stopped (`stopSignal`, `stopGracePeriod`), read with located errors. What the values mean is
 * `../rollout.ts`.
 */
import type { UpdatePolicy } from '../rollout';
import { didYouMean } from './didyoumean';
import { MAX_REPLICAS } from './limits';
import { expected, readMap, readNumber, readUnit } from './read';
import { parseDuration } from './units';
import { report, textOf, type Ctx, type Entry } from './yaml';

export const UPDATE_KEYS = [
  'parallelism',
  'order',
  'minReady',
  'failureAction',
  'maxFailureRatio',
  'canary',
  'autoPromote',
  'drain',
] as const;

const ORDERS = ['stop-first', 'start-first'] as const;
const FAILURE_ACTIONS = ['rollback', 'pause', 'continue'] as const;

function oneOf<T extends string>(ctx: Ctx, e: Entry, where: string, allowed: readonly T[]): T | undefined {
  const text = textOf(e.value);
  if (text !== undefined && (allowed as readonly string[]).includes(text)) return text as T;
  expected(ctx, e, where, `one of ${allowed.join(', ')}`);
  return undefined;
}

/** `update: {parallelism: 2, order: start-first, minReady: 5s, failureAction: pause, canary: 1, ...}`. */
export function readUpdate(ctx: Ctx, e: Entry, where: string): Partial<UpdatePolicy> | undefined {
  const es = readMap(ctx, e, where, `a mapping with ${UPDATE_KEYS.join(', ')}`);
  if (!es) return undefined;
  const w = ` in 'update'${where}`;
  const out: Partial<UpdatePolicy> = {};
  const set = <K extends keyof UpdatePolicy>(k: K, v: UpdatePolicy[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  for (const u of es) {
    switch (u.key) {
      case 'parallelism':
        set('parallelism', readNumber(ctx, u, w, { integer: true, min: 1, max: MAX_REPLICAS }));
        break;
      case 'order':
        set('order', oneOf(ctx, u, w, ORDERS));
        break;
      case 'minReady':
        set('minReadyMs', readUnit(ctx, u, w, parseDuration));
        break;
      case 'failureAction':
        set('failureAction', oneOf(ctx, u, w, FAILURE_ACTIONS));
        break;
      case 'maxFailureRatio':
        set('maxFailureRatio', readNumber(ctx, u, w, { min: 0, max: 1 }));
        break;
      case 'canary':
        set('canary', readNumber(ctx, u, w, { integer: true, min: 0, max: MAX_REPLICAS }));
        break;
      case 'autoPromote':
        set('autoPromoteMs', readUnit(ctx, u, w, parseDuration));
        break;
      case 'drain':
        set('drainMs', readUnit(ctx, u, w, parseDuration));
        break;
      default:
        report(ctx, u.keyNode, `unknown key '${u.key}'${w}${didYouMean(u.key, UPDATE_KEYS)}`, u.key);
    }
  }
  const autoPromote = es.find((u) => u.key === 'autoPromote');
  if (autoPromote && out.autoPromoteMs !== undefined && !out.canary)
    report(ctx, autoPromote.keyNode, `key 'autoPromote'${w} needs 'canary' (1 or more)`, 'autoPromote');
  return out;
}

const SIGNALS = new Set([
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'PWR',
  'SYS',
]);

/** `SIGTERM`, `TERM`, `SIGRTMIN+3` or a number: as `docker run --stop-signal` takes it, named `SIG...`. */
export function readStopSignal(ctx: Ctx, e: Entry, where: string): string | undefined {
  const text = textOf(e.value)?.trim().toUpperCase();
  if (text !== undefined) {
    if (/^\d{1,2}$/.test(text) && Number(text) >= 1 && Number(text) <= 64) return text;
    const name = text.startsWith('SIG') ? text.slice(3) : text;
    if (SIGNALS.has(name) || /^RTMIN(\+\d{1,2})?$|^RTMAX(-\d{1,2})?$/.test(name)) return `SIG${name}`;
  }
  expected(ctx, e, where, 'a signal such as SIGTERM, SIGINT, SIGQUIT or its number');
  return undefined;
}

/** The grace period between the stop signal and SIGKILL (Docker's and compose's default: 10 s). */
export function readStopGracePeriod(ctx: Ctx, e: Entry, where: string): number | undefined {
  return readUnit(ctx, e, where, parseDuration);
}
