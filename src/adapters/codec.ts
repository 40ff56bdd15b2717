import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { UserError } from '../core/errors';
import { berthHome, createSecretFile } from './paths';

/**
 * Berth's payload codec: every payload (workflow and activity inputs and results, update and query
 * arguments, memos, heartbeat details) is sealed with AES-256-GCM before it leaves the process, so
 * secret values never reach Temporal's history in clear. Search attributes stay readable (the
 * server indexes them) and hold no secrets.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const KEY_ENV = 'BERTH_CODEC_KEY';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';

export interface CodecKey {
  key: Buffer;
  /** A fingerprint of the key (not secret), stored with each payload so a wrong key is named. */
  id: string;
}

export function codecKeyFile(): string {
  return path.join(berthHome(), 'codec.key');
}

export function codecKeyId(key: Buffer): string {
  return crypto.createHash('sha256').update('berth-codec-key:').update(key).digest('hex').slice(0, 16);
}

/** A key is the base64 of 32 bytes (`openssl rand -base64 32`); a key file may also hold the raw bytes. */
function parseKey(text: Buffer | string, where: string): CodecKey {
  const raw = typeof text === 'string' ? Buffer.from(text) : text;
  if (raw.length === KEY_BYTES && typeof text !== 'string') return { key: raw, id: codecKeyId(raw) };
  const b64 = raw.toString('utf8').trim();
  const key = Buffer.from(b64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== KEY_BYTES)
    throw new UserError(
      `${where} is not a codec key: expected the base64 of ${KEY_BYTES} bytes (make one with 'openssl rand -base64 32')`,
    );
  return { key, id: codecKeyId(key) };
}

/**
 * The codec key: `BERTH_CODEC_KEY` (base64), else `$BERTH_HOME/codec.key`, created with 32 random
 * bytes and mode 0600 on first use. Every client and worker of one Berth must share it.
 */
export function loadCodecKey(): CodecKey {
  const fromEnv = process.env[KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return parseKey(fromEnv, KEY_ENV);
  const file = codecKeyFile();
  try {
    if (!fs.existsSync(file)) createSecretFile(file, `${crypto.randomBytes(KEY_BYTES).toString('base64')}\n`);
    return parseKey(fs.readFileSync(file), file);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`codec key ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
}

function metadataString(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  return value ? Buffer.from(value).toString('utf8') : undefined;
}

export function isEncrypted(payload: Payload): boolean {
  return metadataString(payload, METADATA_ENCODING_KEY) === ENCRYPTED_ENCODING;
}

export class BerthCodec implements PayloadCodec {
  constructor(private readonly codecKey: CodecKey) {}

  get keyId(): string {
    return this.codecKey.id;
  }

  /**
   * A keyed digest of a secret's value (HMAC-SHA256 under a key derived from the codec key): what a
   * container's configuration hash takes in place of the value, so a rotated secret is a change
   * while neither the hash nor the container's labels reveal or let anyone test a guess.
   */
  secretDigest(name: string, value: string): string {
    const key = Buffer.from(crypto.hkdfSync('sha256', this.codecKey.key, '', 'berth-secret-digest', 32));
    return crypto
      .createHmac('sha256', key)
      .update(name)
      .update('\0')
      .update(value)
      .digest('hex')
      .slice(0, 32);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  /** Payloads that are not encrypted (histories written before the codec) pass through unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  encrypt(payload: Payload): Payload {
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv(CIPHER, this.codecKey.key, iv);
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: Buffer.from(this.codecKey.id),
      },
      data: sealed,
    };
  }

  decrypt(payload: Payload): Payload {
    const keyId = metadataString(payload, KEY_ID_METADATA);
    if (keyId !== undefined && keyId !== this.codecKey.id)
      throw new UserError(
        `cannot decrypt a payload sealed with codec key ${keyId}: this process has key ${this.codecKey.id} (set ${KEY_ENV} or ${codecKeyFile()} to the key the workflows were started with)`,
      );
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES) throw new UserError('cannot decrypt a payload: it is truncated');
    const decipher = crypto.createDecipheriv(CIPHER, this.codecKey.key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new UserError(
        `cannot decrypt a payload with codec key ${this.codecKey.id}: wrong key, or the payload was altered`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

let processCodec: BerthCodec | undefined;

/** The codec of this process (its key is loaded once). */
export function berthCodec(): BerthCodec {
  processCodec ??= new BerthCodec(loadCodecKey());
  return processCodec;
}

/** The module the workflow bundle and every data converter load the failure converter from. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * For `Client`, `Worker.create` and replay: every payload encrypted with Berth's key, failure
 * messages and stack traces too (`failure-converter.ts`; the workflow bundle carries the same one).
 */
export function berthDataConverter(): { payloadCodecs: PayloadCodec[]; failureConverterPath: string } {
  return { payloadCodecs: [berthCodec()], failureConverterPath: FAILURE_CONVERTER_PATH };
}
