import * as crypto from 'crypto';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { berthCodec, ENCRYPTED_ENCODING } from '../../src/adapters/codec';
import { startCodecServer, type CodecServer } from '../../src/adapters/codec-server';
import { loadLocalToken } from '../../src/adapters/local-token';
import { appWorkflowId, inventoryWorkflowId, operationWorkflowId } from '../../src/core/names';
import { appContainers, docker, uniqueApp } from '../support/docker';
import { httpRequest } from '../support/http';
import { blueprintOf, innermost, operate, operateExpectingFailure, session } from '../support/operations';
import { inProcessWorker, testAddress, testClient, uniqueTaskQueue } from '../support/temporal';

type History = temporal.api.history.v1.IHistory;

function isPayload(value: unknown): value is Payload {
  return (
    !!value &&
    typeof value === 'object' &&
    'metadata' in value &&
    !!(value as Payload).metadata &&
    typeof (value as Payload).metadata === 'object' &&
    METADATA_ENCODING_KEY in (value as Payload).metadata!
  );
}

/** Every payload in a history (inputs, results, updates, memos, search attributes), with its map key. */
function payloadsOf(value: unknown, found: { path: string[]; payload: Payload }[] = [], path: string[] = []) {
  if (isPayload(value)) found.push({ path, payload: value });
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array))
    for (const [k, v] of Object.entries(value)) payloadsOf(v, found, [...path, k]);
  return found;
}

/**
 * Payloads the server must read (search attributes: it indexes them; `TemporalChangeVersion` lists
 * the patches a run took) and the SDK's own patch markers (a patch ID, written by the SDK core
 * without the codec); none holds a secret.
 */
function clearByDesign(path: string[]): boolean {
  return (
    /^(Berth(App|Operation|Status)|TemporalChangeVersion)$/.test(path.at(-1) ?? '') ||
    path.includes('markerRecordedEventAttributes')
  );
}

/** The history with bytes shown as UTF-8 text, so a secret in clear anywhere in it would be visible. */
function readable(history: History): string {
  const json = JSON.stringify(history, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    const v = value as { type?: string; data?: number[] };
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('utf8');
    return value;
  });
  // Also the protobuf wire bytes themselves, as the server stores them.
  const wire = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('utf8');
  return `${json}\n${wire}`;
}

/** A copy of the history with every encrypted payload replaced by its decryption. */
async function decoded(history: History): Promise<History> {
  const copy = temporal.api.history.v1.History.decode(
    temporal.api.history.v1.History.encode(history).finish(),
  );
  const codec = berthCodec();
  for (const { payload: p } of payloadsOf(copy)) {
    if (Buffer.from(p.metadata![METADATA_ENCODING_KEY]!).toString() !== ENCRYPTED_ENCODING) continue;
    const [plain] = await codec.decode([p]);
    for (const k of Object.keys(p.metadata!)) delete p.metadata![k];
    Object.assign(p.metadata!, plain.metadata);
    p.data = plain.data;
  }
  return copy;
}

/** Every failure in a history, causes included, with the event kind it came with. */
function failuresOf(history: History): { source: string; message: string; encoded: boolean }[] {
  const found: { source: string; message: string; encoded: boolean }[] = [];
  const walk = (f: temporal.api.failure.v1.IFailure | null | undefined, source: string) => {
    for (let i = 0; f && i < 10; i++, f = f.cause) {
      found.push({ source, message: f.message ?? '', encoded: !!f.encodedAttributes });
    }
  };
  for (const e of history.events ?? []) {
    for (const [key, attrs] of Object.entries(e)) {
      if (!key.endsWith('EventAttributes') || !attrs || typeof attrs !== 'object') continue;
      const failure = (attrs as { failure?: temporal.api.failure.v1.IFailure }).failure;
      if (failure) walk(failure, key.replace(/EventAttributes$/, ''));
    }
  }
  return found;
}

const post = (
  url: string,
  body: string,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
  method = 'POST',
) => httpRequest(url, { method, headers, body });

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/** What a local client (`temporal workflow show --codec-auth`, a script) sends: the local token. */
const withToken = { 'Content-Type': 'application/json', Authorization: `Bearer ${loadLocalToken()}` };

describe('payload encryption: secrets never reach the history in clear', () => {
  const taskQueue = uniqueTaskQueue('codec');
  const secret = `s3cr3t-${crypto.randomBytes(8).toString('hex')}`;
  const literal = `pl41n-${crypto.randomBytes(8).toString('hex')}`;
  const app = uniqueApp('codec');
  let client: Awaited<ReturnType<typeof testClient>>;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  let running: Promise<void>;
  let plainConnection: Connection;
  let plain: Client;
  let operationId: string;
  let codecServer: CodecServer;

  beforeAll(async () => {
    client = await testClient();
    worker = await inProcessWorker(taskQueue);
    running = worker.worker.run();
    // A client WITHOUT the codec: what anyone with access to the Temporal server sees.
    plainConnection = await Connection.connect({ address: testAddress() });
    plain = new Client({ connection: plainConnection });
    codecServer = await startCodecServer({
      port: 0,
      access: { mode: 'local', origin: 'http://localhost:8233' },
    });
  });

  afterAll(async () => {
    try {
      if ((await appContainers(app)).length > 0)
        await operate(session(client.client, taskQueue), app, { type: 'destroy' });
    } finally {
      await codecServer.close();
      worker.worker.shutdown();
      await running;
      await worker.close();
      await plainConnection.close();
      await client.close();
    }
  });

  test('a deploy with a secret: the container gets it, the raw histories hold it only encrypted', async () => {
    const blueprint = blueprintOf(`id: ${app}
secrets: [db-password]
services:
  - id: db
    image: berth/busybox:1
    command: [sleep, "3600"]
    env:
      PASSWORD: \${secret:db-password}
      LITERAL: ${literal}
`);
    const s = session(client.client, taskQueue);
    const result = await operate(s, app, { type: 'deploy', blueprint, secrets: { 'db-password': secret } });
    operationId = operationWorkflowId('deploy', app, 1);
    const env = (await docker.getContainer(result.instances[0].id).inspect()).Config.Env;
    expect(env).toEqual(expect.arrayContaining([`PASSWORD=${secret}`, `LITERAL=${literal}`]));

    const ids = [appWorkflowId(app), operationId, inventoryWorkflowId(taskQueue)];
    let encrypted = 0;
    let decodedHistories = '';
    for (const id of ids) {
      const history = await plain.workflow.getHandle(id).fetchHistory();
      const raw = readable(history);
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(literal);
      // Every payload is sealed, except those the server or the SDK must read.
      for (const { path, payload } of payloadsOf(history)) {
        const encoding = Buffer.from(payload.metadata![METADATA_ENCODING_KEY]!).toString();
        if (encoding === ENCRYPTED_ENCODING) encrypted++;
        else
          expect({ path: path.join('.'), clear: clearByDesign(path) }).toEqual({
            path: path.join('.'),
            clear: true,
          });
      }
      decodedHistories += readable(await decoded(history));
    }
    expect(encrypted).toBeGreaterThan(5);
    // The same histories, decrypted with the key, do carry the values: the checks above can fail.
    expect(decodedHistories).toContain(secret);
    expect(decodedHistories).toContain(literal);

    // A client with the codec reads results as usual; one without gets sealed bytes.
    const viaCodec = await client.client.workflow.getHandle(operationId).result();
    expect(viaCodec.app).toBe(app);
    await expect(plain.workflow.getHandle(operationId).result()).rejects.toThrow();
  });

  test('failure messages are sealed too: a failed deploy names what failed only to a client with the key', async () => {
    const marker = `m4rk3r-${crypto.randomBytes(6).toString('hex')}`;
    const failing = uniqueApp('codecfail');
    const s = session(client.client, taskQueue);
    const { operationId: failedId, error } = await operateExpectingFailure(s, failing, {
      type: 'deploy',
      blueprint: blueprintOf(
        `id: ${failing}\nservices:\n  - id: db\n    image: berth/${marker}:1\n    command: [sleep, "3600"]\n`,
      ),
    });
    // Decoded by the client's converter: the user still reads what went wrong.
    expect(innermost(error).message).toContain(marker);
    let decodedHistories = '';
    for (const id of [appWorkflowId(failing), failedId]) {
      const history = await plain.workflow.getHandle(id).fetchHistory();
      // Every failure (an activity's, the workflow's, their causes) is encoded, whichever side raised it.
      const failures = failuresOf(history);
      if (id === failedId)
        expect(failures.map((f) => f.source)).toEqual(
          expect.arrayContaining(['activityTaskFailed', 'workflowExecutionFailed']),
        );
      for (const f of failures)
        expect(f).toEqual({ source: f.source, message: 'Encoded failure', encoded: true });
      expect(readable(history)).not.toContain(marker);
      decodedHistories += readable(await decoded(history));
    }
    expect(decodedHistories).toContain(marker);
    await operate(s, failing, { type: 'destroy' });
  });

  test('the codec server decodes over HTTP on 127.0.0.1 for the UI origin, and rejects the rest', async () => {
    expect(codecServer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const history = await plain.workflow.getHandle(operationId).fetchHistory();
    const started = history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!;
    const input = started.workflowExecutionStartedEventAttributes!.input!.payloads!;
    expect(Buffer.from(input[0].metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);

    const origin = 'http://localhost:8233';
    const decodedResponse = await post(
      `${codecServer.url}/decode`,
      JSON.stringify({ payloads: input.map(toJson) }),
      {
        'Content-Type': 'application/json',
        'X-Namespace': 'default',
        Origin: origin,
      },
    );
    expect(decodedResponse.status).toBe(200);
    expect(decodedResponse.headers['access-control-allow-origin']).toBe(origin);
    const { payloads } = JSON.parse(decodedResponse.body) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(payloads).toHaveLength(input.length);
    expect(Buffer.from(payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    const operationInput = JSON.parse(Buffer.from(payloads[0].data, 'base64').toString()) as {
      secrets: Record<string, string>;
    };
    expect(operationInput.secrets['db-password']).toBe(secret);

    // /encode then /decode round trip (a local client with the token), and unencrypted payloads
    // pass through /decode.
    const value = defaultPayloadConverter.toPayload({ hello: secret });
    const encodedResponse = await post(
      `${codecServer.url}/encode`,
      JSON.stringify({ payloads: [toJson(value)] }),
      withToken,
    );
    expect(encodedResponse.status).toBe(200);
    expect(encodedResponse.body).not.toContain(
      Buffer.from(JSON.stringify({ hello: secret })).toString('base64'),
    );
    const back = await post(
      `${codecServer.url}/decode`,
      JSON.stringify({ payloads: [...JSON.parse(encodedResponse.body).payloads, toJson(value)] }),
      withToken,
    );
    const both = JSON.parse(back.body).payloads as { data: string }[];
    expect(both.map((p) => JSON.parse(Buffer.from(p.data, 'base64').toString()))).toEqual([
      { hello: secret },
      { hello: secret },
    ]);

    // CORS preflight from the UI, including the X-Namespace header.
    const preflight = await post(
      `${codecServer.url}/decode`,
      '',
      {
        Origin: 'http://127.0.0.1:8233',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
      'OPTIONS',
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://127.0.0.1:8233');
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/X-Namespace/i);

    // Everything else is refused.
    const auth = { Authorization: withToken.Authorization };
    expect((await post(`${codecServer.url}/other`, '{}', withToken)).status).toBe(404);
    expect((await post(`${codecServer.url}/`, '', auth, 'GET')).status).toBe(404);
    expect((await post(`${codecServer.url}/decode`, '', auth, 'GET')).status).toBe(405);
    expect(
      (await post(`${codecServer.url}/decode`, '{"payloads": []}', { ...auth, 'Content-Type': 'text/plain' }))
        .status,
    ).toBe(415);
    expect((await post(`${codecServer.url}/decode`, 'not json', withToken)).status).toBe(400);
    expect((await post(`${codecServer.url}/decode`, '{"nothing": 1}', withToken)).status).toBe(400);
    const foreign = await post(`${codecServer.url}/decode`, JSON.stringify({ payloads: input.map(toJson) }), {
      'Content-Type': 'application/json',
      Origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect(foreign.body).not.toContain(Buffer.from(secret).toString('base64'));

    // A payload sealed with another key is a clear 400, not a crash.
    const tampered = toJson(input[0]);
    tampered.metadata['encryption-key-id'] = Buffer.from('0000000000000000').toString('base64');
    const wrongKey = await post(
      `${codecServer.url}/decode`,
      JSON.stringify({ payloads: [tampered] }),
      withToken,
    );
    expect(wrongKey.status).toBe(400);
    expect(JSON.parse(wrongKey.body).message).toBe(
      'payload 1 cannot be decrypted by this codec server (sealed with another key, altered or truncated)',
    );
  });
});
