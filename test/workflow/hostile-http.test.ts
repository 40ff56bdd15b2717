/**
 * Berth's loopback listeners against hostile requests (issue 17): a web page's cross-site POST, a
 * DNS-rebinding Host, missing or wrong tokens, floods, oversized and malformed bodies. The sensor
 * endpoint talks to the run's real dev server; the codec server seals with the run's real key.
 */
import * as http from 'http';
import * as fs from 'fs';
import * as path from 'path';
import { defaultPayloadConverter } from '@temporalio/common';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { berthCodec, codecKeyFile } from '../../src/adapters/codec';
import { anyOf, jwksVerifier, tokenFileVerifier } from '../../src/adapters/codec-auth';
import { MAX_CODEC_PAYLOADS, startCodecServer, type CodecServer } from '../../src/adapters/codec-server';
import { loadLocalToken, localTokenFile } from '../../src/adapters/local-token';
import { startSensorServer, type SensorServer } from '../../src/adapters/sensor-http';
import { tempDir } from '../support/cli';
import { httpRequest, type HttpAnswer } from '../support/http';
import { testClient } from '../support/temporal';

type Answer = HttpAnswer;

const request = (url: string, headers: Record<string, string>, body = '', method = 'POST') =>
  httpRequest(url, { method, headers, body });

const message = (a: Answer): string => (JSON.parse(a.body) as { message: string }).message;

describe('the sensor endpoint refuses what is not its local user', () => {
  let client: Awaited<ReturnType<typeof testClient>>;
  let sensors: SensorServer;
  let host: string;
  const token = () => loadLocalToken();
  const auth = () => ({ Host: host, Authorization: `Bearer ${token()}`, 'Content-Type': 'text/plain' });

  beforeAll(async () => {
    client = await testClient();
    // A bucket of 3 that refills once in 1,000 s: the 4th value within the test is refused.
    sensors = await startSensorServer({
      port: 0,
      client: async () => client.client,
      rate: { perSecond: 0.001, burst: 3 },
    });
    host = `127.0.0.1:${sensors.port}`;
  });
  afterAll(async () => {
    await sensors.close();
    await client.close();
  });

  test('the local token lives in $BERTH_HOME with mode 0600', () => {
    expect(localTokenFile()).toBe(path.join(process.env.BERTH_HOME!, 'http.token'));
    expect(fs.statSync(localTokenFile()).mode & 0o777).toBe(0o600);
    expect(token().length).toBeGreaterThanOrEqual(32);
  });

  test("a browser's cross-site POST (text/plain, Origin: https://evil.example) is refused with 403, even with the token", async () => {
    const url = `${sensors.url}/v1/sensors/shop/web/requests`;
    const crossSite = await request(
      url,
      { Host: host, 'Content-Type': 'text/plain', Origin: 'https://evil.example' },
      '95',
    );
    expect(crossSite.status).toBe(403);
    expect(message(crossSite)).toMatch(/Origin/);
    expect((await request(url, { ...auth(), Origin: `http://${host}` }, '95')).status).toBe(403);
  });

  test('a DNS-rebinding Host (evil.example:PORT) is refused with 403; loopback names pass to the token check', async () => {
    const url = `${sensors.url}/v1/sensors/shop/web/requests`;
    const rebound = await request(url, { ...auth(), Host: `evil.example:${sensors.port}` }, '95');
    expect(rebound.status).toBe(403);
    expect(message(rebound)).toMatch(/Host header must be 127\.0\.0\.1:\d+, localhost:\d+ or \[::1\]:\d+/);
    expect((await request(url, { ...auth(), Host: '127.0.0.1:1' }, '95')).status).toBe(403);
    for (const name of [`localhost:${sensors.port}`, `[::1]:${sensors.port}`])
      expect((await request(url, { Host: name }, '95')).status).toBe(401);
  });

  test('without the token, or with a wrong one: 401 naming the token file', async () => {
    const url = `${sensors.url}/v1/sensors/shop/web/requests`;
    const none = await request(url, { Host: host }, '95');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(message(none)).toContain(localTokenFile());
    expect((await request(url, { Host: host, Authorization: `Bearer ${token()}x` }, '95')).status).toBe(401);
    expect((await request(url, { Host: host, Authorization: token() }, '95')).status).toBe(401);
  });

  test('names that break Berth’s rules are 400: ../, NUL, CRLF, ESC', async () => {
    for (const [p, pattern] of [
      ['/v1/sensors/%2e%2e%2fetc/web/r', /^APP must be a DNS label/],
      ['/v1/sensors/shop/we%00b/r', /^SERVICE must be a DNS label/],
      ['/v1/sensors/shop/web/a%0d%0aX-Injected:%201', /^NAME must be a metric name/],
      ['/v1/sensors/shop/web/%1b%5b31m', /^NAME must be a metric name/],
      ['/v1/sensors/shop/web/%zz', /^bad percent-encoding/],
    ] as const) {
      const answer = await request(`${sensors.url}${p}`, auth(), '1');
      expect({ p, status: answer.status }).toEqual({ p, status: 400 });
      expect(message(answer)).toMatch(pattern);
    }
  });

  test('values: only plain decimals; a body over 1 KiB is 413', async () => {
    // A service each: the bucket of one holds only three values.
    const url = (i: number) => `${sensors.url}/v1/sensors/shopvalues/v${i}/requests`;
    const bodies = ['0x10', '0b101', '5e-324', '1e3', 'Infinity', '{"value": 5e-324}', '{"value": "1"}'];
    for (const [i, body] of bodies.entries()) {
      const answer = await request(url(i), auth(), body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
    }
    // A good value gets as far as Temporal, which has no such policy: 404.
    const good = await request(url(100), auth(), '42.5');
    expect(good.status).toBe(404);
    expect(message(good)).toBe('no autoscaler policy for shopvalues/v100');
    expect((await request(url(101), auth(), ' '.repeat(2000))).status).toBe(413);
  });

  test('past the rate of one app/service: 429 with Retry-After; other services keep theirs', async () => {
    const url = (service: string) => `${sensors.url}/v1/sensors/shoprate/${service}/requests`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(url('web'), auth(), '1')).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    const limited = await request(url('web'), auth(), '1');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(message(limited)).toMatch(/too many values for shoprate\/web: at most 3 at once/);
    expect((await request(url('db'), auth(), '1')).status).toBe(404);
  });
});

describe('the codec server decodes only for the UI or the local token, within bounds', () => {
  let codec: CodecServer;
  let host: string;
  const ui = 'http://localhost:8233';
  const sealed = () => berthCodec().encode([defaultPayloadConverter.toPayload({ secret: 'hush' })]);
  const json = (payloads: unknown[]) => JSON.stringify({ payloads });
  const toJson = (p: { metadata?: Record<string, Uint8Array | null> | null; data?: Uint8Array | null }) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });
  const local = () => ({
    Host: host,
    'Content-Type': 'application/json',
    Authorization: `Bearer ${loadLocalToken()}`,
  });

  beforeAll(async () => {
    codec = await startCodecServer({ port: 0, access: { mode: 'local', origin: ui } });
    host = `127.0.0.1:${new URL(codec.url).port}`;
  });
  afterAll(() => codec.close());

  test('no Origin and no token: 401; a wrong token: 401; the UI origin or the token: 200', async () => {
    const body = json((await sealed()).map(toJson));
    const plain = { Host: host, 'Content-Type': 'application/json' };
    for (const route of ['/decode', '/encode']) {
      const anonymous = await request(`${codec.url}${route}`, plain, body);
      expect({ route, status: anonymous.status }).toEqual({ route, status: 401 });
      expect(anonymous.body).not.toContain('hush');
      expect(
        (await request(`${codec.url}${route}`, { ...plain, Authorization: 'Bearer nope' }, body)).status,
      ).toBe(401);
    }
    const fromUi = await request(`${codec.url}/decode`, { ...plain, Origin: ui }, body);
    expect(fromUi.status).toBe(200);
    expect(Buffer.from(JSON.parse(fromUi.body).payloads[0].data, 'base64').toString()).toBe(
      '{"secret":"hush"}',
    );
    expect((await request(`${codec.url}/decode`, local(), body)).status).toBe(200);
  });

  test('a cross-site page and a rebinding Host are refused with 403', async () => {
    const body = json((await sealed()).map(toJson));
    const evil = await request(`${codec.url}/decode`, { ...local(), Origin: 'https://evil.example' }, body);
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const port = new URL(codec.url).port;
    const rebound = await request(`${codec.url}/decode`, { ...local(), Host: `evil.example:${port}` }, body);
    expect(rebound.status).toBe(403);
  });

  test(`more than ${MAX_CODEC_PAYLOADS} payloads: 413; 500,000 empty ones (1.5 MB): 413; 9 MB of body: 413, not a reset`, async () => {
    const one = toJson((await sealed())[0]);
    expect(
      (await request(`${codec.url}/decode`, local(), json(Array(MAX_CODEC_PAYLOADS).fill(one)))).status,
    ).toBe(200);
    const over = await request(`${codec.url}/decode`, local(), json(Array(MAX_CODEC_PAYLOADS + 1).fill(one)));
    expect(over.status).toBe(413);
    expect(message(over)).toBe(`at most ${MAX_CODEC_PAYLOADS} payloads per request`);
    const flood = json(Array(500_000).fill({}));
    expect(flood.length).toBeGreaterThan(1_400_000);
    expect((await request(`${codec.url}/decode`, local(), flood)).status).toBe(413);
    const huge = await request(
      `${codec.url}/decode`,
      local(),
      `{"payloads": ["${'x'.repeat(9 * 1024 * 1024)}"]}`,
    );
    expect(huge.status).toBe(413);
    expect(message(huge)).toBe('body over 8 MiB');
  });

  test('malformed payloads are 400 naming the payload; no error reveals a key id, a path or internals', async () => {
    const [good] = (await sealed()).map(toJson);
    const cases: [unknown[], string][] = [
      [[{ data: 12345 }], 'payload 1: data must be a base64 string'],
      [[good, { metadata: { encoding: 7 } }], 'payload 2: metadata must be an object of base64 strings'],
      [[{ metadata: [] }], 'payload 1: metadata must be an object of base64 strings'],
      [[null], 'payload 1 must be an object'],
      [[{ data: 'not base64!' }], 'payload 1: data must be a base64 string'],
      [
        [{ ...good, data: good.data.slice(0, 20) }],
        'payload 1 cannot be decrypted by this codec server (sealed with another key, altered or truncated)',
      ],
      [
        [
          {
            ...good,
            metadata: {
              ...good.metadata,
              'encryption-key-id': Buffer.from('0000000000000000').toString('base64'),
            },
          },
        ],
        'payload 1 cannot be decrypted by this codec server (sealed with another key, altered or truncated)',
      ],
    ];
    const secrets = [
      berthCodec().keyId,
      codecKeyFile(),
      process.env.BERTH_HOME!,
      'TypeError',
      'Error:',
      ' at ',
    ];
    for (const [payloads, expected] of cases) {
      const answer = await request(`${codec.url}/decode`, local(), json(payloads));
      expect({ expected, status: answer.status, message: message(answer) }).toEqual({
        expected,
        status: 400,
        message: expected,
      });
      for (const s of secrets) expect(answer.body).not.toContain(s);
    }
  });
});

describe('the codec server for a real cluster: a verified bearer token on every request', () => {
  let jwks: http.Server;
  let jwksUrl = '';
  let privateKey: KeyLike;
  let codec: CodecServer;
  const dir = tempDir('codec-auth');
  const ui = 'https://temporal.example.com';
  const staticToken = 'a-static-token-for-the-cli-0123456789';

  const jwt = (claims: { iss?: string; aud?: string; exp?: string }, key = privateKey) =>
    new SignJWT({ sub: 'someone@example.com', permissions: ['default:read'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuedAt()
      .setIssuer(claims.iss ?? 'https://idp.example.com')
      .setAudience(claims.aud ?? 'temporal-ui')
      .setExpirationTime(claims.exp ?? '5m')
      .sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    // The identity provider's key set, served on loopback as an IdP serves its jwks_uri.
    jwks = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `# for temporal workflow show --codec-auth\n${staticToken}\n`);
    const verify = anyOf([
      jwksVerifier({ jwksUrl, issuer: 'https://idp.example.com', audience: 'temporal-ui' }),
      tokenFileVerifier(tokens),
    ]);
    codec = await startCodecServer({ port: 0, access: { mode: 'bearer', origin: ui, verify } });
  });
  afterAll(async () => {
    await codec.close();
    await new Promise((resolve) => jwks.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the UI's forwarded access token decodes; the UI origin alone, a forged, expired or foreign token do not", async () => {
    const body = JSON.stringify({
      payloads: (await berthCodec().encode([defaultPayloadConverter.toPayload('hush')])).map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      })),
    });
    // Behind a TLS proxy the Host is the public name: bearer mode does not check it.
    const headers = (token?: string) => ({
      Host: 'codec.example.com',
      Origin: ui,
      'Content-Type': 'application/json',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    });
    const decoded = await request(`${codec.url}/decode`, headers(await jwt({})), body);
    expect(decoded.status).toBe(200);
    expect(Buffer.from(JSON.parse(decoded.body).payloads[0].data, 'base64').toString()).toBe('"hush"');
    expect((await request(`${codec.url}/decode`, headers(staticToken), body)).status).toBe(200);

    const other = await generateKeyPair('RS256');
    for (const token of [
      undefined,
      await jwt({}, other.privateKey),
      await jwt({ exp: '-10m' }),
      await jwt({ aud: 'another-app' }),
      await jwt({ iss: 'https://evil.example' }),
      loadLocalToken(),
      `${staticToken}x`,
    ]) {
      const refused = await request(`${codec.url}/decode`, headers(token), body);
      expect(refused.status).toBe(401);
      expect(refused.body).not.toContain('hush');
    }
    // Preflights carry no credentials and are answered for the UI's origin.
    const preflight = await request(
      `${codec.url}/decode`,
      { Host: 'codec.example.com', Origin: ui },
      '',
      'OPTIONS',
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
  });
});
