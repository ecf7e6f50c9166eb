import { expect, test } from 'bun:test';
import { Members } from '../../src/announce/members.ts';
import { type LeadershipInput, decideLeadership } from '../../src/announce/leadership.ts';
import { FLAG_FENCED, FLAG_LEADER, FLAG_LEASE, type Heartbeat, deploymentId, vipDigest } from '../../src/wire/heartbeat.ts';

const hb = (identity: string, o: Partial<Heartbeat> = {}): Heartbeat => ({
  deployment: deploymentId('d'), flags: 0, epoch: 1000, sequence: 1, term: 1, termHolder: identity, identity,
  priority: 100, interval: 100, misses: 3, vips: vipDigest([]), ...o,
});

test('replay window: repeats and too-old sequences are dropped, a restart (newer epoch) is accepted', () => {
  const m = new Members('self');
  expect(m.accept(hb('a', { sequence: 100 }), 'eth0', 'mac', 0)).toBeUndefined();
  expect(m.accept(hb('a', { sequence: 100 }), 'eth0', 'mac', 1)).toBe('hb-replayed');
  expect(m.accept(hb('a', { sequence: 99 }), 'eth0', 'mac', 1)).toBeUndefined();
  expect(m.accept(hb('a', { sequence: 99 }), 'eth0', 'mac', 1)).toBe('hb-replayed');
  expect(m.accept(hb('a', { sequence: 200 }), 'eth0', 'mac', 2)).toBeUndefined();
  expect(m.accept(hb('a', { sequence: 120 }), 'eth0', 'mac', 2)).toBe('hb-replayed');
  expect(m.accept(hb('a', { sequence: 150 }), 'eth0', 'mac', 2)).toBeUndefined();
  expect(m.accept(hb('a', { epoch: 999, sequence: 5000 }), 'eth0', 'mac', 2)).toBe('hb-replayed');
  expect(m.accept(hb('a', { epoch: 2000, sequence: 1 }), 'eth0', 'mac', 3)).toBeUndefined();
  expect(m.accept(hb('self'), 'eth0', 'mac', 3)).toBe('hb-self');
});

test('a member expires after its own misses × interval, with the reason', () => {
  const m = new Members('self');
  m.accept(hb('a'), 'eth0', 'mac', 0);
  expect(m.live(299).map((x) => x.identity)).toEqual(['a']);
  expect(m.expire(299)).toEqual([]);
  const gone = m.expire(300);
  expect(gone.map((g) => g.reason)).toEqual(['a missed 3 heartbeats']);
  expect(m.live(300)).toEqual([]);
});

function input(o: Partial<LeadershipInput> & { heard?: Heartbeat[] }): LeadershipInput {
  const m = new Members(o.self?.identity ?? 'b');
  for (const h of o.heard ?? []) m.accept(h, 'eth0', 'mac', 1000);
  return {
    now: 1000, self: { identity: 'b', priority: 100 }, current: { role: 'standby', term: 1 }, listeningSince: 0, window: 300,
    live: m.live(1000), preempt: false, ...o,
  };
}

test('a standby never acts while a live leader is heard, and acts first in line when none is', () => {
  expect(decideLeadership(input({ heard: [hb('a', { flags: FLAG_LEADER | FLAG_LEASE })] })).role).toBe('standby');
  // a smaller identity as a standby does not take over from a live leader either
  expect(decideLeadership(input({ self: { identity: 'a0', priority: 100 }, heard: [hb('z', { flags: FLAG_LEADER })] })).role).toBe('standby');
  const b = decideLeadership(input({ heard: [hb('c')] }));
  expect(b.role).toBe('leader');
  expect(b.term).toBe(2);
  const c = decideLeadership(input({ self: { identity: 'c', priority: 100 }, heard: [hb('b')] }));
  expect(c.role).toBe('standby');
  expect(c.termHolder).toBe('b');
});

test('two standbys with the same view never both act', () => {
  for (const prio of [[100, 100], [50, 200], [200, 50]]) {
    const roles = ['x', 'y'].map((id, i) => decideLeadership(input({
      self: { identity: id, priority: prio[i]! },
      heard: [hb(i ? 'x' : 'y', { priority: prio[1 - i]! })],
    })).role);
    expect(roles.filter((r) => r === 'leader').length).toBe(1);
  }
});

test('nothing acts while listening; a resumed replica that hears a newer term steps down and yields its Lease', () => {
  expect(decideLeadership(input({ listeningSince: 900 })).role).toBe('fenced');
  const resumed = decideLeadership(input({
    current: { role: 'fenced', term: 3 }, lease: { held: false, term: 3 },
    heard: [hb('c', { flags: FLAG_LEADER, term: 4 })],
  }));
  expect(resumed).toMatchObject({ role: 'standby', yieldLease: true, termHolder: 'c' });
  // a fenced sender is no leader, but keeps its place in line (two replicas started together never both act)
  expect(decideLeadership(input({ heard: [hb('c', { flags: FLAG_LEADER | FLAG_FENCED, term: 9 })] })).role).toBe('leader');
  expect(decideLeadership(input({ heard: [hb('a', { flags: FLAG_FENCED })] })).role).toBe('standby');
});

test('two leaders: the Lease holder wins, then the higher term', () => {
  const acting = decideLeadership(input({ current: { role: 'leader', term: 4 }, lease: { held: false, term: 3 }, heard: [hb('a', { flags: FLAG_LEADER | FLAG_LEASE, term: 3 })] }));
  expect(acting.role).toBe('standby');
  const holder = decideLeadership(input({ current: { role: 'leader', term: 3 }, lease: { held: true, term: 3 }, heard: [hb('c', { flags: FLAG_LEADER, term: 4 })] }));
  expect(holder.role).toBe('leader');
  const older = decideLeadership(input({ current: { role: 'leader', term: 2 }, heard: [hb('c', { flags: FLAG_LEADER, term: 4 })] }));
  expect(older.role).toBe('standby');
});

test('standalone preemption: off keeps the live leader, on takes over with a higher term', () => {
  const heard = [hb('a', { flags: FLAG_LEADER, priority: 50, term: 5 })];
  expect(decideLeadership(input({ self: { identity: 'b', priority: 200 }, heard })).role).toBe('standby');
  const p = decideLeadership(input({ self: { identity: 'b', priority: 200 }, heard, preempt: true }));
  expect(p).toMatchObject({ role: 'leader', term: 6 });
  // and the old leader yields to it
  const old = decideLeadership(input({ self: { identity: 'a', priority: 50 }, current: { role: 'leader', term: 5 }, heard: [hb('b', { flags: FLAG_LEADER, priority: 200, term: 6 })] }));
  expect(old.role).toBe('standby');
});
