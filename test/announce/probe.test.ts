import { describe, expect, test } from 'bun:test';
import { ProbeTracker } from '../../src/announce/probe.ts';

const policy = { intervalMs: 100, failures: 3, successes: 2 };

describe('ProbeTracker', () => {
  test('the first answer makes an unknown node up', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['192.0.2.21'], 0);
    expect(t.round(0).probe).toEqual([{ ip: '192.0.2.21' }]);
    expect(t.answer('192.0.2.21', '02:00:00:00:00:21', 1)).toEqual([{ ip: '192.0.2.21', state: 'up', before: 'unknown', mac: '02:00:00:00:00:21', misses: 0, at: 1, lastSeen: 1 }]);
    expect(t.get('192.0.2.21')!.state).toBe('up');
  });

  test('a node that answered is probed by unicast to its MAC; after a miss, by broadcast again', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['192.0.2.21'], 0);
    t.round(0);
    t.answer('192.0.2.21', '02:00:00:00:00:21', 1);
    expect(t.round(100).probe).toEqual([{ ip: '192.0.2.21', mac: '02:00:00:00:00:21' }]);
    expect(t.round(200).probe).toEqual([{ ip: '192.0.2.21' }]); // the unicast probe went unanswered
    t.answer('192.0.2.21', '02:00:00:00:00:99', 201); // a new NIC answers the broadcast
    expect(t.round(300).probe).toEqual([{ ip: '192.0.2.21', mac: '02:00:00:00:00:99' }]);
  });

  test('three consecutive misses fail a node, exactly at the third', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['192.0.2.21'], 0);
    t.round(0);
    t.answer('192.0.2.21', 'm', 1);
    expect(t.round(100).changes).toEqual([]);
    expect(t.round(200).changes).toEqual([]); // miss 1
    expect(t.round(300).changes).toEqual([]); // miss 2
    const c = t.round(400).changes;           // miss 3
    expect(c).toEqual([{ ip: '192.0.2.21', state: 'down', before: 'up', mac: 'm', misses: 3, at: 400, lastSeen: 1 }]);
    expect(t.round(500).changes).toEqual([]); // reported once
  });

  test('a miss in between resets the count; two answers bring a down node back', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['a'], 0);
    t.round(0); t.answer('a', 'm', 1);
    t.round(100); t.round(200); // one miss
    t.answer('a', 'm', 201);     // answer resets
    t.round(300); t.round(400); t.round(500);
    expect(t.get('a')!.state).toBe('up'); // only two misses since the answer
    t.round(600);
    expect(t.get('a')!.state).toBe('down');
    expect(t.answer('a', 'm', 601)).toEqual([]); // one hit is not enough
    t.round(700);
    expect(t.answer('a', 'm', 701)).toEqual([{ ip: 'a', state: 'up', before: 'down', mac: 'm', misses: 0, at: 701, lastSeen: 701 }]);
  });

  test('duplicate answers to one round are one hit; a changed MAC is reported', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['a'], 0);
    t.round(0);
    t.answer('a', 'm1', 1);
    expect(t.answer('a', 'm1', 2)).toEqual([]);
    expect(t.answer('a', 'm2', 3)).toEqual([{ ip: 'a', state: 'up', before: 'up', mac: 'm2', misses: 0, at: 3 }]);
    expect(t.get('a')!.hits).toBe(1);
  });

  test('targets can be replaced; kept ones keep their state; answers from others are ignored', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['a', 'b'], 0);
    t.round(0); t.answer('a', 'm', 1);
    t.setTargets(['a', 'c'], 50);
    expect(t.list().map((x) => [x.ip, x.state])).toEqual([['a', 'up'], ['c', 'unknown']]);
    expect(t.answer('b', 'm', 60)).toEqual([]);
  });

  test('a deadline counts the miss within the round, not at the next one; a late answer still counts', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['a'], 0);
    t.round(0); t.answer('a', 'm', 1);
    t.round(100); expect(t.expire(150)).toEqual([]);
    t.round(200); expect(t.expire(250)).toEqual([]);
    t.round(300);
    expect(t.expire(350)).toEqual([{ ip: 'a', state: 'down', before: 'up', mac: 'm', misses: 3, at: 350, lastSeen: 1 }]);
    expect(t.round(400).changes).toEqual([]); // the expired probe is not counted twice
    expect(t.get('a')!.misses).toBe(3);
    t.expire(450);
    expect(t.answer('a', 'm', 460)).toEqual([]); // late for its round, but alive: a hit (1 of 2)
    expect(t.get('a')!.hits).toBe(1);
  });

  test('probeDeadline: half the interval by default, never past the next round', async () => {
    const { probeDeadline } = await import('../../src/announce/probe.ts');
    expect(probeDeadline({ intervalMs: 100, failures: 3, successes: 2 })).toBe(50);
    expect(probeDeadline({ intervalMs: 100, failures: 3, successes: 2, deadlineMs: 500 })).toBe(99);
  });
});

describe('round trips', () => {
  test('the answer that counts records its round trip; duplicates and late answers do not; the last 30 are kept; misses are counted', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['192.0.2.21'], 0);
    t.round(0);
    t.answer('192.0.2.21', 'm', 1, 0.2345);
    t.answer('192.0.2.21', 'm', 1, 9); // a duplicate answer to the same probe
    expect(t.get('192.0.2.21')).toMatchObject({ rtt: 0.235, rtts: [0.235] });
    for (let i = 1; i <= 40; i++) {
      t.round(i * 100);
      t.answer('192.0.2.21', 'm', i * 100 + 1, i);
    }
    const r = t.get('192.0.2.21')!;
    expect(r.rtts).toHaveLength(30);
    expect([r.rtts![0], r.rtts!.at(-1), r.rtt]).toEqual([11, 40, 40]);
    expect(t.missed).toBe(0);
    t.round(5000);
    t.round(5100);
    expect(t.missed).toBe(1);
  });
});

describe('retries after a first miss', () => {
  test('a silent node is down three misses after its first missed probe, 50 + 30 + 30 ms, not three rounds', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['10.0.0.1'], 0);
    t.round(0);
    t.answer('10.0.0.1', '02:00:00:00:00:01', 1);
    t.round(100); // the node dies just before this round
    expect(t.nextDue()).toBe(150);
    expect(t.expire(149)).toEqual([]); // not due yet
    expect(t.expire(150)).toEqual([]);
    expect(t.retry(150)).toEqual([{ ip: '10.0.0.1' }]); // broadcast: its MAC may have changed
    expect(t.nextDue()).toBe(180);
    // A round starting meanwhile neither counts the retry as a miss nor asks again.
    expect(t.round(170 as number).probe).toEqual([]);
    t.expire(180);
    expect(t.retry(180)).toHaveLength(1);
    const changes = t.expire(210);
    expect(changes).toMatchObject([{ ip: '10.0.0.1', state: 'down', before: 'up', misses: 3 }]);
    expect(t.retry(210)).toEqual([]); // down: back to the normal rounds
  });

  test('an answer to a retry clears the misses; a live node costs no extra probe', () => {
    const t = new ProbeTracker(policy);
    t.setTargets(['10.0.0.1'], 0);
    t.round(0);
    t.answer('10.0.0.1', 'm', 1);
    t.expire(50);
    expect(t.retry(50)).toEqual([]);
    t.round(100);
    t.expire(150);
    expect(t.retry(150)).toHaveLength(1);
    t.answer('10.0.0.1', 'm', 155);
    expect(t.get('10.0.0.1')).toMatchObject({ state: 'up', misses: 0 });
    expect(t.expire(180)).toEqual([]);
    expect(t.retry(180)).toEqual([]);
  });
});
