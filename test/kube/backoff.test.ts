/** Retry delays: doubling with jitter, capped, and never shorter than the server's Retry-After. */
import { describe, expect, test } from 'bun:test';
import { backoffDelay } from '../../src/kube/backoff.ts';

const POLICY = { initialMs: 200, maxMs: 10_000 };
const low = () => 0;
const high = () => 0.999999;

describe('backoffDelay', () => {
  test('doubles from initialMs to maxMs; each delay lies in the upper half of its ceiling', () => {
    const ceilings = [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000];
    ceilings.forEach((ceiling, i) => {
      expect(backoffDelay(i + 1, POLICY, undefined, low)).toBe(ceiling / 2);
      expect(backoffDelay(i + 1, POLICY, undefined, high)).toBeCloseTo(ceiling, 0);
    });
    // a huge failure count neither overflows nor passes the cap
    expect(backoffDelay(10_000, POLICY, undefined, high)).toBeLessThanOrEqual(10_000);
  });

  test('the jitter is real: replicas that failed together get different delays', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(3, POLICY)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  test('Retry-After is a floor with up to a quarter more at random; a longer backoff still wins', () => {
    expect(backoffDelay(1, POLICY, 1000, low)).toBe(1000);
    expect(backoffDelay(1, POLICY, 1000, high)).toBeCloseTo(1250, 0);
    const spread = Array.from({ length: 50 }, () => backoffDelay(1, POLICY, 1000));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...spread)).toBeLessThanOrEqual(1250);
    expect(new Set(spread).size).toBeGreaterThan(40);
    // after many failures the backoff (5..10 s) is longer than the server's 1 s
    expect(backoffDelay(8, POLICY, 1000, low)).toBe(5000);
    // a hint above maxMs is obeyed: the server knows how long it needs
    expect(backoffDelay(1, POLICY, 60_000, low)).toBe(60_000);
    expect(backoffDelay(1, POLICY, 0, low)).toBe(100);
  });
});
