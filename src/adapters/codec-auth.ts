import * as fs from 'fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { UserError } from '../core/errors';
import { sameToken } from './local-token';

/**
 * Bearer-token checks for `berth codec-server` in front of a real cluster, where every request
 * must carry `Authorization: Bearer <token>`:
 * - a JWT from the identity provider, which is what the Temporal Web UI forwards when its auth is
 *   on and `TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true` (`codec.passAccessToken`): verified against the
 *   provider's JWKS (signature, `exp`/`nbf`, and `iss`/`aud` when given);
 * - or one of the tokens in a file (one a line), for `temporal workflow show --codec-auth` and scripts.
 */
export type TokenVerifier = (token: string) => Promise<boolean>;

export function tokenFileVerifier(file: string): TokenVerifier {
  let tokens: string[];
  try {
    tokens = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  } catch (err) {
    throw new UserError(`cannot read tokens file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (tokens.some((t) => t.length < 16))
    throw new UserError(`${file}: each token must be at least 16 characters`);
  if (!tokens.length) throw new UserError(`${file} holds no token`);
  return async (token) => tokens.some((t) => sameToken(token, t));
}

export function jwksVerifier(options: {
  jwksUrl: string;
  issuer?: string;
  audience?: string;
}): TokenVerifier {
  let url: URL;
  try {
    url = new URL(options.jwksUrl);
  } catch {
    throw new UserError(`--jwks must be a URL, got '${options.jwksUrl}'`);
  }
  // jose caches the key set and fetches it again (at most every 30 s) for an unknown key id.
  const keys = createRemoteJWKSet(url, { timeoutDuration: 5000 });
  return async (token) => {
    try {
      await jwtVerify(token, keys, {
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
        clockTolerance: 30,
      });
      return true;
    } catch {
      return false;
    }
  };
}

/** Accepts a token when any of the verifiers does. */
export function anyOf(verifiers: TokenVerifier[]): TokenVerifier {
  return async (token) => {
    for (const verify of verifiers) if (await verify(token)) return true;
    return false;
  };
}
