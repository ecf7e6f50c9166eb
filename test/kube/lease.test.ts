/**
 * Lease leader election against the HTTPS API server stand-in (which rejects MicroTimes without exactly six
 * fractional digits, as kube-apiserver does): one leader among two replicas, hand-over on release within a
 * retry period, on a crash after leaseDuration and not before, no hand-over while the API server is gone,
 * a spurious 409 survived, a real competitor obeyed at once, and expiry judged on our clock only.
 * Replicas A and B use different client certificates so the request log tells their writes apart.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandIn } from '../support/kube/standin.ts';
import { waitFor } from '../support/netns.ts';
import { loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { defaultIdentity, LEASE_DEFAULTS, LeaderElector, microTime, type LeaseOptions } from '../../src/kube/lease.ts';
import { createLogger } from '../../src/log.ts';

setDefaultTimeout(30_000);

const NS = 'l2lb-system';
const LEASE_MS = 1000;
const RETRY_MS = 200;
const TIMING = { leaseDurationMs: LEASE_MS, renewDeadlineMs: 600, retryPeriodMs: RETRY_MS };
/** Request latency and timer slack on a shared 2-core machine. */
const SLACK_MS = 150;
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let api: StandIn;
let dir: string;
let clientA: KubeClient;
let clientB: KubeClient;
const running: LeaderElector[] = [];

/** One replica with its change history and log lines. */
interface Replica {
  e: LeaderElector;
  id: string;
  changes: { isLeader: boolean; holder: string | undefined; at: number }[];
  logs: { level: string; msg: string }[];
}

function replica(client: KubeClient, id: string, name: string, over: Partial<LeaseOptions> = {}): Replica {
  const logs: Replica['logs'] = [];
  const log = createLogger({ level: 'debug', format: 'json' }, (line) => {
    const r = JSON.parse(line) as { level: string; msg: string };
    logs.push({ level: r.level, msg: r.msg });
  });
  const e = new LeaderElector(client, { namespace: NS, name, identity: id, log, ...TIMING, ...over });
  const changes: Replica['changes'] = [];
  e.onChange((isLeader, holder) => changes.push({ isLeader, holder, at: performance.now() }));
  running.push(e);
  return { e, id, changes, logs };
}

let seq = 0;
const leaseName = () => `lease-${++seq}`;
const leaseRef = (name: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: NS, name });

/** Starts both and waits until one leads; returns [leader, follower]. */
async function electOne(a: Replica, b: Replica): Promise<[Replica, Replica]> {
  a.e.start();
  b.e.start();
  const leader = await waitFor('a leader', () => (a.e.isLeader() ? a : b.e.isLeader() ? b : undefined), 5000, 10);
  const follower = leader === a ? b : a;
  await waitFor('the follower to see the holder', () => follower.e.view().holder === leader.id, 3000, 10);
  return [leader, follower];
}

/** Samples both replicas every 10 ms for `ms` and fails on a moment with two leaders. */
async function neverTwoLeaders(a: Replica, b: Replica, ms: number, each?: () => void): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    expect(a.e.isLeader() && b.e.isLeader()).toBe(false);
    each?.();
    await Bun.sleep(10);
  }
}

/** Lease writes (create or replace) of `user` that the server accepted. */
async function acceptedWrites(user: string, name: string, since = 0): Promise<number> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
  return (await api.requests()).filter(
    (r) => r.user === user && r.at >= since && r.status < 300 && ((r.method === 'POST' && r.path === path) || (r.method === 'PUT' && r.path === `${path}/${name}`)),
  ).length;
}

beforeAll(async () => {
  api = await StandIn.start();
  dir = mkdtempSync(join(tmpdir(), 'l2lb-lease-'));
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  const access = loadKubeAccess({ kubeconfig, env: {} });
  clientA = new KubeClient(new KubeHttp(access));
  const certB = api.issueClientCert('l2lb-b', ['system:masters']);
  clientB = new KubeClient(new KubeHttp({ ...access, certPem: certB.certPem, keyPem: certB.keyPem }));
  await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  if (!api.running) await api.restart();
});

afterAll(async () => {
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('microTime', () => {
  test('exactly six fractional digits, UTC, Z; fractional milliseconds fill the microseconds', () => {
    expect(microTime(Date.UTC(2026, 10, 27, 8, 0, 0))).toBe('2026-11-27T08:00:00.000000Z');
    expect(microTime(Date.UTC(2026, 10, 27, 8, 0, 0, 123))).toBe('2026-11-27T08:00:00.123000Z');
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6) + 0.5)).toBe('2026-01-02T03:04:05.006500Z');
    expect(microTime(0)).toBe('1970-01-01T00:00:00.000000Z');
    for (let i = 0; i < 200; i++) {
      const ms = Math.random() * 4e12;
      const text = microTime(ms);
      expect(text).toMatch(MICRO);
      // The text parses back to the same millisecond.
      expect(Date.parse(text)).toBe(Math.floor(ms));
    }
    expect(() => microTime(Number.NaN)).toThrow(RangeError);
  });
});

describe('LeaderElector', () => {
  test('two replicas: exactly one leads; the Lease names it with MicroTime fields the server accepted', async () => {
    const name = leaseName();
    const a = replica(clientA, 'replica-a', name);
    const b = replica(clientB, 'replica-b', name);
    expect(a.e.view()).toMatchObject({ state: 'unknown', isLeader: false, apiReachable: false });
    const [leader, follower] = await electOne(a, b);
    const first = await api.get(leaseRef(name));
    await neverTwoLeaders(a, b, 1500, () => expect(leader.e.isLeader()).toBe(true));

    const lease = await api.get(leaseRef(name));
    expect(lease.spec.holderIdentity).toBe(leader.id);
    expect(lease.spec.leaseDurationSeconds).toBe(1);
    expect(lease.spec.leaseTransitions).toBe(0);
    expect(lease.spec.acquireTime).toMatch(MICRO);
    expect(lease.spec.renewTime).toMatch(MICRO);
    // Renewed about every retry period (1.5 s: at least 5 renewals), acquireTime kept.
    expect(lease.spec.acquireTime).toBe(first.spec.acquireTime);
    expect(Date.parse(lease.spec.renewTime)).toBeGreaterThan(Date.parse(first.spec.renewTime) + 5 * RETRY_MS * 0.9 - 1);
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(RETRY_MS + SLACK_MS);

    expect(leader.e.view()).toMatchObject({ state: 'leader', isLeader: true, holder: leader.id, apiReachable: true, transitions: 0 });
    expect(leader.e.view().lastRenew).toMatch(MICRO);
    expect(follower.e.view()).toMatchObject({ state: 'follower', isLeader: false, holder: leader.id, apiReachable: true });
    expect(leader.changes.map((c) => c.isLeader)).toEqual([true]);
    expect(follower.changes).toEqual([{ isLeader: false, holder: leader.id, at: follower.changes[0]!.at }]);
    // The follower only ever read: it never wrote the Lease.
    expect(await acceptedWrites(follower === a ? 'l2lb' : 'l2lb-b', name)).toBe(0);
  });

  test('the leader shares data through a Lease annotation with its renewals; a standby hears each change once', async () => {
    const name = leaseName();
    const a = replica(clientA, 'replica-a', name);
    const b = replica(clientB, 'replica-b', name);
    const heard: Record<string, string[]> = { 'replica-a': [], 'replica-b': [] };
    a.e.onShared((v) => heard['replica-a']!.push(v));
    b.e.onShared((v) => heard['replica-b']!.push(v));
    a.e.share('from-a');
    b.e.share('from-b');
    const [leader, follower] = await electOne(a, b);
    await waitFor('the follower to hear the leader', () => heard[follower.id]!.length > 0, 2000, 10);
    expect(heard[follower.id]).toEqual([`from-${leader.id.slice(-1)}`]);
    leader.e.share('changed');
    await waitFor('the change', () => heard[follower.id]!.length > 1, 2000, 10);
    await Bun.sleep(3 * RETRY_MS); // renewals carry the same value: heard once
    expect(heard[follower.id]).toEqual([`from-${leader.id.slice(-1)}`, 'changed']);
    expect(heard[leader.id]).toEqual([]); // its own writes are not news
    expect((await api.get(leaseRef(name))).metadata.annotations['l2lb.io/shared']).toBe('changed');
  });

  test('a free Lease is taken as soon as the replica becomes eligible, not a retry period after its last look', async () => {
    // A long retry period: the first attempt (ineligible) must not make the replica wait it out.
    const r = replica(clientA, 'a', leaseName(), { leaseDurationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 2000 });
    let eligible = false;
    r.e.setEligible(() => eligible);
    r.e.start();
    await Bun.sleep(300);
    expect(r.e.isLeader()).toBe(false);
    const t = performance.now();
    eligible = true;
    await waitFor('leader', () => r.e.isLeader(), 3000, 5);
    // One eligibility poll plus a GET and a create, well inside the 2 s period.
    expect(performance.now() - t).toBeLessThan(50 + SLACK_MS + 200);
  });

  test('graceful stop with release: the standby leads within one retry period', async () => {
    const name = leaseName();
    const [leader, follower] = await electOne(replica(clientA, 'replica-a', name), replica(clientB, 'replica-b', name));
    await Bun.sleep(300);
    const stopping = performance.now();
    await leader.e.stop({ release: true });
    const released = performance.now();
    const afterRelease = await api.get(leaseRef(name));
    // Either still the released record, or already the standby's.
    expect(['', follower.id]).toContain(afterRelease.spec.holderIdentity);
    expect(leader.e.isLeader()).toBe(false);
    expect(leader.changes.at(-1)).toMatchObject({ isLeader: false, holder: undefined });
    // The old leader stopped answering before it released the Lease.
    expect(leader.changes.at(-1)!.at).toBeLessThanOrEqual(released);

    await waitFor('the standby to lead', () => follower.e.isLeader(), 2000, 5);
    const took = performance.now() - released;
    console.log(`release -> standby leads: ${took.toFixed(0)} ms (stop() took ${(released - stopping).toFixed(0)} ms; retry period ${RETRY_MS} ms)`);
    expect(took).toBeLessThanOrEqual(RETRY_MS + SLACK_MS / 3);
    const lease = await api.get(leaseRef(name));
    expect(lease.spec).toMatchObject({ holderIdentity: follower.id, leaseTransitions: 1, leaseDurationSeconds: 1 });
    expect(follower.changes.at(-1)).toMatchObject({ isLeader: true, holder: follower.id });
  });

  test('abrupt stop (as SIGKILL): the standby leads after leaseDuration (+ retry), not before', async () => {
    const name = leaseName();
    const [leader, follower] = await electOne(replica(clientA, 'replica-a', name), replica(clientB, 'replica-b', name));
    await Bun.sleep(300);
    await leader.e.stop();
    const killed = performance.now();
    const lastRenew = leader.e.view().lastRenew!;
    expect((await api.get(leaseRef(name))).spec).toMatchObject({ holderIdentity: leader.id, renewTime: lastRenew });

    await waitFor('the standby to lead', () => follower.e.isLeader(), LEASE_MS + RETRY_MS + 1500, 5);
    const took = performance.now() - killed;
    console.log(`abrupt stop -> standby leads: ${took.toFixed(0)} ms (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)`);
    const lease = await api.get(leaseRef(name));
    expect(lease.spec.holderIdentity).toBe(follower.id);
    expect(lease.spec.leaseTransitions).toBe(1);
    // Not before: the standby's acquireTime is a full lease after the last renewal it could have seen
    // (one host, one clock, so the two timestamps compare here).
    expect(Date.parse(lease.spec.acquireTime) - Date.parse(lastRenew)).toBeGreaterThanOrEqual(LEASE_MS);
    // The last renewal was at most a retry period (plus a request) before the stop.
    expect(took).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS - 50);
    expect(took).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + SLACK_MS);
  });

  test('API server killed for 3 s while A leads: A keeps leading, B never claims; apiReachable false, then true', async () => {
    const name = leaseName();
    const a = replica(clientA, 'replica-a', name);
    a.e.start();
    await waitFor('A to lead', () => a.e.isLeader(), 3000, 10);
    const b = replica(clientB, 'replica-b', name);
    b.e.start();
    await waitFor('B to see A', () => b.e.view().holder === a.id, 3000, 10);
    const since = Date.now();

    await api.stop('kill');
    const down = performance.now();
    let sawUnreachableA = false;
    let sawUnreachableB = false;
    await neverTwoLeaders(a, b, 3000, () => {
      expect(a.e.isLeader()).toBe(true);
      expect(b.e.isLeader()).toBe(false);
      sawUnreachableA ||= !a.e.view().apiReachable;
      sawUnreachableB ||= !b.e.view().apiReachable;
    });
    expect(sawUnreachableA && sawUnreachableB).toBe(true);
    expect(a.e.view()).toMatchObject({ state: 'leader', apiReachable: false, holder: a.id });
    expect(a.e.view().lastError).toBeString();
    expect(b.e.view()).toMatchObject({ state: 'unknown', isLeader: false, apiReachable: false });
    console.log(`API server down for ${(performance.now() - down).toFixed(0)} ms`);

    await api.restart();
    await waitFor('A to reach the server again', () => a.e.view().apiReachable, 3000, 10);
    await waitFor('B to reach the server again', () => b.e.view().apiReachable, 3000, 10);
    // Longer than a lease after the server came back: the outage does not count against A's record.
    await neverTwoLeaders(a, b, LEASE_MS + 2 * RETRY_MS, () => expect(a.e.isLeader()).toBe(true));
    expect(a.e.view()).toMatchObject({ state: 'leader', apiReachable: true });
    expect(a.e.view().lastError).toBeUndefined();
    expect(b.e.view()).toMatchObject({ state: 'follower', holder: a.id, apiReachable: true });
    expect(a.changes.map((c) => c.isLeader)).toEqual([true]);
    expect(b.changes.some((c) => c.isLeader)).toBe(false);
    expect(await acceptedWrites('l2lb-b', name, since)).toBe(0);
    expect((await api.get(leaseRef(name))).spec.holderIdentity).toBe(a.id);
    // Logged once per change of reachability, not once per failed retry.
    for (const r of [a, b]) {
      expect(r.logs.filter((l) => l.msg.startsWith('API server unreachable'))).toHaveLength(1);
      expect(r.logs.filter((l) => l.msg === 'API server reachable again')).toHaveLength(1);
    }
    expect(a.logs.filter((l) => l.msg.startsWith('Lease not renewed within renewDeadline'))).toHaveLength(1);
  });

  test('2 s latency on every call with the default timings (5 s / 3 s / 1 s): renewals still land, nobody steps down, the standby never claims', async () => {
    const name = leaseName();
    const timing = { leaseDurationMs: LEASE_DEFAULTS.leaseDurationMs, renewDeadlineMs: LEASE_DEFAULTS.renewDeadlineMs, retryPeriodMs: LEASE_DEFAULTS.retryPeriodMs };
    const [leader, follower] = await electOne(replica(clientA, 'replica-a', name, timing), replica(clientB, 'replica-b', name, timing));
    const users = (r: Replica) => (r.id === 'replica-a' ? 'l2lb' : 'l2lb-b');
    const since = Date.now();
    await api.latency(2000);
    try {
      // Two leases long: a standby that misjudged a slow renewal as a missing one would claim in here.
      await neverTwoLeaders(leader, follower, 2 * LEASE_DEFAULTS.leaseDurationMs, () => {
        expect(leader.e.isLeader()).toBe(true);
        expect(follower.e.isLeader()).toBe(false);
      });
    } finally {
      await api.clearFaults();
    }
    // A renewal every latency + retry period (~3 s), each within the 3 s renewDeadline.
    expect(await acceptedWrites(users(leader), name, since)).toBeGreaterThanOrEqual(3);
    expect(await acceptedWrites(users(follower), name, since)).toBe(0);
    expect(leader.changes.map((c) => c.isLeader)).toEqual([true]);
    expect(follower.changes.some((c) => c.isLeader)).toBe(false);
    expect(leader.logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(follower.e.view()).toMatchObject({ state: 'follower', holder: leader.id, apiReachable: true });
  });

  test('a 409 on renewal while still the holder: re-read and renew, no step-down', async () => {
    const name = leaseName();
    const [leader, follower] = await electOne(replica(clientA, 'replica-a', name), replica(clientB, 'replica-b', name));
    const user = leader.id === 'replica-a' ? 'l2lb' : 'l2lb-b';
    const since = Date.now();
    await api.failNext(1, { status: 409, verbs: ['update'], resource: 'leases' });
    await neverTwoLeaders(leader, follower, 4 * RETRY_MS, () => expect(leader.e.isLeader()).toBe(true));
    const path = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`;
    const log = (await api.requests()).filter((r) => r.at >= since && r.user === user && r.path === path).map((r) => `${r.method} ${r.status}`);
    const conflict = log.indexOf('PUT 409');
    expect(conflict).toBeGreaterThanOrEqual(0);
    // Straight after the conflict: read the Lease, see ourselves, write again on the fresh version.
    expect(log.slice(conflict, conflict + 3)).toEqual(['PUT 409', 'GET 200', 'PUT 200']);
    expect(leader.changes.map((c) => c.isLeader)).toEqual([true]);
    expect(leader.logs.some((l) => l.level === 'warn' || l.level === 'error')).toBe(false);
    expect(Date.now() - Date.parse((await api.get(leaseRef(name))).spec.renewTime)).toBeLessThan(RETRY_MS + SLACK_MS);
  });

  test('another holder written behind our back: the leader steps down at once, and takes over after it expires', async () => {
    const name = leaseName();
    const a = replica(clientA, 'replica-a', name);
    a.e.start();
    await waitFor('A to lead', () => a.e.isLeader(), 3000, 10);
    const current = await api.get(leaseRef(name));
    const stamp = microTime(Date.now());
    await api.update({ ...current, spec: { ...current.spec, holderIdentity: 'intruder', acquireTime: stamp, renewTime: stamp, leaseTransitions: 1 } });
    const written = performance.now();
    await waitFor('A to step down', () => !a.e.isLeader(), 2000, 5);
    const stepDown = a.changes.at(-1)!;
    expect(stepDown).toMatchObject({ isLeader: false, holder: 'intruder' });
    // Seen at the next renewal (409, then a read): within a retry period.
    expect(stepDown.at - written).toBeLessThanOrEqual(RETRY_MS + SLACK_MS);
    expect(a.e.view()).toMatchObject({ state: 'follower', holder: 'intruder', transitions: 1 });
    // The intruder never renews: after a lease measured from our observation, A takes it back.
    await waitFor('A to lead again', () => a.e.isLeader(), LEASE_MS + RETRY_MS + 1000, 5);
    expect(performance.now() - stepDown.at).toBeGreaterThanOrEqual(LEASE_MS - 5);
    expect((await api.get(leaseRef(name))).spec).toMatchObject({ holderIdentity: 'replica-a', leaseTransitions: 2 });
  });

  test('expiry is judged on our clock from when we saw the record change, never from its timestamps', async () => {
    for (const year of ['1999', '2099']) {
      const name = leaseName();
      const t = `${year}-01-01T00:00:00.000000Z`;
      await api.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: NS },
        spec: { holderIdentity: 'ghost', leaseDurationSeconds: 1, acquireTime: t, renewTime: t, leaseTransitions: 4 },
      });
      const b = replica(clientB, 'replica-b', name);
      const started = performance.now();
      b.e.start();
      await waitFor('B to see the ghost', () => b.e.view().holder === 'ghost', 2000, 5);
      // A renewTime from 1999 is not "long expired", one from 2099 is not "valid for decades".
      await waitFor(`B to take over (renewTime ${year})`, () => b.e.isLeader(), LEASE_MS + RETRY_MS + 1500, 5);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(LEASE_MS);
      expect(took).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + SLACK_MS);
      expect((await api.get(leaseRef(name))).spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 5 });
      await b.e.stop();
    }
  });

  test('the Lease namespace missing: said once with what to do, shown in the view, repeats logged at a falling rate; leads once it exists', async () => {
    const a = replica(clientA, 'replica-a', leaseName(), { namespace: 'l2lb-nowhere' });
    a.e.start();
    await waitFor('the problem shown', () => a.e.view().problem, 3000);
    expect(a.e.view().problem).toContain('namespace l2lb-nowhere does not exist');
    expect(a.e.view().problem).toContain('apply config/deploy/namespace.yaml, or set kubernetes.leaderElection.namespace');
    // 3 s at a 200 ms retry period: ~15 attempts, logged at the 1st, 2nd, 4th and 8th.
    await Bun.sleep(3000);
    const said = a.logs.filter((l) => l.msg.includes('does not exist'));
    expect(said.length).toBeGreaterThanOrEqual(3);
    expect(said.length).toBeLessThanOrEqual(5);
    expect(a.logs.filter((l) => l.msg === 'Lease request failed, retrying')).toEqual([]);
    expect(a.e.isLeader()).toBe(false);
    await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-nowhere' } });
    await waitFor('leading once the namespace exists', () => a.e.isLeader(), 3000);
    expect(a.e.view().problem).toBeUndefined();
  });

  test('identity: overridable; the default is HOSTNAME_PID', async () => {
    expect(defaultIdentity()).toBe(`${hostname()}_${process.pid}`);
    expect(LEASE_DEFAULTS).toMatchObject({ namespace: 'l2lb-system', name: 'l2lb', leaseDurationMs: 5000, renewDeadlineMs: 3000, retryPeriodMs: 1000 });
    const name = leaseName();
    const r = replica(clientA, 'gateway-1', name);
    r.e.start();
    await waitFor('it to lead', () => r.e.isLeader(), 3000, 10);
    expect((await api.get(leaseRef(name))).spec.holderIdentity).toBe('gateway-1');
    expect(r.e.view().holder).toBe('gateway-1');
    // A restart under the same identity takes its own Lease back at once instead of waiting for it to expire.
    await r.e.stop();
    const again = replica(clientA, 'gateway-1', name);
    const started = performance.now();
    again.e.start();
    await waitFor('it to lead again', () => again.e.isLeader(), 3000, 5);
    expect(performance.now() - started).toBeLessThan(RETRY_MS);
    expect((await api.get(leaseRef(name))).spec.leaseTransitions).toBe(0);
  });

  test('bad timings are refused', () => {
    const log = createLogger({ level: 'error', format: 'json' }, () => {});
    const base = { namespace: NS, name: 'x', identity: 'i', log, ...TIMING };
    expect(() => new LeaderElector(clientA, { ...base, retryPeriodMs: LEASE_MS })).toThrow(RangeError);
    expect(() => new LeaderElector(clientA, { ...base, retryPeriodMs: 0 })).toThrow(RangeError);
    expect(() => new LeaderElector(clientA, { ...base, renewDeadlineMs: 0 })).toThrow(RangeError);
    expect(() => new LeaderElector(clientA, { ...base, identity: '' })).toThrow(RangeError);
  });
});
