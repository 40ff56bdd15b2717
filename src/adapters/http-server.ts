import * as http from 'http';
import type { AddressInfo } from 'net';
import { UserError } from '../core/errors';

/** What the codec server and the sensor endpoint share: bounded bodies, JSON answers, listening and closing. */

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

/** The request body as UTF-8; past `maxBytes` it rejects with BodyTooLargeError and drops the request. */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError(maxBytes));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Serves `handler` on `host:port`; a handler that throws answers a JSON 500 (or drops the connection
 * once headers went out). A listen failure is a UserError naming `what` and, for a port in use,
 * `portHint` (how to choose another).
 */
export async function listenJson(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
  options: { port: number; host: string; what: string; portHint: string },
): Promise<ListeningServer> {
  const { host, what } = options;
  const server = http.createServer((req, res) => {
    handler(req, res).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { message: err.message });
      else res.destroy();
    });
  });
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
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
