import { FAULTS, median, planFaults, prng } from '../../bench/chaos-plan';

const key = (f: { kind: string; target: string }) => `${f.kind}@${f.target}`;

describe('the chaos plan', () => {
  test('the same seed gives the same faults; another seed other faults', () => {
    expect(planFaults(prng(14), 24)).toEqual(planFaults(prng(14), 24));
    expect(planFaults(prng(14), 24).map(key)).not.toEqual(planFaults(prng(15), 24).map(key));
  });

  test('every block of rounds is one shuffle of the whole list, the leader and the registry host in it', () => {
    const plan = planFaults(prng(7), FAULTS.length * 2 + 3);
    expect(plan).toHaveLength(FAULTS.length * 2 + 3);
    for (const block of [plan.slice(0, FAULTS.length), plan.slice(FAULTS.length, 2 * FAULTS.length)])
      expect(block.map(key).sort()).toEqual(FAULTS.map(key).sort());
    const kinds = new Set(FAULTS.map((f) => f.kind));
    for (const target of ['leader', 'registry'])
      for (const kind of ['kill-dockerd', 'stop-engine', 'cut'])
        expect(FAULTS.some((f) => f.kind === kind && f.target === target)).toBe(true);
    expect([...kinds].sort()).toEqual([
      'cut',
      'kill-dockerd',
      'server-restart',
      'stop-engine',
      'worker-restart',
    ]);
  });

  test('prng stays in [0, 1)', () => {
    const random = prng(0);
    for (let i = 0; i < 1000; i++) {
      const x = random();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  test('median: the lower middle of an even count; undefined for none', () => {
    expect(median([])).toBeUndefined();
    expect(median([5])).toBe(5);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2);
  });
});
