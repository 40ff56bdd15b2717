/**
 * Bounded concurrency, pure (no I/O, no clock), so workflows may use it as well as the benches:
 * one home for "at most `limit` in flight".
 */

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
}
