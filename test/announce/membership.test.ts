import { afterEach, expect, test } from 'bun:test';
import { Membership, type MembershipIO, wireIdentity } from '../../src/announce/membership.ts';
import type { Role } from '../../src/announce/leadership.ts';
import { type BeaconSpec, FLAG_FENCED, FLAG_LEADER, MAX_NAME_BYTES } from '../../src/wire/heartbeat.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger({ level: 'error', format: 'json' }, () => {});

/** Moves `r`'s clock to `to` in 10 ms steps, deciding at each (as its tick and timers would). */
function advance(r: Replica, to: number): void {
  while (r.now < to) {
    r.now = Math.min(to, r.now + 10);
    r.m.changed();
  }
}

/** A replica whose clock, worker and Lease the test drives. */
class Replica {
  now = 0;
  spec?: BeaconSpec;
  seq = 0;
  grants: [number, number][] = [];
  roles: Role[] = [];
  yields = 0;
  lease = { held: false, term: 0 };
  readonly m: Membership;

  constructor(identity: string, kube = false) {
    const io: MembershipIO = {
      grant: (a, b) => this.grants.push([a, b]),
      beacon: (spec) => (this.spec = spec),
      vips: () => ['192.0.2.1'],
      role: (role) => this.roles.push(role),
      ...(kube ? { lease: () => this.lease, yieldLease: () => this.yields++ } : {}),
    };
    this.m = new Membership({
      identity, deployment: 'test', interval: 100, misses: 3, priority: 100, preempt: false, kube, fenceWindow: 500, log,
      now: () => this.now,
    }, io);
  }

  /** What its worker would send now, as the others hear it. */
  beat(to: Replica): void {
    if (!this.spec) return;
    to.m.heard('eth0', '02:00:00:00:00:01', { ...this.spec.heartbeat, sequence: ++this.seq }, to.now);
  }
}

const started: Replica[] = [];
afterEach(() => {
  for (const r of started.splice(0)) r.m.stop();
});

function start(...rs: Replica[]): void {
  for (const r of rs) {
    r.m.start();
    started.push(r);
  }
}

test('two replicas started together: after listening exactly one acts; the other takes over 300 ms after its last heartbeat', () => {
  const a = new Replica('a');
  const b = new Replica('b');
  start(a, b);
  let t = 0;
  const step = (alive: Replica[]) => {
    t += 10;
    a.now = t;
    b.now = t;
    // Heartbeats every 100 ms from the live ones; decisions on every step (as the tick and timers would).
    if (t % 100 === 0) for (const x of alive) for (const y of [a, b]) if (x !== y) x.beat(y);
    for (const x of [a, b]) x.m.changed();
    if (alive.length === 2) expect([a.m.role, b.m.role].filter((r) => r === 'leader').length).toBeLessThanOrEqual(1);
  };
  while (t < 1000) step([a, b]);
  expect([a.m.role, b.m.role]).toEqual(['leader', 'standby']);
  // a dies right after its beat at 1000: b may act only after 1000 + 300.
  const dead = t;
  const role = () => b.m.role as Role;
  while (role() !== 'leader') {
    step([b]);
    expect(t).toBeLessThan(dead + 400);
  }
  expect(t).toBeGreaterThanOrEqual(dead + 300);
  expect(b.m.term).toBeGreaterThan(a.m.term);
  expect(b.m.lastTakeover?.reason).toBe('a missed 3 heartbeats');
  expect(b.m.takeovers['missed-heartbeats']).toBe(1);
});

test('a heartbeat delivered after a stall, before the tick, fences: the grant is not renewed from stale state', () => {
  const a = new Replica('a', true);
  const b = new Replica('b', true);
  start(a);
  advance(a, 400);
  expect(a.m.role).toBe('leader');
  expect(a.grants.at(-1)).toEqual([700, 700]);
  // Frozen from 400 to 2000; meanwhile b took over with a newer term.
  a.now = 2000;
  b.spec = { heartbeat: { ...a.spec!.heartbeat, identity: 'b', termHolder: 'b', term: a.m.term + 1, flags: FLAG_LEADER } };
  b.beat(a);
  expect(a.m.role).toBe('fenced');
  expect(a.m.stalls).toBe(1);
  // No answers while listening, heartbeats say "fenced".
  expect(a.grants.at(-1)![0]).toBe(0);
  expect(a.spec!.heartbeat.flags & FLAG_FENCED).toBe(FLAG_FENCED);
  // A Lease renewed before the stall is no claim; the newer term wins and a yields its Lease.
  a.lease = { held: true, term: 0 };
  for (let t = 2100; t <= 2600; t += 100) {
    a.now = t;
    b.beat(a);
    a.m.changed();
    expect(a.grants.at(-1)![0]).toBe(0);
  }
  expect(a.m.role).toBe('standby');
  expect(a.yields).toBeGreaterThan(0);
});

test('long work that calls alive() between its steps keeps the grant; the same time frozen fences', () => {
  const a = new Replica('a');
  start(a);
  advance(a, 400);
  expect(a.m.role).toBe('leader');
  // A busy pass: 3 steps of 250 ms, alive() between them (no timer runs meanwhile).
  for (let i = 0; i < 3; i++) {
    a.now += 250;
    a.m.alive();
    expect(a.grants.at(-1)![0]).toBe(a.now + 300);
  }
  a.m.changed();
  expect(a.m.role).toBe('leader');
  expect(a.m.stalls).toBe(0);
  // alive() sooner than a quarter interval after the last renewal does nothing; later, it renews.
  const before = a.grants.length;
  a.now += 20;
  a.m.alive();
  expect(a.grants.length).toBe(before);
  a.now += 10;
  a.m.alive();
  expect(a.grants.length).toBe(before + 1);
  expect(a.grants.at(-1)![0]).toBe(a.now + 300);
  // The same 750 ms with nothing running: the grant ran out, the replica is fenced.
  a.now += 750;
  a.m.changed();
  expect(a.m.role).toBe('fenced');
  expect(a.m.stalls).toBe(1);
});

test('a replica cut off from every segment link is fenced, and listens a whole fence window after it comes back', () => {
  const a = new Replica('a');
  start(a);
  advance(a, 400);
  expect(a.m.role).toBe('leader');
  a.now = 450;
  a.m.links(false);
  expect(a.m.role).toBe('fenced');
  expect(a.grants.at(-1)![0]).toBe(0);
  advance(a, 1000);
  expect(a.m.role).toBe('fenced');
  a.m.links(true);
  advance(a, 1490);
  expect(a.m.role).toBe('fenced');
  advance(a, 1510);
  expect(a.m.role).toBe('leader');
});

test('wire identities fit the frame and stay unique', () => {
  expect(wireIdentity('gw-1')).toBe('gw-1');
  const long = 'x'.repeat(100);
  const w = wireIdentity(long);
  expect(new TextEncoder().encode(w).length).toBeLessThanOrEqual(MAX_NAME_BYTES);
  expect(w).not.toBe(wireIdentity(`${long}y`));
});

test('the replica heard from a MAC is known by that MAC, and follows a replica whose MAC changed (a NIC replaced)', () => {
  const a = new Replica('a');
  const b = new Replica('b');
  start(a, b);
  a.now = 100;
  b.now = 100;
  a.m.changed();
  const hb = (seq: number) => ({ ...a.spec!.heartbeat, sequence: seq });
  b.m.heard('eth0', '02:00:00:00:00:0a', hb(1), 100);
  expect(b.m.identityOfMac('02:00:00:00:00:0a')).toBe('a');
  expect(b.m.identityOfMac('02:00:00:00:00:0b')).toBeUndefined();
  b.m.heard('eth0', '02:00:00:00:00:0c', hb(2), 200);
  expect(b.m.identityOfMac('02:00:00:00:00:0c')).toBe('a');
  expect(b.m.identityOfMac('02:00:00:00:00:0a')).toBeUndefined();
});
