import {
  MAX_WINDOW_ENTRIES,
  autoscalerConfig,
  decide,
  recommend,
  type AutoscalerConfig,
  type AutoscalerDecision,
  type Recommendation,
} from '../../../src/core/policy';

const bounds = (over: Record<string, unknown> = {}): AutoscalerConfig =>
  autoscalerConfig({
    metric: 'cpu',
    metricLowerBound: 20,
    metricUpperBound: 80,
    minPoolSize: 1,
    maxPoolSize: 10,
    ...over,
  });
const tracking = (over: Record<string, unknown> = {}): AutoscalerConfig =>
  autoscalerConfig({ metric: 'cpu', target: 50, minPoolSize: 1, maxPoolSize: 20, ...over });

/** A deterministic pseudo-random sequence in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Step extends AutoscalerDecision {
  window: Recommendation[];
}

/** Feeds samples [atMs, metric] in order, resizing to each decision's `desired` as an operator would. */
function simulate(config: AutoscalerConfig, start: number, samples: Array<[number, number]>): Step[] {
  let window: Recommendation[] = [];
  let current = start;
  const steps: Step[] = [];
  for (const [at, metric] of samples) {
    const r = decide(config, window, at, current, metric);
    window = r.window;
    steps.push({ ...r.decision, window });
    current = r.decision.desired;
  }
  return steps;
}

/** Samples every `everyMs` from `fromMs` (inclusive) to `toMs` (exclusive), metric by time. */
function every(
  everyMs: number,
  fromMs: number,
  toMs: number,
  metric: (at: number) => number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = fromMs; at < toMs; at += everyMs) out.push([at, metric(at)]);
  return out;
}

const changes = (steps: Step[]): Array<[number, number, number]> =>
  steps.filter((s) => s.desired !== s.current).map((s) => [s.atMs, s.current, s.desired]);

describe('autoscalerConfig', () => {
  it('applies defaults in bounds mode (Brooklyn)', () => {
    expect(autoscalerConfig({ metric: 'cpu', metricUpperBound: 80 })).toEqual({
      metric: 'cpu',
      mode: 'bounds',
      metricUpperBound: 80,
      tolerance: 0.1,
      minPoolSize: 1,
      maxPoolSize: 1000,
      resizeUpStabilizationDelayMs: 0,
      resizeDownStabilizationDelayMs: 0,
      resizeUpIncrement: 1,
      resizeUpMax: 1000,
      resizeDownIncrement: 1,
      resizeDownMax: 1000,
    });
  });

  it("is in target mode when 'target' is set, with HPA's 5 minute scale-down delay", () => {
    const c = autoscalerConfig({ metric: 'memory', target: 70 });
    expect(c.mode).toBe('target');
    expect(c.target).toBe(70);
    expect(c.resizeDownStabilizationDelayMs).toBe(300_000);
    expect(c.resizeUpStabilizationDelayMs).toBe(0);
    expect(c.metricUpperBound).toBeUndefined();
  });

  it("reads the blueprint parser's keys (durations in ms, Brooklyn's iteration names)", () => {
    const c = autoscalerConfig({
      metric: 'cpu',
      metricLowerBound: 0.2,
      metricUpperBound: 0.8,
      minPoolSize: 2,
      maxPoolSize: 5,
      resizeUpStabilizationDelayMs: 30_000,
      resizeDownStabilizationDelayMs: 300_000,
      resizeUpIterationIncrement: 2,
      resizeUpIterationMax: 4,
      resizeDownIterationIncrement: 1,
      resizeDownIterationMax: 3,
    });
    expect(c).toMatchObject({
      mode: 'bounds',
      metricLowerBound: 0.2,
      metricUpperBound: 0.8,
      minPoolSize: 2,
      maxPoolSize: 5,
      resizeUpStabilizationDelayMs: 30_000,
      resizeDownStabilizationDelayMs: 300_000,
      resizeUpIncrement: 2,
      resizeUpMax: 4,
      resizeDownIncrement: 1,
      resizeDownMax: 3,
    });
  });

  it('accepts unsuffixed durations as text or milliseconds, and an explicit tolerance', () => {
    const c = autoscalerConfig({
      metric: 'cpu',
      target: 50,
      tolerance: 0.05,
      resizeUpStabilizationDelay: '30s',
      resizeDownStabilizationDelay: 1500,
    });
    expect(c.resizeUpStabilizationDelayMs).toBe(30_000);
    expect(c.resizeDownStabilizationDelayMs).toBe(1500);
    expect(c.tolerance).toBe(0.05);
  });

  it('is idempotent (its own output is valid input and comes back unchanged)', () => {
    for (const c of [bounds({ resizeUpIterationIncrement: 2 }), tracking({ tolerance: 0 })]) {
      expect(autoscalerConfig({ ...c })).toEqual(c);
    }
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no metric', { metricUpperBound: 80 }, /needs 'metric'/],
    [
      'neither upper bound nor target',
      { metric: 'cpu', metricLowerBound: 10 },
      /needs 'metricUpperBound'.*or 'target'/,
    ],
    [
      'lower equal to upper',
      { metric: 'cpu', metricLowerBound: 80, metricUpperBound: 80 },
      /'metricLowerBound' \(80\) must be below 'metricUpperBound' \(80\)/,
    ],
    [
      'lower above upper',
      { metric: 'cpu', metricLowerBound: 90, metricUpperBound: 80 },
      /'metricLowerBound' \(90\) must be below/,
    ],
    [
      'min above max',
      { metric: 'cpu', metricUpperBound: 80, minPoolSize: 5, maxPoolSize: 2 },
      /'minPoolSize' \(5\) must not exceed 'maxPoolSize' \(2\)/,
    ],
    ['both modes', { metric: 'cpu', target: 50, metricUpperBound: 80 }, /either 'target'.*not both/],
    ['target of 0', { metric: 'cpu', target: 0 }, /'target' must be greater than 0/],
    ['upper bound of 0', { metric: 'cpu', metricUpperBound: 0 }, /'metricUpperBound' must be greater than 0/],
    [
      'negative lower bound',
      { metric: 'cpu', metricLowerBound: -1, metricUpperBound: 80 },
      /'metricLowerBound' must be at least 0/,
    ],
    [
      'a number as text',
      { metric: 'cpu', metricUpperBound: '80' },
      /'metricUpperBound' must be a number, got "80"/,
    ],
    ['negative tolerance', { metric: 'cpu', target: 50, tolerance: -0.1 }, /'tolerance' must be at least 0/],
    [
      'fractional pool size',
      { metric: 'cpu', metricUpperBound: 80, minPoolSize: 1.5 },
      /'minPoolSize' must be a whole number/,
    ],
    [
      'zero increment',
      { metric: 'cpu', metricUpperBound: 80, resizeUpIterationIncrement: 0 },
      /'resizeUpIterationIncrement' must be at least 1/,
    ],
    [
      'increment above max',
      { metric: 'cpu', metricUpperBound: 80, resizeDownIterationIncrement: 5, resizeDownIterationMax: 2 },
      /'resizeDownIterationIncrement' \(5\) must not exceed 'resizeDownIterationMax' \(2\)/,
    ],
    ['mode target without target', { metric: 'cpu', mode: 'target' }, /mode 'target' needs 'target'/],
    ['unknown mode', { metric: 'cpu', target: 50, mode: 'hpa' }, /'mode' must be 'bounds' or 'target'/],
    [
      'bad duration text',
      { metric: 'cpu', target: 50, resizeUpStabilizationDelay: 'soon' },
      /'resizeUpStabilizationDelay' must be a duration like/,
    ],
    [
      'negative delay',
      { metric: 'cpu', target: 50, resizeDownStabilizationDelayMs: -1 },
      /'resizeDownStabilizationDelayMs' must be at least 0/,
    ],
  ])('refuses %s with a plain Error', (_name, raw, message) => {
    let error: unknown;
    try {
      autoscalerConfig(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^autoscaler: /);
    expect((error as Error).message).toMatch(message);
  });
});

describe('recommend: bounds mode (Brooklyn AutoScalerPolicy)', () => {
  const c = bounds();

  it('holds inside the bounds, including exactly on them', () => {
    expect(recommend(c, 3, 50)).toBe(3);
    expect(recommend(c, 3, 80)).toBe(3);
    expect(recommend(c, 3, 20)).toBe(3);
  });

  it('grows above the upper bound to the smallest size that brings the metric under it', () => {
    expect(recommend(c, 2, 93.1)).toBe(3); // 186.2 / 80 = 2.33
    expect(recommend(c, 3, 90)).toBe(4); // 270 / 80 = 3.375
    expect(recommend(c, 4, 160)).toBe(8); // exactly 8
    expect(recommend(c, 2, 80.01)).toBe(3);
  });

  it('does not round floating-point noise up to an extra instance', () => {
    const f = bounds({ metricLowerBound: 0.01, metricUpperBound: 0.02, maxPoolSize: 100 });
    expect((2 * 0.07) / 0.02).toBeGreaterThan(7); // 7.000000000000001
    expect(recommend(f, 2, 0.07)).toBe(7);
  });

  it('shrinks below the lower bound to the largest size keeping the metric at or above it', () => {
    expect(recommend(c, 10, 10)).toBe(5); // 100 / 20
    expect(recommend(c, 10, 19)).toBe(9); // 190 / 20 = 9.5
    expect(recommend(c, 4, 1)).toBe(1); // floor(0.2) = 0, clamped to minPoolSize
  });

  it('grows by a multiple of resizeUpIterationIncrement and at most resizeUpIterationMax', () => {
    expect(recommend(bounds({ resizeUpIterationIncrement: 2 }), 2, 90)).toBe(4); // wants 3: +1 → +2
    expect(recommend(bounds({ resizeUpIterationIncrement: 3, maxPoolSize: 20 }), 2, 250)).toBe(8); // wants 7: +5 → +6
    expect(recommend(bounds({ resizeUpIterationMax: 2 }), 2, 400)).toBe(4); // wants 10: capped at +2
    expect(recommend(bounds({ resizeUpIterationIncrement: 2, maxPoolSize: 3 }), 2, 90)).toBe(3); // +2 clamped by max
  });

  it('shrinks by a multiple of resizeDownIterationIncrement and at most resizeDownIterationMax', () => {
    expect(recommend(bounds({ resizeDownIterationMax: 2 }), 10, 10)).toBe(8); // wants 5: capped at -2
    expect(recommend(bounds({ resizeDownIterationIncrement: 3 }), 10, 18)).toBe(7); // wants 9: -1 → -3
  });

  it("never shrinks so far that the next sample would be above the upper bound (Brooklyn's anti-thrashing)", () => {
    const narrow = bounds({ metricLowerBound: 20, metricUpperBound: 30, resizeDownIterationIncrement: 5 });
    // wants 9 (190 / 20); -1 rounds to -5 → 5 instances at 38 each, above 30 → back to 10: no change.
    expect(recommend(narrow, 10, 19)).toBe(10);
    // with room to spare it still shrinks by the increment: 100 total / 5 = 20 each.
    expect(recommend(narrow, 10, 10)).toBe(5);
  });

  it('never shrinks on the metric without a lower bound', () => {
    const upperOnly = autoscalerConfig({ metric: 'cpu', metricUpperBound: 80 });
    expect(recommend(upperOnly, 5, 0)).toBe(5);
  });

  it('is always within [minPoolSize, maxPoolSize]', () => {
    const clamped = bounds({ minPoolSize: 2, maxPoolSize: 6 });
    expect(recommend(clamped, 5, 400)).toBe(6);
    expect(recommend(clamped, 2, 1)).toBe(2);
    expect(recommend(clamped, 9, 50)).toBe(6); // current above max
    expect(recommend(clamped, 1, 50)).toBe(2); // current below min
    const rnd = lcg(7);
    for (let i = 0; i < 2000; i++) {
      const current = Math.floor(rnd() * 12);
      const metric = rnd() * 500;
      const r = recommend(clamped, current, metric);
      expect(Number.isInteger(r)).toBe(true);
      expect(r).toBeGreaterThanOrEqual(2);
      expect(r).toBeLessThanOrEqual(6);
    }
  });

  it('treats a current size of 0 as minPoolSize', () => {
    const c2 = bounds({ minPoolSize: 2 });
    expect(recommend(c2, 0, 90)).toBe(3); // ceil(2 * 90 / 80)
    expect(recommend(c2, 0, 50)).toBe(2);
  });

  it('holds when the metric has no value', () => {
    expect(recommend(c, 4, Number.NaN)).toBe(4);
    expect(recommend(c, 4, Number.POSITIVE_INFINITY)).toBe(4);
  });
});

describe('recommend: target mode (Kubernetes HPA)', () => {
  const c = tracking();

  it('is ceil(current * metric / target)', () => {
    expect(recommend(c, 2, 100)).toBe(4);
    expect(recommend(c, 3, 60)).toBe(4); // 3.6
    expect(recommend(c, 10, 25)).toBe(5);
    expect(recommend(c, 10, 40)).toBe(8);
    expect(recommend(c, 1, 200)).toBe(4);
  });

  it('holds within the tolerance (inclusive), acts just outside it', () => {
    expect(recommend(c, 2, 55)).toBe(2); // ratio exactly 1.1
    expect(recommend(c, 2, 45)).toBe(2); // ratio exactly 0.9
    expect(recommend(c, 2, 52)).toBe(2);
    expect(recommend(c, 2, 56)).toBe(3); // ceil(2.24)
    expect(recommend(c, 10, 44)).toBe(9); // ceil(8.8)
    expect(recommend(tracking({ tolerance: 0 }), 2, 51)).toBe(3);
  });

  it('clamps to [minPoolSize, maxPoolSize] and applies the per-decision steps', () => {
    expect(recommend(c, 5, 1000)).toBe(20);
    expect(recommend(c, 5, 0)).toBe(1);
    expect(recommend(tracking({ resizeUpIterationMax: 3 }), 2, 500)).toBe(5);
    expect(recommend(tracking({ resizeDownIterationMax: 1 }), 10, 10)).toBe(9);
  });
});

describe('decide: stabilisation', () => {
  it('with no delays acts on the first sample and says why', () => {
    const { window, decision } = decide(bounds(), [], 0, 2, 93.1);
    expect(decision).toEqual({
      atMs: 0,
      metric: 93.1,
      current: 2,
      recommended: 3,
      desired: 3,
      reason: 'cpu 93.1 above 80 for 0s: 2 → 3',
    });
    expect(window).toEqual([{ atMs: 0, size: 3 }]);
  });

  it('explains holding', () => {
    expect(decide(bounds(), [], 0, 3, 50).decision.reason).toBe('cpu 50 within bounds 20..80');
    expect(decide(bounds(), [], 0, 10, 99).decision).toMatchObject({
      desired: 10,
      reason: 'cpu 99 above 80 but already at maxPoolSize 10',
    });
    expect(decide(bounds(), [], 0, 1, 1).decision.reason).toBe('cpu 1 below 20 but already at minPoolSize 1');
    expect(decide(tracking(), [], 0, 2, 52).decision.reason).toBe('cpu 52 within 10% of target 50');
    expect(decide(bounds(), [], 0, 3, Number.NaN).decision).toMatchObject({
      desired: 3,
      reason: 'no value for cpu',
    });
  });

  it('scales up after exactly resizeUpStabilizationDelay of sustained load', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000 });
    const steps = simulate(
      c,
      2,
      every(5_000, 0, 40_000, () => 90),
    );
    expect(changes(steps)).toEqual([[30_000, 2, 3]]);
    const at = (ms: number) => steps.find((s) => s.atMs === ms)!;
    expect(at(25_000).reason).toBe('waiting: scale-up stabilisation (25s of 30s); cpu 90 above 80');
    expect(at(25_000).recommended).toBe(3);
    expect(at(30_000).reason).toBe('cpu 90 above 80 for 30s: 2 → 3');
  });

  it('with irregular samples scales at the first sample once the delay is covered', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000 });
    const steps = simulate(c, 2, [
      [0, 90],
      [17_000, 90],
      [29_999, 90],
      [41_000, 90],
    ]);
    expect(changes(steps)).toEqual([[41_000, 2, 3]]);
  });

  it('needs another full delay for each further step', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000 });
    const steps = simulate(
      c,
      2,
      every(5_000, 0, 100_000, () => 90),
    );
    // 2 → 3 at 30s; at 35s the recommendation (for 3 instances) becomes 4, sustained until 65s; and so on.
    expect(changes(steps)).toEqual([
      [30_000, 2, 3],
      [65_000, 3, 4],
    ]);
  });

  it('does not flap when the metric oscillates faster than the delays', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000, resizeDownStabilizationDelayMs: 60_000 });
    const samples = every(10_000, 0, 3_600_000, (at) => ((at / 10_000) % 2 === 0 ? 95 : 5));
    const steps = simulate(c, 4, samples);
    expect(changes(steps)).toEqual([]);
    expect(steps.every((s) => s.desired === 4)).toBe(true);
    // The same metric without delays does flap: the test above can fail.
    expect(changes(simulate(bounds(), 4, samples)).length).toBeGreaterThan(100);
  });

  it('does not flap with irregular oscillation either', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000, resizeDownStabilizationDelayMs: 60_000 });
    const rnd = lcg(42);
    const samples: Array<[number, number]> = [];
    let at = 0;
    for (let i = 0; i < 500; i++) {
      at += 1_000 + Math.floor(rnd() * 25_000); // gaps of 1-26 s, always below the up delay
      samples.push([at, i % 2 === 0 ? 70 + rnd() * 60 : rnd() * 25]); // high and low alternate
    }
    expect(changes(simulate(c, 4, samples))).toEqual([]);
  });

  it('scales down after exactly resizeDownStabilizationDelay of low load', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 60_000, resizeDownStabilizationDelayMs: 300_000 });
    const steps = simulate(
      c,
      4,
      every(10_000, 0, 320_000, () => 10),
    );
    expect(changes(steps)).toEqual([[300_000, 4, 2]]);
    expect(steps.find((s) => s.atMs === 300_000)!.reason).toBe('cpu 10 below 20 for 5m0s: 4 → 2');
  });

  it('a spike inside the scale-down delay prevents the scale-down until a full delay after it', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 60_000, resizeDownStabilizationDelayMs: 300_000 });
    const steps = simulate(
      c,
      4,
      every(10_000, 0, 600_000, (at) => (at === 200_000 ? 95 : 10)),
    );
    // The spike's recommendation (5) holds from 200s until the next sample at 210s.
    expect(changes(steps)).toEqual([[510_000, 4, 2]]);
    const at = (ms: number) => steps.find((s) => s.atMs === ms)!;
    expect(at(200_000)).toMatchObject({ recommended: 5, desired: 4 });
    expect(at(200_000).reason).toBe('waiting: scale-up stabilisation (0s of 1m0s); cpu 95 above 80');
    expect(at(300_000).reason).toBe('waiting: scale-down stabilisation (1m30s of 5m0s); cpu 10 below 20');
    expect(at(500_000).reason).toBe('waiting: scale-down stabilisation (4m50s of 5m0s); cpu 10 below 20');
    expect(at(510_000).reason).toBe('cpu 10 below 20 for 5m0s: 4 → 2');
  });

  it("target mode waits HPA's default 5 minutes before scaling down, and scales up at once", () => {
    const c = tracking();
    const down = simulate(
      c,
      10,
      every(15_000, 0, 330_000, () => 25),
    );
    expect(changes(down)).toEqual([[300_000, 10, 5]]);
    expect(down.find((s) => s.atMs === 300_000)!.reason).toBe('cpu 25 below target 50 for 5m0s: 10 → 5');
    expect(decide(c, [], 0, 2, 100).decision).toMatchObject({
      desired: 4,
      reason: 'cpu 100 above target 50 for 0s: 2 → 4',
    });
  });

  it('moves a current size outside [min, max] inside at once, whatever the metric and delays', () => {
    const c = bounds({
      minPoolSize: 2,
      maxPoolSize: 6,
      resizeUpStabilizationDelayMs: 600_000,
      resizeDownStabilizationDelayMs: 600_000,
    });
    expect(decide(c, [], 0, 0, 0).decision).toMatchObject({
      desired: 2,
      reason: 'size 0 below minPoolSize 2: 0 → 2',
    });
    expect(decide(c, [], 0, 1, 10).decision.desired).toBe(2);
    expect(decide(c, [], 0, 9, 99).decision).toMatchObject({
      desired: 6,
      reason: 'size 9 above maxPoolSize 6: 9 → 6',
    });
  });

  it('never decides a size outside [min, max]', () => {
    const c = bounds({
      minPoolSize: 2,
      maxPoolSize: 7,
      resizeUpStabilizationDelayMs: 20_000,
      resizeDownStabilizationDelayMs: 40_000,
      resizeUpIterationIncrement: 3,
    });
    const rnd = lcg(3);
    let window: Recommendation[] = [];
    let current = 4;
    for (let i = 0; i < 3000; i++) {
      if (rnd() < 0.02) current = Math.floor(rnd() * 12); // someone resized by hand
      const r = decide(c, window, i * 5_000, current, rnd() * 300);
      expect(r.decision.desired).toBeGreaterThanOrEqual(2);
      expect(r.decision.desired).toBeLessThanOrEqual(7);
      expect(r.decision.recommended).toBeGreaterThanOrEqual(2);
      expect(r.decision.recommended).toBeLessThanOrEqual(7);
      window = r.window;
      current = r.decision.desired;
    }
  });
});

describe('decide: the window', () => {
  it('prunes to the longest delay, keeping the recommendation in effect when it began', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000, resizeDownStabilizationDelayMs: 60_000 });
    const steps = simulate(
      c,
      4,
      every(10_000, 0, 600_000, (at) => ((at / 10_000) % 2 === 0 ? 95 : 5)),
    );
    const last = steps[steps.length - 1];
    const w = last.window;
    const start = last.atMs - 60_000;
    expect(w[0].atMs).toBeLessThanOrEqual(start);
    expect(w[1].atMs).toBeGreaterThan(start);
    expect(w.length).toBe(7); // 530 000 (in effect when the 60 s began) ... 590 000
    expect(w[w.length - 1]).toEqual({ atMs: 590_000, size: last.recommended });
  });

  it('keeps the first of a run of equal recommendations', () => {
    const c = bounds({ resizeDownStabilizationDelayMs: 300_000 });
    const steps = simulate(
      c,
      3,
      every(1_000, 0, 100_000, () => 50),
    );
    expect(steps[steps.length - 1].window).toEqual([{ atMs: 0, size: 3 }]);
  });

  it(`is never longer than ${MAX_WINDOW_ENTRIES} entries, keeping the newest`, () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 3_600_000, resizeDownStabilizationDelayMs: 3_600_000 });
    const steps = simulate(
      c,
      4,
      every(1, 0, 2_000, (at) => (at % 2 === 0 ? 95 : 5)),
    );
    const w = steps[steps.length - 1].window;
    expect(w.length).toBe(MAX_WINDOW_ENTRIES);
    expect(w[w.length - 1].atMs).toBe(1_999);
    expect(w[0].atMs).toBe(1_999 - MAX_WINDOW_ENTRIES + 1);
  });

  it('does not modify its input and drops entries later than now', () => {
    const c = bounds({ resizeDownStabilizationDelayMs: 60_000 });
    const input: Recommendation[] = Object.freeze([
      Object.freeze({ atMs: 0, size: 2 }),
      Object.freeze({ atMs: 90_000, size: 9 }),
    ]) as Recommendation[];
    const r = decide(c, input, 30_000, 3, 10);
    expect(input).toEqual([
      { atMs: 0, size: 2 },
      { atMs: 90_000, size: 9 },
    ]);
    expect(r.window).toEqual([
      { atMs: 0, size: 2 },
      { atMs: 30_000, size: 1 },
    ]);
  });

  it('is deterministic: the same inputs give the same outputs', () => {
    const c = bounds({ resizeUpStabilizationDelayMs: 30_000, resizeDownStabilizationDelayMs: 60_000 });
    const samples = every(7_000, 0, 400_000, (at) => (at * 7919) % 150);
    expect(simulate(c, 3, samples)).toEqual(simulate(c, 3, samples));
  });
});
