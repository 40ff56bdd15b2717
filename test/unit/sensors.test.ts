import { RateLimiter } from '../../src/core/rate-limit';
import { isPlainDecimal, parseDecimal, sensorTargetProblem } from '../../src/core/sensors';

describe('sensor values are plain decimal numbers', () => {
  it.each([
    ['42', 42],
    ['-1.5', -1.5],
    ['0', 0],
    ['0.25', 0.25],
    ['007', 7],
    ['123456789012345.125', 123456789012345.125],
  ])('%s is %d', (text, value) => expect(parseDecimal(text)).toBe(value));

  it.each([
    '0x10',
    '0b101',
    '0o17',
    '5e-324',
    '1e3',
    '1E3',
    'Infinity',
    '-Infinity',
    'NaN',
    '+1',
    '.5',
    '5.',
    '',
    ' 1',
    '1 000',
    '1,5',
    '١٢',
    '1234567890123456',
  ])('%p is refused', (text) => expect(parseDecimal(text)).toBeUndefined());

  it('a JSON number counts when its decimal form is plain', () => {
    expect(isPlainDecimal(1e3)).toBe(true); // JSON 1e3 is the number 1000
    expect(isPlainDecimal(-0.5)).toBe(true);
    for (const v of [5e-324, 1e21, 1e-7, Infinity, NaN]) expect(isPlainDecimal(v)).toBe(false);
  });
});

describe('sensor names follow Berth’s name rules', () => {
  it('accepts DNS labels for app and service, and metric names', () => {
    expect(sensorTargetProblem('shop', 'web', 'requests')).toBeUndefined();
    expect(sensorTargetProblem('shop-1', 'w2', 'http.requests:rate_5m-x')).toBeUndefined();
  });

  it.each([
    ['../etc', 'web', 'r', /^APP must be a DNS label .*got "..\/etc"$/],
    ['shop', 'we\u0000b', 'r', /^SERVICE must be a DNS label .*got "we\\u0000b"$/],
    ['shop', 'web', 'a\r\nX-Injected: 1', /^NAME must be a metric name .*got "a\\r\\nX-Injected: 1"$/],
    ['shop', 'web', '\u001b[31mred', /^NAME must be a metric name .*got "\\u001b\[31mred"$/],
    ['Shop', 'web', 'r', /^APP must be a DNS label/],
    ['shop', 'web', '', /^NAME must be a metric name/],
    ['shop', 'web', '..', /^NAME must be a metric name/],
    ['a'.repeat(100), 'web', 'r', /^APP must be a DNS label .*\.\.\."$/],
  ])('%j/%j/%j is refused', (app, service, name, message) => {
    const problem = sensorTargetProblem(app, service, name) ?? '';
    expect(problem).toMatch(message);
    expect([...problem].every((c) => c.charCodeAt(0) >= 0x20)).toBe(true);
  });
});

describe('rate limiting: a token bucket per key', () => {
  it('lets a burst through, then refills at the rate', () => {
    const limiter = new RateLimiter({ perSecond: 5, burst: 3 });
    expect([1, 2, 3].map(() => limiter.take('a/web', 0).ok)).toEqual([true, true, true]);
    expect(limiter.take('a/web', 0)).toEqual({ ok: false, retryAfterMs: 200 });
    expect(limiter.take('a/db', 0).ok).toBe(true); // another key has its own bucket
    expect(limiter.take('a/web', 100)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(limiter.take('a/web', 200).ok).toBe(true);
    expect(limiter.take('a/web', 200).ok).toBe(false);
    expect([1, 2, 3, 4].map(() => limiter.take('a/web', 60_000).ok)).toEqual([true, true, true, false]);
  });

  it('a clock going backwards refills nothing', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 });
    expect(limiter.take('k', 10_000).ok).toBe(true);
    expect(limiter.take('k', 0).ok).toBe(false);
  });

  it('keeps at most maxKeys buckets, dropping the least recently used', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 3);
    for (const k of ['a', 'b', 'c']) limiter.take(k, 0);
    limiter.take('a', 0); // a is used again: b is now the oldest
    limiter.take('d', 0);
    expect(limiter.keys).toBe(3);
    expect(limiter.take('a', 0).ok).toBe(false); // kept, still empty
    expect(limiter.take('b', 0).ok).toBe(true); // dropped, so new and full
  });
});
