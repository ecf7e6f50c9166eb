/** The write queue: latest wish per key, and a failed key held off for its backoff while the others go on. */
import { describe, expect, test } from 'bun:test';
import { Writer, type Write } from '../../src/kube/writer.ts';

function write(key: string, fingerprint: string, ran: string[]): Write {
  return { key, fingerprint, run: async () => void ran.push(`${key}=${fingerprint}`) };
}

describe('Writer.holdOff', () => {
  test('a held key starts nothing during the hold (its latest wish goes out after); other keys go on', async () => {
    const ran: string[] = [];
    const w = new Writer(4);
    const t0 = performance.now();
    w.holdOff('a', 150);
    w.enqueue(write('a', '1', ran));
    w.enqueue(write('a', '2', ran));
    w.enqueue(write('b', '1', ran));
    await Bun.sleep(100);
    expect(ran).toEqual(['b=1']);
    await w.idle();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    expect(ran).toEqual(['b=1', 'a=2']);
  });

  test('a second hold replaces the first; clear() forgets holds with the queue', async () => {
    const ran: string[] = [];
    const w = new Writer(1);
    const t0 = performance.now();
    w.holdOff('a', 50);
    w.holdOff('a', 200);
    w.enqueue(write('a', '1', ran));
    await w.idle();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    w.holdOff('a', 10_000);
    w.clear();
    w.enqueue(write('a', '2', ran));
    await w.idle();
    expect(ran).toEqual(['a=1', 'a=2']);
  });
});

describe('Writer priorities', () => {
  test('low-priority writes (Events) go only when no status write waits: one queued after many Events still goes next', async () => {
    const ran: string[] = [];
    const w = new Writer(1);
    for (let i = 0; i < 5; i++) w.enqueue({ ...write(`event:${i}`, '1', ran), priority: 'low' });
    w.enqueue(write('svc-a', '1', ran));
    w.enqueue(write('svc-b', '1', ran));
    await w.idle();
    // The first Event started before any status write was queued; every other one waits behind them.
    expect(ran).toEqual(['event:0=1', 'svc-a=1', 'svc-b=1', 'event:1=1', 'event:2=1', 'event:3=1', 'event:4=1']);
  });
});

describe('Writer.throttle (429: the server asks everyone to slow down)', () => {
  /** Writes that take `ms` each and record how many ran at once and when each started. */
  function timed(ms: number) {
    let running = 0;
    const peaks: number[] = [];
    const starts: number[] = [];
    const make = (key: string): Write => ({
      key, fingerprint: '1',
      run: async () => {
        starts.push(performance.now());
        peaks.push(++running);
        await Bun.sleep(ms);
        running--;
      },
    });
    return { make, peaks, starts };
  }

  test('halves the writes in flight and starts none until Retry-After has passed; running ones finish', async () => {
    const w = new Writer(8);
    const t = timed(20);
    for (let i = 0; i < 8; i++) w.enqueue(t.make(`a${i}`));
    expect(w.limit).toBe(8);
    const t0 = performance.now();
    w.throttle(150);
    expect(w.limit).toBe(4);
    for (let i = 0; i < 12; i++) w.enqueue(t.make(`b${i}`));
    await Bun.sleep(100);
    expect(t.starts.length).toBe(8); // only the eight already running when the 429 came
    await w.idle();
    const after = t.starts.slice(8);
    expect(after.length).toBe(12);
    expect(Math.min(...after) - t0).toBeGreaterThanOrEqual(145);
    // From then on at most four at once (the bound grows by one only after four successes in a row).
    expect(Math.max(...t.peaks.slice(8, 12))).toBeLessThanOrEqual(4);
  });

  test('refusals of one burst halve once; successes bring the bound back one step per bound-long run, up to the maximum', async () => {
    const w = new Writer(16);
    w.throttle(10);
    w.throttle(10);
    w.throttle(10);
    expect(w.limit).toBe(8);
    await Bun.sleep(20);
    w.throttle(10); // a new refusal after the pause: halves again
    expect(w.limit).toBe(4);
    await Bun.sleep(20);
    const t = timed(1);
    for (let i = 0; i < 200; i++) w.enqueue(t.make(`k${i}`));
    await w.idle();
    expect(w.limit).toBe(16);
    // 4+5+...+15 = 114 successes to climb from 4 to 16; 200 is enough, and it never goes past the maximum.
    expect(Math.max(...t.peaks)).toBeLessThanOrEqual(16);
  });

  test('writes that were in flight when the 429 came do not raise the halved bound', async () => {
    const w = new Writer(8);
    const t = timed(20);
    for (let i = 0; i < 8; i++) w.enqueue(t.make(`a${i}`));
    w.throttle(100);
    expect(w.limit).toBe(4);
    await Bun.sleep(60); // the eight finish, all successes, before the pause ends
    expect(t.starts.length).toBe(8);
    expect(w.limit).toBe(4);
    await w.idle();
  });

  test('a bound of one still makes progress, and clear() ends a pause', async () => {
    const ran: string[] = [];
    const w = new Writer(1);
    w.throttle(10_000);
    expect(w.limit).toBe(1);
    w.clear();
    w.enqueue(write('a', '1', ran));
    await w.idle();
    expect(ran).toEqual(['a=1']);
  });
});

describe('Writer.pause', () => {
  test('paused, writes queue (the latest wish per key) and start on resume; enqueue says whether it queued', async () => {
    const ran: string[] = [];
    const w = new Writer(2);
    w.pause();
    expect(w.enqueue(write('a', '1', ran))).toBe(true);
    expect(w.enqueue(write('a', '1', ran))).toBe(false);
    expect(w.enqueue(write('a', '2', ran))).toBe(true);
    expect(w.enqueue(write('b', '1', ran))).toBe(true);
    await Bun.sleep(50);
    expect(ran).toEqual([]);
    expect(w.size).toBe(2);
    w.resume();
    await w.idle();
    expect(ran.sort()).toEqual(['a=2', 'b=1']);
  });
});
