import type * as http from 'http';
import type { Client } from '@temporalio/client';
import { RateLimiter, type RateLimit } from '../core/rate-limit';
import { isPlainDecimal, SENSOR_VALUE_EXPECTED, sensorTargetProblem } from '../core/sensors';
import { BodyTooLargeError, isLoopbackHost, listenJson, readBody, sendJson as send } from './http-server';
import { bearerToken, loadLocalToken, localTokenFile, sameToken } from './local-token';
import { BadSensorValueError, PolicyNotFoundError, parseSensorValue, pushMetric } from '../clients/policies';

/**
 * The HTTP sensor endpoint: `POST /v1/sensors/{app}/{service}/{name}` with a number as the body
 * (`42.5`, or JSON `{"value": 42.5}`) and `Authorization: Bearer <local token>` signals that value
 * to the app's autoscaler policy, as `berth sensor` does. In this order: 403 for a request with an
 * `Origin` (a browser: web pages may not resize services) or a Host that is not a loopback name
 * with this port (DNS rebinding); 401 without the token; 404/405 for another route or method; 400
 * for a bad name; 429 past the rate of its app/service; 413 for a body over 1 KiB; 400 for a value
 * that is not a plain decimal; 404 when the service has no autoscaler; else 202.
 */

export interface SensorServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024;
const ROUTE = /^\/v1\/sensors\/([^/]+)\/([^/]+)\/([^/]+)\/?$/;

/** Per app/service: 20 at once, then 5 a second (an autoscaler reads the latest value each poll). */
export const SENSOR_RATE_LIMIT: RateLimit = { perSecond: 5, burst: 20 };

export function defaultSensorPort(): number {
  return Number(process.env.BERTH_SENSOR_PORT ?? 8235);
}

/** `42`, `"42"`, `{"value": 42}` → 42; anything else is a 400 with what was wrong. */
export function sensorValueOf(body: string): number {
  const text = body.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BadSensorValueError('body is not valid JSON: send a number, or {"value": <number>}');
    }
    const value = (parsed as { value?: unknown }).value;
    if (typeof value !== 'number' || !isPlainDecimal(value))
      throw new BadSensorValueError(
        `"value" must be ${SENSOR_VALUE_EXPECTED}, got ${JSON.stringify(value)?.slice(0, 40) ?? 'nothing'}`,
      );
    return value;
  }
  return parseSensorValue(text.replace(/^"(.*)"$/, '$1'));
}

function segment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadSensorValueError('bad percent-encoding in the path');
  }
}

export interface SensorOptions {
  /** The Temporal client, connected on first use (the endpoint may start before the server). */
  client: () => Promise<Client>;
  token?: string;
  rate?: RateLimit;
}

export function sensorRequestHandler(
  options: SensorOptions,
): (req: http.IncomingMessage, res: http.ServerResponse, port: number) => Promise<void> {
  const token = options.token ?? loadLocalToken();
  const limiter = new RateLimiter(options.rate ?? SENSOR_RATE_LIMIT);
  return async (req, res, port) => {
    if (req.headers.origin !== undefined)
      return send(res, 403, { message: 'requests from web pages (with an Origin header) are refused' });
    if (!isLoopbackHost(req, port))
      return send(res, 403, {
        message: `the Host header must be 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`,
      });
    if (!sameToken(bearerToken(req), token))
      return send(
        res,
        401,
        { message: `send 'Authorization: Bearer <token>' with the token in ${localTokenFile()}` },
        { 'WWW-Authenticate': 'Bearer' },
      );
    const m = ROUTE.exec((req.url ?? '').split('?')[0]);
    if (!m) return send(res, 404, { message: 'not found: POST /v1/sensors/{app}/{service}/{name}' });
    if (req.method !== 'POST') return send(res, 405, { message: 'use POST' }, { Allow: 'POST' });
    try {
      const [app, service, name] = [segment(m[1]), segment(m[2]), segment(m[3])];
      // Names first (400), so a bad one never takes a bucket; the bucket before the body is read.
      const badTarget = sensorTargetProblem(app, service, name);
      if (badTarget) return send(res, 400, { message: badTarget });
      const admitted = limiter.take(`${app}/${service}`, Date.now());
      if (!admitted.ok)
        return send(
          res,
          429,
          {
            message: `too many values for ${app}/${service}: at most ${limiter.limit.burst} at once, then ${limiter.limit.perSecond} a second`,
          },
          { 'Retry-After': String(Math.ceil(admitted.retryAfterMs / 1000)) },
        );
      const body = await readBody(req, MAX_BODY_BYTES);
      const value = sensorValueOf(body);
      const { workflowId } = await pushMetric(await options.client(), { app, service, name, value });
      send(res, 202, { app, service, name, value, workflowId });
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return send(res, 413, { message: `body over ${MAX_BODY_BYTES} bytes` });
      if (err instanceof PolicyNotFoundError) return send(res, 404, { message: err.message });
      if (err instanceof BadSensorValueError) return send(res, 400, { message: err.message });
      send(res, 500, { message: (err as Error).message.split('\n')[0] });
    }
  };
}

/** Starts the endpoint on 127.0.0.1; `port` 0 picks a free one. */
export async function startSensorServer(options: SensorOptions & { port: number }): Promise<SensorServer> {
  const host = '127.0.0.1';
  const { port, close } = await listenJson(sensorRequestHandler(options), {
    port: options.port,
    host,
    what: 'sensor endpoint',
    portHint: 'BERTH_SENSOR_PORT or --sensor-port',
  });
  return { url: `http://${host}:${port}`, port, close };
}
