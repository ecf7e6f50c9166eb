import { describe, expect, test } from 'bun:test';
import { FreeCursor } from '../../src/ipam/cursor.ts';

/** Takes up to `n` offsets from a cursor. */
function take(c: FreeCursor, n: number): (bigint | undefined)[] {
  const out: (bigint | undefined)[] = [];
  for (let i = 0; i < n; i++) out.push(c.next());
  return out;
}

describe('FreeCursor', () => {
  test.each([
    ['nothing used', 4n, [], [0n, 1n, 2n, 3n, undefined]],
    ['gaps are filled in order', 6n, [1n, 3n, 4n], [0n, 2n, 5n, undefined]],
    ['used list unsorted, with duplicates', 6n, [4n, 1n, 4n, 3n, 1n, 0n], [2n, 5n, undefined]],
    ['a run of used offsets at the start', 5n, [0n, 1n, 2n], [3n, 4n, undefined]],
    ['everything used', 3n, [2n, 0n, 1n], [undefined, undefined]],
    ['used offsets past the end are ignored', 2n, [5n, 7n], [0n, 1n, undefined]],
    ['empty pool', 0n, [], [undefined]],
  ] as const)('%s', (_, size, used, want) => {
    const c = new FreeCursor(size, [...used]);
    expect(take(c, want.length)).toEqual([...want]);
  });

  test('exact beyond 2^53: the last addresses of a /64', () => {
    const size = 2n ** 64n;
    const c = new FreeCursor(size, [0n, 1n, size - 1n]);
    expect(take(c, 2)).toEqual([2n, 3n]);
    const tail = new FreeCursor(3n * 2n ** 60n, []);
    expect(tail.next()).toBe(0n);
  });

  test('stepping over a long run costs one pass, not one per allocation', () => {
    // 200,000 used offsets then 1,000 allocations: a rescan from 0 each time would be 2*10^8 steps.
    const used = Array.from({ length: 200_000 }, (_, i) => BigInt(i));
    const c = new FreeCursor(2n ** 64n, used);
    const t = performance.now();
    const got = take(c, 1_000);
    expect(got[0]).toBe(200_000n);
    expect(got[999]).toBe(200_999n);
    expect(performance.now() - t).toBeLessThan(1_000);
  });
});
