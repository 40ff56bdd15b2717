import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import {
  BerthCodec,
  codecKeyId,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  loadCodecKey,
  type CodecKey,
} from '../../src/adapters/codec';
import { UserError } from '../../src/core/errors';

const newKey = (): CodecKey => {
  const key = crypto.randomBytes(32);
  return { key, id: codecKeyId(key) };
};

const SECRET = `s3cr3t-${crypto.randomBytes(6).toString('hex')}`;
const input = (): Payload =>
  defaultPayloadConverter.toPayload({ app: 'web', env: { PASSWORD: SECRET }, replicas: 2 });

describe('the payload codec (AES-256-GCM)', () => {
  const codec = new BerthCodec(newKey());

  test('round trip: encode then decode gives back the original payloads', async () => {
    const originals = [
      input(),
      defaultPayloadConverter.toPayload(null),
      defaultPayloadConverter.toPayload('x'),
    ];
    const encoded = await codec.encode(originals);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(Buffer.from(p.metadata![METADATA_ENCODING_KEY]!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(p.metadata![KEY_ID_METADATA]!).toString()).toBe(codec.keyId);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { app: 'web', env: { PASSWORD: SECRET }, replicas: 2 },
      null,
      'x',
    ]);
    expect(Buffer.from(decoded[0].metadata![METADATA_ENCODING_KEY]!).toString()).toBe('json/plain');
    expect(await codec.encode([])).toEqual([]);
  });

  test('the encrypted bytes contain neither the plaintext nor the original metadata', async () => {
    const original = input();
    expect(Buffer.from(original.data!).includes(SECRET)).toBe(true);
    const [encoded] = await codec.encode([original]);
    const sealed = Buffer.from(encoded.data!);
    expect(sealed.includes(SECRET)).toBe(false);
    expect(sealed.includes('json/plain')).toBe(false);
    expect(sealed.length).toBeGreaterThan(12 + 16);
    // A fresh IV each time: the same payload never encrypts to the same bytes.
    const [again] = await codec.encode([original]);
    expect(Buffer.from(again.data!).equals(sealed)).toBe(false);
  });

  test('a wrong key fails with a clear one-line error; so does an altered payload', async () => {
    const [encoded] = await codec.encode([input()]);
    const other = new BerthCodec(newKey());
    const wrong = await other.decode([encoded]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(wrong).toBeInstanceOf(UserError);
    expect(wrong!.message).toContain(`sealed with codec key ${codec.keyId}`);
    expect(wrong!.message).toContain(`this process has key ${other.keyId}`);
    expect(wrong!.message).not.toContain('\n');

    // Same key id claimed, different key bytes: authentication fails.
    const impostor = new BerthCodec({ key: crypto.randomBytes(32), id: codec.keyId });
    await expect(impostor.decode([encoded])).rejects.toThrow(/wrong key, or the payload was altered/);

    const tampered = Buffer.from(encoded.data!);
    tampered[20] ^= 1;
    await expect(codec.decode([{ ...encoded, data: tampered }])).rejects.toThrow(UserError);
    await expect(codec.decode([{ ...encoded, data: tampered.subarray(0, 10) }])).rejects.toThrow(/truncated/);
  });

  test('payloads that are not encrypted (older histories) pass through untouched', async () => {
    const plain = input();
    const binary: Payload = { metadata: { [METADATA_ENCODING_KEY]: Buffer.from('binary/null') } };
    const [sealed] = await codec.encode([input()]);
    const decoded = await codec.decode([plain, binary, sealed]);
    expect(decoded[0]).toBe(plain);
    expect(decoded[1]).toBe(binary);
    expect(defaultPayloadConverter.fromPayload(decoded[2])).toEqual(
      defaultPayloadConverter.fromPayload(plain),
    );
  });
});

describe('the codec key', () => {
  const saved = { home: process.env.BERTH_HOME, key: process.env.BERTH_CODEC_KEY };
  let home: string;

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-codec-'));
    process.env.BERTH_HOME = path.join(home, 'berth');
    delete process.env.BERTH_CODEC_KEY;
  });

  afterEach(() => {
    fs.rmSync(home, { recursive: true, force: true });
    for (const [name, value] of [
      ['BERTH_HOME', saved.home],
      ['BERTH_CODEC_KEY', saved.key],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test('is created on first use in $BERTH_HOME/codec.key: 32 random bytes, mode 0600, then reused', () => {
    const file = path.join(home, 'berth', 'codec.key');
    expect(fs.existsSync(file)).toBe(false);
    const first = loadCodecKey();
    expect(first.key).toHaveLength(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64').equals(first.key)).toBe(true);
    const second = loadCodecKey();
    expect(second.key.equals(first.key)).toBe(true);
    expect(second.id).toBe(first.id);
    expect(fs.readdirSync(path.join(home, 'berth'))).toEqual(['codec.key']);
  });

  test('BERTH_CODEC_KEY (base64 of 32 bytes) wins over the file and writes nothing', () => {
    const key = crypto.randomBytes(32);
    process.env.BERTH_CODEC_KEY = key.toString('base64');
    expect(loadCodecKey().key.equals(key)).toBe(true);
    expect(fs.existsSync(path.join(home, 'berth', 'codec.key'))).toBe(false);
  });

  test('a malformed key is a one-line UserError that does not echo the key', () => {
    for (const bad of ['not base64!!', crypto.randomBytes(16).toString('base64'), 'c2hvcnQ=']) {
      process.env.BERTH_CODEC_KEY = bad;
      let error: Error | undefined;
      try {
        loadCodecKey();
      } catch (e) {
        error = e as Error;
      }
      expect(error).toBeInstanceOf(UserError);
      expect(error!.message).toMatch(/^BERTH_CODEC_KEY is not a codec key: expected the base64 of 32 bytes/);
      expect(error!.message).not.toContain(bad);
      expect(error!.message).not.toContain('\n');
    }
    delete process.env.BERTH_CODEC_KEY;
    fs.mkdirSync(path.join(home, 'berth'));
    fs.writeFileSync(path.join(home, 'berth', 'codec.key'), 'garbage\n');
    expect(() => loadCodecKey()).toThrow(/codec\.key is not a codec key/);
  });
});
