import { describe, expect, test } from 'bun:test';
import { AddressMap } from '../../src/link/address-map.ts';
import { mulberry32 } from '../support/prng.ts';

describe('AddressMap', () => {
  test('set, get, has, delete for both families, including the ends of each range', () => {
    const m4 = new AddressMap(4);
    const m6 = new AddressMap(6);
    const ends4 = [0n, 1n, 0xffffffffn, 0xc0000201n];
    const ends6 = [0n, 1n, (1n << 128n) - 1n, 0x20010db8n << 96n, (0x20010db8n << 96n) | 1n, 1n << 64n, 1n << 32n];
    ends4.forEach((v, i) => m4.set(v, i));
    ends6.forEach((v, i) => m6.set(v, 0xffffffff - i));
    ends4.forEach((v, i) => expect(m4.get(v)).toBe(i));
    ends6.forEach((v, i) => expect(m6.get(v)).toBe(0xffffffff - i));
    expect(m4.size).toBe(ends4.length);
    expect(m6.size).toBe(ends6.length);
    // Addresses that share words with a stored one but differ in another are not found.
    expect(m6.has((0x20010db8n << 96n) | 2n)).toBe(false);
    expect(m6.has(2n << 64n)).toBe(false);
    expect(m4.delete(1n)).toBe(true);
    expect(m4.delete(1n)).toBe(false);
    expect(m4.get(1n)).toBeUndefined();
    expect(new Map(m6.entries())).toEqual(new Map(ends6.map((v, i) => [v, 0xffffffff - i])));
  });

  // Inserts and removals over a small space (so keys recur and tombstones pile up) and a large one (so the
  // table grows and shrinks): after every step the map equals a Map given the same operations.
  test('randomized against Map: growth, shrinking and tombstones (20 seeds x 5,000 steps)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const next = mulberry32(seed);
      const family = seed % 2 === 0 ? 4 : 6;
      const span = seed % 4 < 2 ? 64 : 100_000;
      const base = family === 4 ? 0xc6120000n : 0x20010db8n << 96n;
      const m = new AddressMap(family);
      const ref = new Map<bigint, number>();
      const seen: bigint[] = [];
      let largest = 0;
      for (let step = 0; step < 5000; step++) {
        // Phases: mostly inserting, then mostly removing, so the table also shrinks.
        const removing = Math.floor(step / 1250) % 2 === 1;
        // Removals take an address inserted before (in a large space a random one would rarely be there).
        let v = base + BigInt(next() % span);
        if (removing && seen.length > 0) {
          const i = next() % seen.length;
          v = seen[i]!;
          seen[i] = seen[seen.length - 1]!;
          seen.pop();
        }
        if (next() % 100 < (removing ? 90 : 30)) expect(m.delete(v)).toBe(ref.delete(v));
        else {
          const val = next() >>> 0;
          m.set(v, val);
          ref.set(v, val);
          seen.push(v);
        }
        if (step % 97 === 0) expect(new Map(m.entries())).toEqual(ref);
        expect(m.get(v)).toBe(ref.get(v));
        expect(m.size).toBe(ref.size);
        largest = Math.max(largest, m.capacity);
      }
      expect(new Map(m.entries())).toEqual(ref);
      // The table grew, and the last removing phase shrank it again.
      expect(largest).toBeGreaterThan(16);
      expect(m.capacity).toBeLessThan(largest);
    }
  });
});
