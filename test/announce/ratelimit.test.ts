import { describe, expect, test } from 'bun:test';
import { ReplyLimiter, addressHash } from '../../src/announce/ratelimit.ts';

const frameFrom = (mac: number[]) => {
  const f = new Uint8Array(60);
  f.set(mac, 6);
  return f;
};
const A = frameFrom([2, 0, 0, 0, 0, 0xa]);
const B = frameFrom([2, 0, 0, 0, 0, 0xb]);
const VIP = addressHash('192.0.2.10');
const VIP2 = addressHash('192.0.2.11');

describe('ReplyLimiter', () => {
  test('a requester in a loop gets the burst, then perSecond; others and other addresses are not affected', () => {
    const l = new ReplyLimiter({ perSecond: 10, burst: 5 });
    const allowed = (f: Uint8Array, vip: number, at: number) => l.allow(f, 6, vip, at);
    // 1,000 requests in one ms: the burst only.
    let n = 0;
    for (let i = 0; i < 1000; i++) if (allowed(A, VIP, 1000)) n++;
    expect(n).toBe(5);
    expect(allowed(B, VIP, 1000)).toBe(true);
    expect(allowed(A, VIP2, 1000)).toBe(true);
    // One second later: 10 more, not more.
    n = 0;
    for (let i = 0; i < 1000; i++) if (allowed(A, VIP, 2000)) n++;
    expect(n).toBe(5); // the bucket holds at most the burst
    // Asking at the rate: every one answered.
    n = 0;
    for (let t = 3000; t < 4000; t += 100) if (allowed(A, VIP, t)) n++;
    expect(n).toBe(10);
  });

  test('a host asking normally (once a second, or a few retries) is never limited at the default', () => {
    const l = new ReplyLimiter({ perSecond: 100 });
    for (let t = 0; t < 60_000; t += 1000) for (let r = 0; r < 3; r++) expect(l.allow(A, 6, VIP, t + r * 10)).toBe(true);
  });

  test('perSecond 0 turns it off; many requesters (a random-MAC flood) each start with a full bucket', () => {
    const off = new ReplyLimiter({ perSecond: 0 });
    for (let i = 0; i < 1000; i++) expect(off.allow(A, 6, VIP, 0)).toBe(true);
    const l = new ReplyLimiter({ perSecond: 1, burst: 1, slots: 64 });
    let n = 0;
    for (let i = 0; i < 10_000; i++) if (l.allow(frameFrom([2, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255]), 6, VIP, 0)) n++;
    expect(n).toBe(10_000);
  });

  test('slots must be a power of two', () => {
    expect(() => new ReplyLimiter({ perSecond: 1, slots: 1000 })).toThrow('power of two');
  });
});
