/**
 * One write of the whole state at a time, the last one of the newest state. The real use (an app's
 * DNS names through a rollout's batches) is exercised end to end in test/e2e/rollout.test.ts.
 */
import { SerialWriter } from '../../src/core/serial-writer';

interface Pending {
  state: number;
  land(): void;
  fail(err: Error): void;
}

/** A writer whose writes land only when the test says; `landed` is what reached the "file", in order. */
function controlledWrites(read: () => number) {
  const pending: Pending[] = [];
  const landed: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const writer = new SerialWriter(() => {
    const state = read();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => {
      pending.push({
        state,
        land: () => {
          inFlight--;
          landed.push(state);
          resolve();
        },
        fail: (err) => {
          inFlight--;
          reject(err);
        },
      });
    });
  });
  return { writer, pending, landed, maxInFlight: () => maxInFlight };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SerialWriter', () => {
  test('asks during a write share one next write, of the state when it starts', async () => {
    let state = 1;
    const w = controlledWrites(() => state);
    const done: string[] = [];
    const first = w.writer.request().then(() => done.push('first'));
    state = 2;
    const second = w.writer.request().then(() => done.push('second'));
    state = 3;
    const third = w.writer.request().then(() => done.push('third'));
    await tick();
    expect(w.pending.map((p) => p.state)).toEqual([1]);

    w.pending[0].land();
    await tick();
    expect(done).toEqual(['first']);
    // The second write starts only now, and writes the newest state (3), not the one asked with (2).
    expect(w.pending.map((p) => p.state)).toEqual([1, 3]);

    w.pending[1].land();
    await Promise.all([first, second, third]);
    expect(done).toEqual(['first', 'second', 'third']);
    expect(w.landed).toEqual([1, 3]);
    expect(w.maxInFlight()).toBe(1);
  });

  test('the older state never lands last, whichever write is slower', async () => {
    // Two replacements take their containers out one after the other: names {b, c} then {c}.
    let serving = ['a', 'b', 'c'];
    const w = controlledWrites(() => serving.length);
    serving = ['b', 'c'];
    const out1 = w.writer.request();
    serving = ['c'];
    const out2 = w.writer.request();
    await tick();
    // Without serial writes both would be in flight now, and landing 2 after 1 left 'b' published.
    expect(w.pending).toHaveLength(1);
    w.pending[0].land();
    await tick();
    w.pending[1].land();
    await Promise.all([out1, out2]);
    expect(w.landed).toEqual([2, 1]);
  });

  test('a failed write fails its own callers; the next one still runs', async () => {
    let state = 1;
    const w = controlledWrites(() => state);
    const first = w.writer.request();
    state = 2;
    const second = w.writer.request();
    await tick();
    w.pending[0].fail(new Error('disk full'));
    await expect(first).rejects.toThrow('disk full');
    await tick();
    w.pending[1].land();
    await expect(second).resolves.toBeUndefined();
    expect(w.landed).toEqual([2]);
    // Idle again: the next ask writes at once.
    state = 5;
    const third = w.writer.request();
    await tick();
    expect(w.pending.map((p) => p.state)).toEqual([1, 2, 5]);
    w.pending[2].land();
    await third;
  });
});
