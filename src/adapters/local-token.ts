import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type * as http from 'http';
import { UserError } from '../core/errors';
import { berthHome, createSecretFile } from './paths';

/**
 * The local token: a random secret in `$BERTH_HOME/http.token` (mode 0600, made on first use) that
 * a request to Berth's loopback listeners carries as `Authorization: Bearer <token>`. Reading the
 * file is the proof of being the local user (or root); another local user, or a web page, cannot.
 */
export function localTokenFile(): string {
  return path.join(berthHome(), 'http.token');
}

let processToken: string | undefined;

export function loadLocalToken(): string {
  if (processToken !== undefined) return processToken;
  const file = localTokenFile();
  try {
    if (!fs.existsSync(file)) createSecretFile(file, `${crypto.randomBytes(32).toString('base64url')}\n`);
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length < 16) throw new UserError(`${file} holds no token (delete it and a new one is made)`);
    processToken = token;
    return token;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`local token ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(req: http.IncomingMessage): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Compares in constant time (hashes first, so lengths do not leak either). */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}
