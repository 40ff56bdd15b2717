import * as http from 'http';
import type { Client } from '@temporalio/client';
import { BodyTooLargeError, listenJson, readBody, sendJson as send } from './http-server';
import { BadSensorValueError, PolicyNotFoundError, parseSensorValue, pushMetric } from '../clients/policies';

/**
 * The HTTP sensor endpoint: `POST /v1/sensors/{app}/{service}/{name}` with a number as the body
 * (`42.5`, or JSON `{"value": 42.5}`) signals that value to the app's autoscaler policy, as
 * `berth sensor` does. Answers 202 on success, 400 for a bad value, 404 when the service has no
 * autoscaler. Loopback only: anything that can reach it can resize services.
 */

export interface SensorServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const ROUTE = /^\/v1\/sensors\/([^/]+)\/([^/]+)\/([^/]+)\/?$/;

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
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new BadSensorValueError(`"value" must be a number, got ${JSON.stringify(value) ?? 'nothing'}`);
    return value;
  }
  return parseSensorValue(text.replace(/^"(.*)"$/, '$1'));
}

function segment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadSensorValueError(`bad path segment '${text}'`);
  }
}

export function sensorRequestHandler(
  client: Client,
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  return async (req, res) => {
    const m = ROUTE.exec((req.url ?? '').split('?')[0]);
    if (!m) return send(res, 404, { message: 'not found: POST /v1/sensors/{app}/{service}/{name}' });
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return send(res, 405, { message: 'use POST' });
    }
    try {
      const [app, service, name] = [segment(m[1]), segment(m[2]), segment(m[3])];
      const body = await readBody(req, MAX_BODY_BYTES).catch((err: unknown) => {
        throw err instanceof BodyTooLargeError ? new BadSensorValueError(err.message) : err;
      });
      const value = sensorValueOf(body);
      const { workflowId } = await pushMetric(client, { app, service, name, value });
      send(res, 202, { app, service, name, value, workflowId });
    } catch (err) {
      if (err instanceof PolicyNotFoundError) return send(res, 404, { message: err.message });
      if (err instanceof BadSensorValueError) return send(res, 400, { message: err.message });
      send(res, 500, { message: (err as Error).message.split('\n')[0] });
    }
  };
}

/** Starts the endpoint on `host` (default 127.0.0.1); `port` 0 picks a free one. */
export async function startSensorServer(options: {
  port: number;
  client: Client;
  host?: string;
}): Promise<SensorServer> {
  const host = options.host ?? '127.0.0.1';
  const { port, close } = await listenJson(sensorRequestHandler(options.client), {
    port: options.port,
    host,
    what: 'sensor endpoint',
    portHint: 'BERTH_SENSOR_PORT or --sensor-port',
  });
  return { url: `http://${host}:${port}`, port, close };
}
