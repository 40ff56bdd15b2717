import { LOAD_WINDOW_MS, loadFigures, movingAverage, readingTimeoutMs } from '../../src/core/host-load';
import { place } from '../../src/core/placement/engine';
import { containers, GiB, host, s } from './placement/helpers';

const capacity = { cpus: 4, memoryBytes: 8 * GiB };

describe('movingAverage', () => {
  test('without a previous value (or time) it is the value itself', () => {
    expect(movingAverage(undefined, 0.7, 1_000)).toBe(0.7);
    expect(movingAverage(0.2, 0.7, 0)).toBe(0.7);
    expect(movingAverage(Number.NaN, 0.7, 1_000)).toBe(0.7);
  });

  test('decays like the kernel load average: one window keeps 1/e of the previous value', () => {
    expect(movingAverage(1, 0, LOAD_WINDOW_MS)).toBeCloseTo(Math.exp(-1), 6);
    expect(movingAverage(0, 1, LOAD_WINDOW_MS)).toBeCloseTo(1 - Math.exp(-1), 6);
    // A short interval moves it a little toward the new value, never past it.
    const next = movingAverage(0.2, 1, 1_000);
    expect(next).toBeGreaterThan(0.2);
    expect(next).toBeLessThan(0.25);
  });
});

describe('loadFigures', () => {
  test("CPU and memory as shares of the host's capacity, clamped to 0..1", () => {
    expect(loadFigures({ cpuCores: 1, memoryBytes: 2 * GiB }, capacity, { elapsedMs: 0 })).toEqual({
      cpu: 0.25,
      memory: 0.25,
      load: 0.25,
    });
    expect(loadFigures({ cpuCores: 9, memoryBytes: 20 * GiB }, capacity, { elapsedMs: 0 })).toMatchObject({
      cpu: 1,
      memory: 1,
    });
  });

  test("an ssh host's load is its kernel load average over cores (may exceed 1)", () => {
    expect(loadFigures({ cpuCores: 0.4, loadAverage: 6 }, capacity, { load: 0.1, elapsedMs: 1_000 })).toEqual(
      {
        cpu: 0.1,
        load: 1.5,
      },
    );
  });

  test("a netns host's load is the moving average of its CPU share", () => {
    const figures = loadFigures({ cpuCores: 4 }, capacity, { load: 0, elapsedMs: LOAD_WINDOW_MS });
    expect(figures.cpu).toBe(1);
    expect(figures.load).toBeCloseTo(1 - Math.exp(-1), 3);
  });

  test('a reading without usage keeps the previous load and says nothing of CPU or memory', () => {
    expect(loadFigures({}, capacity, { load: 0.3, elapsedMs: 1_000 })).toEqual({ load: 0.3 });
    expect(loadFigures({}, capacity, { elapsedMs: 1_000 })).toEqual({});
  });

  test('a host of unknown capacity gets no shares', () => {
    expect(
      loadFigures({ cpuCores: 1, memoryBytes: GiB }, { cpus: 0, memoryBytes: 0 }, { elapsedMs: 0 }),
    ).toEqual({});
  });
});

describe('readingTimeoutMs', () => {
  test('twice the sensing interval, from 2 s to 5 s', () => {
    expect(readingTimeoutMs(200)).toBe(2_000);
    expect(readingTimeoutMs(1_500)).toBe(3_000);
    expect(readingTimeoutMs(60_000)).toBe(5_000);
  });
});

describe('a busy host, as sensed, is avoided by the CPU strategies', () => {
  // What sensing does with a reading: the CPU share becomes the host's `cpuUsage`.
  const sensed = (id: string, cpuCores: number) =>
    host(id, { cpuUsage: loadFigures({ cpuCores }, capacity, { elapsedMs: 0 }).cpu });
  const pool = () => [sensed('busy', 3.2), sensed('idle', 0.1), sensed('some', 1)];

  test('lowestCpuUsage places on the least busy hosts first', () => {
    const r = place({ hosts: pool(), containers: containers('web', 2, [s('lowestCpuUsage')]) });
    expect(r.unplaced).toEqual([]);
    expect(r.placements.map((p) => p.host)).not.toContain('busy');
    expect(r.placements[0].host).toBe('idle');
  });

  test('cpuUsage leaves out a host at or above maxCpu', () => {
    const r = place({ hosts: pool(), containers: containers('web', 3, [s('cpuUsage', { maxCpu: 0.5 })]) });
    expect(r.placements.map((p) => p.host)).not.toContain('busy');
    // With only the busy host left, nothing is placed.
    const only = place({ hosts: [sensed('busy', 3.2)], containers: containers('web', 1, [s('cpuUsage')]) });
    expect(only.placements).toEqual([]);
    expect(only.unplaced).toHaveLength(1);
  });
});
