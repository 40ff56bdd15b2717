import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { berthCodec } from '../../adapters/codec';
import { anyOf, jwksVerifier, tokenFileVerifier, type TokenVerifier } from '../../adapters/codec-auth';
import { defaultCodecPort, startCodecServer, type CodecAccess } from '../../adapters/codec-server';
import { loadLocalToken, localTokenFile } from '../../adapters/local-token';
import { embeddedUiPort } from '../../adapters/temporal';
import { info } from '../output';

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError(`--port must be a port number, got '${text}'`);
  return port;
}

interface CodecServerFlags {
  port?: string;
  origin?: string;
  jwks?: string;
  issuer?: string;
  audience?: string;
  tokensFile?: string;
}

/** Local mode unless a way to check bearer tokens is given (a real cluster's set-up, README). */
function accessFrom(flags: CodecServerFlags, origin: string): CodecAccess {
  const verifiers: TokenVerifier[] = [];
  if (flags.jwks)
    verifiers.push(jwksVerifier({ jwksUrl: flags.jwks, issuer: flags.issuer, audience: flags.audience }));
  else if (flags.issuer || flags.audience) throw new UserError('--issuer and --audience go with --jwks');
  if (flags.tokensFile) verifiers.push(tokenFileVerifier(flags.tokensFile));
  if (verifiers.length) return { mode: 'bearer', origin, verify: anyOf(verifiers) };
  return { mode: 'local', origin, token: loadLocalToken() };
}

export function registerCodecServer(program: Command): void {
  program
    .command('codec-server')
    .description(
      "serve Temporal's remote codec protocol on 127.0.0.1 so a Web UI decrypts Berth's payloads with this key",
    )
    .option('--port <port>', 'port on 127.0.0.1 (default BERTH_CODEC_PORT or 8234)')
    .option(
      '--origin <url>',
      'origin of the Web UI allowed to call it (default http://localhost:<BERTH_UI_PORT>)',
    )
    .option(
      '--jwks <url>',
      "require a JWT on every request, signed by a key of this JWKS (the UI's access token)",
    )
    .option('--issuer <iss>', "with --jwks: the tokens' required issuer")
    .option('--audience <aud>', "with --jwks: the tokens' required audience")
    .option('--tokens-file <file>', 'require a bearer token on every request, one of the lines of this file')
    .action(async (flags: CodecServerFlags) => {
      const port = flags.port === undefined ? defaultCodecPort() : parsePort(flags.port);
      const origin = flags.origin ?? `http://localhost:${embeddedUiPort()}`;
      const access = accessFrom(flags, origin);
      const server = await startCodecServer({ port, access });
      info(
        `codec server on ${server.url} for the Web UI at ${origin} (key ${berthCodec().keyId}); Ctrl-C stops it`,
      );
      info(
        access.mode === 'local'
          ? `  callers: that UI's pages, or a request with 'Authorization: Bearer <the token in ${localTokenFile()}>'`
          : '  callers: every request must carry a bearer token that verifies',
      );
      info(`  UI setting: codec endpoint ${server.url.replace('127.0.0.1', 'localhost')}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      info('stopped');
    });
}
