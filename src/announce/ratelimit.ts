/**
 * Reply rate limiting per requester: a token bucket for each (requester MAC, address) pair, so one host
 * asking in a loop (a broken client, a frame replayed by a bridging loop) gets `perSecond` answers at most
 * and the worker does not send a reply for every copy. A host asking normally (a few times a second at
 * most, Linux retries once a second) never meets the limit.
 *
 * The table is fixed (`slots` entries, no allocation per frame): a pair hashes to one entry, and a pair
 * that finds another in its entry takes it over with a full bucket. So a flood from many MACs is not
 * limited here (each new requester starts full); what bounds it is the worker's batching and its socket
 * queue (see `link/worker.ts`).
 */

/** Options of {@link ReplyLimiter}. */
export interface ReplyLimit {
  /** Replies per second per requester and address; 0: no limit. */
  perSecond: number;
  /** Replies in a row before the rate applies (default: one second's worth). */
  burst?: number;
  /** Table size, a power of two (default 4096). */
  slots?: number;
}

/** Per (requester, address) token buckets in a fixed table; time comes from the caller. */
export class ReplyLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #mask: number;
  readonly #macHi: Uint32Array;
  readonly #macLo: Uint16Array;
  readonly #address: Int32Array;
  readonly #used: Uint8Array;
  readonly #tokens: Float64Array;
  readonly #at: Float64Array;

  constructor(limit: ReplyLimit) {
    const slots = limit.slots ?? 4096;
    if (!Number.isInteger(slots) || slots <= 0 || (slots & (slots - 1)) !== 0) throw new RangeError(`slots must be a power of two, got ${slots}`);
    this.#rate = limit.perSecond;
    this.#burst = Math.max(1, limit.burst ?? limit.perSecond);
    this.#mask = slots - 1;
    this.#macHi = new Uint32Array(slots);
    this.#macLo = new Uint16Array(slots);
    this.#address = new Int32Array(slots);
    this.#used = new Uint8Array(slots);
    this.#tokens = new Float64Array(slots);
    this.#at = new Float64Array(slots);
  }

  /** The limit this limiter applies. */
  get perSecond(): number {
    return this.#rate;
  }

  /**
   * Whether a reply to the requester whose MAC is `frame[macAt..macAt+6]` for the address hashed to
   * `address` (see {@link addressHash}) may go out at `now` (ms); takes a token when it may.
   */
  allow(frame: Uint8Array, macAt: number, address: number, now: number): boolean {
    if (this.#rate <= 0) return true;
    const hi = ((frame[macAt]! << 24) | (frame[macAt + 1]! << 16) | (frame[macAt + 2]! << 8) | frame[macAt + 3]!) >>> 0;
    const lo = (frame[macAt + 4]! << 8) | frame[macAt + 5]!;
    let h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1) ^ address, 0x85ebca6b);
    h ^= h >>> 16;
    const i = h & this.#mask;
    if (this.#used[i] === 0 || this.#macHi[i] !== hi || this.#macLo[i] !== lo || this.#address[i] !== address) {
      this.#used[i] = 1;
      this.#macHi[i] = hi;
      this.#macLo[i] = lo;
      this.#address[i] = address;
      this.#tokens[i] = this.#burst - 1;
      this.#at[i] = now;
      return true;
    }
    const tokens = Math.min(this.#burst, this.#tokens[i]! + ((now - this.#at[i]!) * this.#rate) / 1000);
    this.#at[i] = now;
    if (tokens < 1) {
      this.#tokens[i] = tokens;
      return false;
    }
    this.#tokens[i] = tokens - 1;
    return true;
  }
}

/** A 32-bit hash of an address key (its canonical text), computed once per address, not per frame. */
export function addressHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}
