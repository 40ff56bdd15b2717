import { PassThrough } from 'stream';
import type Docker from 'dockerode';
import { containerLogLines, demultiplexed } from '../../src/adapters/logs';

/**
 * `berth logs --follow` stops its streams with an AbortSignal. The real streams are covered end to
 * end (test/e2e/logs.test.ts); this is the one ordering a real engine rarely shows: the signal fires
 * while the engine is still answering the request for a stream.
 */
describe('containerLogLines with --follow', () => {
  it('returns, and closes the stream, when aborted before the engine answered', async () => {
    const abort = new AbortController();
    const stream = new PassThrough(); // a running container's log stream: it never ends by itself
    const docker = {
      getContainer: () => ({
        logs: async () => {
          abort.abort(); // Ctrl-C while the request is in flight
          return stream;
        },
      }),
    } as unknown as Docker;
    const lines: string[] = [];
    await containerLogLines(docker, 'c1', { follow: true }, (l) => lines.push(l.text), abort.signal);
    expect(stream.destroyed).toBe(true);
    expect(lines).toEqual([]);
  });

  it('ends its stream when aborted later', async () => {
    const abort = new AbortController();
    const stream = new PassThrough();
    const docker = { getContainer: () => ({ logs: async () => stream }) } as unknown as Docker;
    const done = containerLogLines(docker, 'c1', { follow: true }, () => undefined, abort.signal);
    await new Promise((r) => setImmediate(r));
    abort.abort();
    await done;
    expect(stream.destroyed).toBe(true);
  });
});

describe('demultiplexed', () => {
  const frame = (stream: number, text: string) => {
    const header = Buffer.alloc(8);
    header.writeUInt8(stream, 0);
    header.writeUInt32BE(Buffer.byteLength(text), 4);
    return Buffer.concat([header, Buffer.from(text)]);
  };

  test('the payloads of stdout and stderr frames, in order; a cut-off header is dropped', () => {
    const raw = Buffer.concat([
      frame(1, 'out\n'),
      frame(2, 'err\n'),
      frame(1, 'more'),
      Buffer.from([1, 0, 0]),
    ]);
    expect(demultiplexed(raw)).toBe('out\nerr\nmore');
  });
});
