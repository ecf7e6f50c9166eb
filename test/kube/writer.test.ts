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
