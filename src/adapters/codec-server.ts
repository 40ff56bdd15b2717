import type * as http from 'http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { UserError } from '../core/errors';
import { berthCodec } from './codec';
import type { TokenVerifier } from './codec-auth';
import { BodyTooLargeError, isLoopbackHost, listenJson, readBody, sendJson as send } from './http-server';
import { bearerToken, loadLocalToken, sameToken } from './local-token';

/**
 * Temporal's remote codec protocol, for the Web UI and `temporal workflow show --codec-endpoint`:
 * `POST /encode` and `POST /decode` with `{"payloads": [...]}` in proto3 JSON (base64 `data` and
 * metadata values), answered in the same shape. Listens on 127.0.0.1 only.
 *
 * Who may use it (`access`):
 * - `local` (the embedded default): a browser page from the Web UI's origin (which cannot send a
 *   token), or a request with the local token. A request with another Origin, or with a Host that
 *   is not a loopback name (DNS rebinding), is refused before anything else.
 * - `bearer` (a real cluster, behind a TLS proxy): every request carries a bearer token that
 *   `verify` accepts — the user's access token the Web UI forwards, or a configured one.
 *
 * Bounded: 8 MiB of body and 1,000 payloads per request (413 beyond). Errors never quote keys,
 * key ids, paths or internal messages.
 */
export type CodecAccess =
  | { mode: 'local'; origin: string; token?: string }
  | { mode: 'bearer'; origin: string; verify: TokenVerifier };

export interface CodecServerOptions {
  port: number;
  access: CodecAccess;
  /** Defaults to Berth's codec with this process's key. */
  codec?: PayloadCodec;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

export const MAX_CODEC_BODY_BYTES = 8 * 1024 * 1024;
/** The Web UI and the CLI send the payloads of one event or result at a time: a handful. */
export const MAX_CODEC_PAYLOADS = 1000;

/** Standard or URL-safe base64, as proto3 JSON allows. */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function defaultCodecPort(): number {
  return Number(process.env.BERTH_CODEC_PORT ?? 8234);
}

/** A malformed request: 400 with this message (which names only the request's own parts). */
class BadRequest extends Error {}

function fromJson(p: unknown, n: number): Payload {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new BadRequest(`payload ${n} must be an object`);
  const { metadata, data } = p as { metadata?: unknown; data?: unknown };
  if (
    metadata !== undefined &&
    metadata !== null &&
    (typeof metadata !== 'object' || Array.isArray(metadata))
  )
    throw new BadRequest(`payload ${n}: metadata must be an object of base64 strings`);
  const entries = Object.entries((metadata ?? {}) as Record<string, unknown>);
  for (const [, v] of entries)
    if (typeof v !== 'string' || !BASE64.test(v))
      throw new BadRequest(`payload ${n}: metadata must be an object of base64 strings`);
  if (data !== undefined && data !== null && (typeof data !== 'string' || !BASE64.test(data)))
    throw new BadRequest(`payload ${n}: data must be a base64 string`);
  return {
    metadata: Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v as string, 'base64')])),
    data: Buffer.from((data as string | null | undefined) ?? '', 'base64'),
  };
}

function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

/** `http://localhost:8233` and `http://127.0.0.1:8233` are the same UI to a user. */
function allowedOrigins(origin: string): Set<string> {
  const trimmed = origin.replace(/\/+$/, '');
  const twins = [trimmed];
  if (trimmed.includes('//localhost')) twins.push(trimmed.replace('//localhost', '//127.0.0.1'));
  if (trimmed.includes('//127.0.0.1')) twins.push(trimmed.replace('//127.0.0.1', '//localhost'));
  return new Set(twins);
}

async function authorised(req: http.IncomingMessage, access: CodecAccess, fromUi: boolean): Promise<boolean> {
  const token = bearerToken(req);
  if (access.mode === 'local') return fromUi || sameToken(token, access.token ?? loadLocalToken());
  return token !== undefined && (await access.verify(token));
}

async function transform(codec: PayloadCodec, route: string, payloads: Payload[]): Promise<Payload[]> {
  if (route === '/encode') return codec.encode(payloads);
  const out: Payload[] = [];
  // One at a time, so a refusal can say which, and never why in the key's terms.
  for (const [i, payload] of payloads.entries()) {
    try {
      out.push(...(await codec.decode([payload])));
    } catch (err) {
      if (err instanceof UserError)
        throw new BadRequest(
          `payload ${i + 1} cannot be decrypted by this codec server (sealed with another key, altered or truncated)`,
        );
      throw err;
    }
  }
  return out;
}

export function codecRequestHandler(
  codec: PayloadCodec,
  access: CodecAccess,
): (req: http.IncomingMessage, res: http.ServerResponse, port: number) => Promise<void> {
  const origins = allowedOrigins(access.origin);
  return async (req, res, port) => {
    const from = req.headers.origin;
    // A browser page from another origin gets nothing (not even an answer to read).
    if (from !== undefined && !origins.has(from)) return send(res, 403, { message: 'origin not allowed' });
    if (access.mode === 'local' && !isLoopbackHost(req, port))
      return send(res, 403, { message: `the Host header must be localhost:${port} or 127.0.0.1:${port}` });
    if (from !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', from);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const route = (req.url ?? '').split('?')[0];
    if (req.method === 'OPTIONS' && (route === '/encode' || route === '/decode')) {
      // A preflight never carries credentials; the request that follows must.
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
      return void res.end();
    }
    if (!(await authorised(req, access, from !== undefined)))
      return send(res, 401, { message: 'a bearer token is required' }, { 'WWW-Authenticate': 'Bearer' });
    if (route !== '/encode' && route !== '/decode') return send(res, 404, { message: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { message: 'use POST' }, { Allow: 'POST, OPTIONS' });
    // Requiring JSON makes every cross-origin browser request preflighted (and so checked above).
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
      return send(res, 415, { message: 'Content-Type must be application/json' });
    try {
      let body: { payloads?: unknown };
      try {
        body = JSON.parse(await readBody(req, MAX_CODEC_BODY_BYTES)) as { payloads?: unknown };
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw err;
        throw new BadRequest('body is not JSON');
      }
      if (!body || !Array.isArray(body.payloads)) throw new BadRequest('body must be {"payloads": [...]}');
      if (body.payloads.length > MAX_CODEC_PAYLOADS)
        return send(res, 413, { message: `at most ${MAX_CODEC_PAYLOADS} payloads per request` });
      const payloads = body.payloads.map((p, i) => fromJson(p, i + 1));
      send(res, 200, { payloads: (await transform(codec, route, payloads)).map(toJson) });
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return send(res, 413, { message: `body over ${MAX_CODEC_BODY_BYTES / 1024 / 1024} MiB` });
      if (err instanceof BadRequest) return send(res, 400, { message: err.message });
      throw err; // listenJson answers 500 without the message
    }
  };
}

/** Starts the codec server on 127.0.0.1 (`port` 0 picks a free one). */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { port, close } = await listenJson(
    codecRequestHandler(options.codec ?? berthCodec(), options.access),
    {
      port: options.port,
      host: '127.0.0.1',
      what: 'codec server',
      portHint: '--port or BERTH_CODEC_PORT',
    },
  );
  return { url: `http://127.0.0.1:${port}`, close };
}
