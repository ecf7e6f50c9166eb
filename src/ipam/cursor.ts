/**
 * Finding free addresses without scanning a pool: the used offsets are sorted once, then a cursor walks
 * forward past them. Each call to {@link FreeCursor.next} or {@link FreeCursor.peek} is amortized O(1) over one allocation pass (the
 * cursor and the index into the used list only move forward), so a /16 or a /64 with most of its
 * addresses taken costs what the used list costs to sort, not what the pool holds.
 */

/** Hands out the lowest offsets in [0, size) that are not in `used`, in increasing order. */
export class FreeCursor {
  private readonly used: bigint[];
  private index = 0;
  private offset = 0n;

  /**
   * @param size number of addresses in the pool (exact, may exceed 2^53)
   * @param used offsets already taken, in any order, duplicates allowed; the array is sorted in place
   */
  constructor(private readonly size: bigint, used: bigint[]) {
    this.used = used.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The next free offset without taking it, or undefined when none is left. */
  peek(): bigint | undefined {
    const used = this.used;
    // Used offsets behind the cursor (and duplicates) are settled: skip them; step over used ones at it.
    while (this.index < used.length) {
      const u = used[this.index]!;
      if (u > this.offset) break;
      if (u === this.offset) this.offset++;
      this.index++;
    }
    return this.offset < this.size ? this.offset : undefined;
  }

  /** The next free offset, taken, or undefined when none is left. */
  next(): bigint | undefined {
    const offset = this.peek();
    if (offset !== undefined) this.offset++;
    return offset;
  }
}
