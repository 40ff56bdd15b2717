import * as http from 'http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { UserError } from '../core/errors';
import { berthCodec } from './codec';
import { BodyTooLargeError, listenJson, readBody, sendJson as send } from './http-server';

/**
 * Temporal's remote codec protocol, for the Web UI and `temporal workflow show --codec-endpoint`:
 * `POST /encode` and `POST /decode` with `{"payloads": [...]}` in proto3 JSON (base64 `data` and
 * metadata values), answered in the same shape. Loopback only; CORS lets the UI's origin call it.
 */
export interface CodecServerOptions {
  port: number;
  /** The Web UI's origin, e.g. `http://localhost:8233` (its 127.0.0.1/localhost twin is allowed too). */
  origin: string;
  /** Defaults to Berth's codec with this process's key. */
  codec?: PayloadCodec;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export function defaultCodecPort(): number {
  return Number(process.env.BERTH_CODEC_PORT ?? 8234);
}

function fromJson(p: JsonPayload): Payload {
  if (!p || typeof p !== 'object') throw new UserError('each payload must be an object');
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
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

export function codecRequestHandler(
  codec: PayloadCodec,
  origin: string,
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const origins = allowedOrigins(origin);
  return async (req, res) => {
    const from = req.headers.origin;
    if (from !== undefined) {
      // A browser page from another origin gets nothing (not even an answer to read).
      if (!origins.has(from)) return send(res, 403, { message: `origin ${from} is not allowed` });
      res.setHeader('Access-Control-Allow-Origin', from);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const route = (req.url ?? '').split('?')[0];
    if (route !== '/encode' && route !== '/decode') return send(res, 404, { message: 'not found' });
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
      return void res.end();
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      return send(res, 405, { message: 'use POST' });
    }
    // Requiring JSON makes every cross-origin browser request preflighted (and so checked above).
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
      return send(res, 415, { message: 'Content-Type must be application/json' });
    let body: { payloads?: unknown };
    try {
      body = JSON.parse(await readBody(req, MAX_BODY_BYTES)) as { payloads?: unknown };
    } catch (err) {
      const tooLarge = err instanceof BodyTooLargeError;
      return send(res, tooLarge ? 413 : 400, { message: tooLarge ? 'body too large' : 'body is not JSON' });
    }
    if (!body || !Array.isArray(body.payloads))
      return send(res, 400, { message: 'body must be {"payloads": [...]}' });
    try {
      const payloads = (body.payloads as JsonPayload[]).map(fromJson);
      const result = route === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      send(res, 200, { payloads: result.map(toJson) });
    } catch (err) {
      send(res, err instanceof UserError ? 400 : 500, { message: (err as Error).message });
    }
  };
}

/** Starts the codec server on 127.0.0.1 (`port` 0 picks a free one). */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { port, close } = await listenJson(
    codecRequestHandler(options.codec ?? berthCodec(), options.origin),
    {
      port: options.port,
      host: '127.0.0.1',
      what: 'codec server',
      portHint: '--port or BERTH_CODEC_PORT',
    },
  );
  return { url: `http://127.0.0.1:${port}`, close };
}
