/**
 * mulberry32: a small, fast seeded PRNG, the same on every runtime, so a randomized test that fails can be
 * replayed from its seed. Returns unsigned 32-bit integers; divide by 2^32 for [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
