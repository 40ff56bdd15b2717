import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { berthCodec } from '../../adapters/codec';
import { defaultCodecPort, startCodecServer } from '../../adapters/codec-server';
import { embeddedUiPort } from '../../adapters/temporal';
import { info } from '../output';

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError(`--port must be a port number, got '${text}'`);
  return port;
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
    .action(async (options: { port?: string; origin?: string }) => {
      const port = options.port === undefined ? defaultCodecPort() : parsePort(options.port);
      const origin = options.origin ?? `http://localhost:${embeddedUiPort()}`;
      const server = await startCodecServer({ port, origin });
      info(
        `codec server on ${server.url} for the Web UI at ${origin} (key ${berthCodec().keyId}); Ctrl-C stops it`,
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
