/**
 * A hash map from the addresses of one family to a 32-bit value, held in typed arrays.
 *
 * The receive worker's table used to be a `Map<bigint, object>`: per address a Map entry, a bigint, an IP
 * object and a slot object, ~200 bytes on the worker's own engine heap, which grew to twice its live set
 * between collections (11 MiB of heap at 10,000 addresses). Here a slot is its key words, a value word and
 * a state byte (9 bytes for IPv4, 21 for IPv6) in buffers the collector does not trace, at a load of 0.4
 * after each resize (kept between 1/8 and 1/2 as addresses come and go): ~23 and ~53 bytes an address.
 * Open addressing with linear probing; removed entries leave a tombstone that the next resize clears.
 */
import type { IPFamily } from '../net/ip.ts';

const EMPTY = 0;
const FULL = 1;
const GONE = 2;
const MIN_CAPACITY = 16;
const M32 = 0xffffffffn;

/** The map of one family's addresses to a uint32 each. */
export class AddressMap {
  /** 32-bit words per key: 1 for IPv4, 4 for IPv6. */
  private readonly words: 1 | 4;
  private keys: Uint32Array;
  private values: Uint32Array;
  private state: Uint8Array;
  private count = 0;
  /** Full entries and tombstones: what the probe sequences cross. */
  private taken = 0;
  /** One key's words, reused by every operation (a bigint is split into it). */
  private readonly scratch: Uint32Array;

  constructor(readonly family: IPFamily, capacity = MIN_CAPACITY) {
    this.words = family === 4 ? 1 : 4;
    this.scratch = new Uint32Array(this.words);
    const cap = capacityFor(capacity);
    this.keys = new Uint32Array(cap * this.words);
    this.values = new Uint32Array(cap);
    this.state = new Uint8Array(cap);
  }

  /** How many addresses the map holds. */
  get size(): number {
    return this.count;
  }

  /** Entries allocated (full, removed and free): the map's footprint is ~`capacity` x (4 x words + 5) bytes. */
  get capacity(): number {
    return this.state.length;
  }

  /** The value stored for the address `value`, or undefined. */
  get(value: bigint): number | undefined {
    const i = this.find(this.split(value));
    return i < 0 ? undefined : this.values[i];
  }

  /** Whether the address `value` is in the map. */
  has(value: bigint): boolean {
    return this.find(this.split(value)) >= 0;
  }

  /** Stores `v` (a uint32) for the address `value`. */
  set(value: bigint, v: number): void {
    this.setWords(this.split(value), v);
  }

  /** Removes the address `value`; returns whether it was there. */
  delete(value: bigint): boolean {
    const i = this.find(this.split(value));
    if (i < 0) return false;
    this.state[i] = GONE;
    this.count--;
    if (this.count < this.state.length >>> 3 && this.state.length > MIN_CAPACITY) this.resize(this.count);
    return true;
  }

  /** Every address and its value, in no particular order. */
  *entries(): IterableIterator<[bigint, number]> {
    const w = this.words;
    for (let i = 0; i < this.state.length; i++) {
      if (this.state[i] !== FULL) continue;
      let v = 0n;
      for (let j = 0; j < w; j++) v = (v << 32n) | BigInt(this.keys[i * w + j]!);
      yield [v, this.values[i]!];
    }
  }

  private split(value: bigint): Uint32Array {
    const s = this.scratch;
    if (this.words === 1) s[0] = Number(value & M32);
    else {
      s[0] = Number((value >> 96n) & M32);
      s[1] = Number((value >> 64n) & M32);
      s[2] = Number((value >> 32n) & M32);
      s[3] = Number(value & M32);
    }
    return s;
  }

  private hash(k: Uint32Array): number {
    let h = k[0]!;
    for (let j = 1; j < this.words; j++) h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ k[j]!;
    // murmur3's finalizer: neighbouring addresses (a pool hands them out in order) spread over the table.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private find(k: Uint32Array): number {
    const mask = this.state.length - 1;
    const w = this.words;
    for (let i = this.hash(k) & mask; ; i = (i + 1) & mask) {
      const s = this.state[i];
      if (s === EMPTY) return -1;
      if (s === FULL && this.keyAt(i, k, w)) return i;
    }
  }

  private keyAt(i: number, k: Uint32Array, w: number): boolean {
    const o = i * w;
    for (let j = 0; j < w; j++) if (this.keys[o + j] !== k[j]) return false;
    return true;
  }

  private setWords(k: Uint32Array, v: number): void {
    const mask = this.state.length - 1;
    const w = this.words;
    let free = -1;
    let i = this.hash(k) & mask;
    for (; ; i = (i + 1) & mask) {
      const s = this.state[i];
      if (s === EMPTY) break;
      if (s === GONE) {
        if (free < 0) free = i;
      } else if (this.keyAt(i, k, w)) {
        this.values[i] = v >>> 0;
        return;
      }
    }
    if (free < 0) {
      free = i;
      this.taken++;
    }
    this.keys.set(k, free * w);
    this.values[free] = v >>> 0;
    this.state[free] = FULL;
    this.count++;
    if (this.taken * 2 > this.state.length) this.resize(this.count);
  }

  /** Rebuilds for `n` entries: drops the tombstones, and grows or shrinks to keep the load under one half. */
  private resize(n: number): void {
    const { keys, values, state } = this;
    const w = this.words;
    const cap = capacityFor(n);
    this.keys = new Uint32Array(cap * w);
    this.values = new Uint32Array(cap);
    this.state = new Uint8Array(cap);
    this.count = 0;
    this.taken = 0;
    const k = new Uint32Array(w);
    for (let i = 0; i < state.length; i++) {
      if (state[i] !== FULL) continue;
      for (let j = 0; j < w; j++) k[j] = keys[i * w + j]!;
      this.setWords(k, values[i]!);
    }
  }
}

/** The power of two that holds `n` entries at a load of at most 0.4 (room to grow before the next resize at 0.5). */
function capacityFor(n: number): number {
  let cap = MIN_CAPACITY;
  while (cap * 0.4 < n) cap *= 2;
  return cap;
}
