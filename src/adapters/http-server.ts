import * as http from 'http';
import type { AddressInfo } from 'net';
import { UserError } from '../core/errors';

/**
 * What the codec server and the sensor endpoint share: bounded bodies (413, not a reset), JSON
 * answers, the loopback Host check, bounded connections and request times, listening and closing.
 */

export interface ListeningServer {
  /** The port bound (the one asked for, or a free one for 0). */
  port: number;
  /** Stops accepting and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body too large (more than ${maxBytes} bytes)`);
  }
}

/** Past this much discarded body, a request is dropped instead of answered 413. */
const MAX_DRAINED_BYTES = 256 * 1024 * 1024;

/**
 * The request body as UTF-8. Past `maxBytes` it stops keeping the body but still reads it to the
 * end (up to MAX_DRAINED_BYTES) and then rejects with BodyTooLargeError: answering while the client
 * is still sending would make the kernel reset the connection, and the client would never see 413.
 */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAINED_BYTES) req.destroy();
      else if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () =>
      size > maxBytes
        ? reject(new BodyTooLargeError(maxBytes))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new BodyTooLargeError(maxBytes));
    });
  });
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Whether the Host header names this listener by a loopback name (`127.0.0.1`, `localhost` or
 * `[::1]`, with its port). Any other name means a browser was sent here by DNS rebinding.
 */
export function isLoopbackHost(req: http.IncomingMessage, port: number): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host);
}

/**
 * Serves `handler` on `host:port`; a handler that throws answers a JSON 500 without its message
 * (logged to stderr instead), or drops the connection once headers went out. A listen failure is a
 * UserError naming `what` and, for a port in use, `portHint` (how to choose another).
 */
export async function listenJson(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, port: number) => Promise<void>,
  options: { port: number; host: string; what: string; portHint: string },
): Promise<ListeningServer> {
  const { host, what } = options;
  let port = options.port;
  const server = http.createServer((req, res) => {
    handler(req, res, port).catch((err: Error) => {
      console.error(`${what}: ${err.message.split('\n')[0]}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'internal error' });
      else res.destroy();
    });
  });
  // Bounds on what slow or many clients can hold: a request has 30 s, its headers 10 s.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          err.code === 'EADDRINUSE'
            ? `${what}: port ${options.port} on ${host} is in use (choose another with ${options.portHint})`
            : `${what}: ${err.message}`,
        ),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
