import type Docker from 'dockerode';
import { HostLoadMeter } from '../../src/adapters/host-load';

/**
 * The meter's bound, with an engine stand-in (the real engine's side is the chaos bench's and its
 * e2e test's cut rounds, where a host is cut off while it is read).
 */
function engine(hangs: Set<string>): Docker {
  const frame = {
    read: new Date().toISOString(),
    cpu_stats: { cpu_usage: { total_usage: 1e9 } },
    memory_stats: { usage: 1024 },
  };
  return {
    getContainer: (id: string) => ({
      stats: () => (hangs.has(id) ? new Promise(() => undefined) : Promise.resolve(frame)),
    }),
  } as unknown as Docker;
}

describe('HostLoadMeter', () => {
  test('a stats call that never answers ends the reading at its deadline, with what was read', async () => {
    const meter = new HostLoadMeter();
    const load = await meter.read('h1', engine(new Set(['b'])), ['a', 'b', 'c'], Date.now() + 400);
    // Without the bound the reading waits for the hanging call for ever (and jest fails it at 5 s).
    expect(load.sampled).toBe(2);
    expect(load.memoryBytes).toBe(2 * 1024);
  }, 10_000);

  test('every container answering: the reading does not wait for the deadline', async () => {
    const meter = new HostLoadMeter();
    const load = await meter.read('h1', engine(new Set()), ['a', 'b'], Date.now() + 60_000);
    expect(load.sampled).toBe(2);
  });
});
