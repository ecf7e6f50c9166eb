/**
 * Floods do not starve the control plane (issue 11, point 6), end to end: the gateway model with two
 * replicas of the compiled binary, two nodes, the API server stand-in and a client, all on one bridge
 * (test/support/gateway.ts). From the client, a paced sender sends 100,000 ARP requests (then NS) per second to
 * the leader (test/support/pressure.ts) while the leader's admin API is timed every 10 ms from inside its
 * namespace and the Lease is read every 50 ms. Each flood lasts 4 s; the bench (`test/bench/flood.ts`)
 * runs them longer and at more rates.
 *
 * What must hold during every flood: the API's p99 under 50 ms and no failed request; the same Lease
 * holder, renewed at least every renewDeadline; no node probe state change and no failover; no takeover by
 * the standby (the leader's heartbeats go out and arrive); the control lane loses nothing; a client still
 * resolves the Service address and reaches its node. A requester in a loop is answered at
 * `announce.replyLimit`, not at the flood's rate.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { requireRoot, sh } from '../support/netns.ts';
import { GATEWAY_VIP, GATEWAY_VIP6, Gateway, type Replica } from '../support/gateway.ts';
import { ApiPoller, type FloodReport, LeaseWatch, answersThrough, describeFlood, underFlood } from '../support/pressure.ts';

setDefaultTimeout(120_000);
const root = requireRoot('e2e floods');
/** The product's default Lease timings: what a user runs. */
const LEASE = { leaseDuration: '5s', renewDeadline: '3s', retryPeriod: '1s' };
const RATE = 100_000;
const SECONDS = 4;

let gw: Gateway;
let leader: Replica;
/** The leader's holderIdentity on the Lease. */
let holder: string;
let poller: ApiPoller;
let lease: LeaseWatch;

/** The checks every flood must pass; the report is printed first, so a failure shows the figures. */
function expectUnharmed(r: FloodReport): void {
  console.log(`flood: ${describeFlood(r)}`);
  expect(r.received).toBeGreaterThan(0);
  expect(r.api.n).toBeGreaterThan(SECONDS * 40);
  expect(r.api.failed).toBe(0);
  expect(r.api.p99).toBeLessThan(50);
  expect(r.holders).toEqual([holder]);
  expect(r.renewGaps.length).toBeGreaterThan(0);
  expect(Math.max(...r.renewGaps)).toBeLessThan(3_000);
  expect([r.probeChanges, r.failovers, r.takeovers]).toEqual([0, 0, 0]);
  expect(r.controlDrops).toBe(0);
  expect(r.answers.ok).toBe(r.answers.asked);
}

describe.skipIf(!root)('floods (compiled binary, gateway model, 100,000 frames/s)', () => {
  beforeAll(async () => {
    gw = await Gateway.create({ prefix: 'l2fl', nodes: 2, replicas: 2, lease: LEASE, ipv6: true }, async (g) => {
      await g.createService('web6', GATEWAY_VIP6, { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
    });
    leader = await gw.leader(15_000);
    holder = gw.election(leader.index)!.holder!;
    for (const ip of [GATEWAY_VIP, GATEWAY_VIP6]) {
      const ok = answersThrough(gw, ip);
      for (let i = 0; i < 100 && !ok(); i++) await Bun.sleep(100);
    }
    poller = ApiPoller.start(leader.ns, `http://127.0.0.1:${leader.running!.port}/healthz`, leader.running!.token);
    lease = new LeaseWatch(gw.api).start();
    await Bun.sleep(1_500);
  });

  afterAll(async () => {
    lease?.stop();
    await poller?.stop();
    await gw?.destroy();
  });

  test('before any flood: the API answers within a few ms (the baseline the flood figures compare with)', () => {
    const polls = poller.between(Date.now() - 1_000, Date.now());
    expect(polls.length).toBeGreaterThan(30);
    expect(polls.every((p) => p.status === 200)).toBe(true);
  });

  test('ARP from one requester in a loop: answered at announce.replyLimit (100/s), the rest counted as limited', async () => {
    const r = await underFlood(gw, leader, { target: GATEWAY_VIP, requesters: 1, rate: RATE, seconds: SECONDS, cpu: 1 }, { poller, lease, answer: answersThrough(gw, GATEWAY_VIP) });
    expectUnharmed(r);
    // A burst of 100, then 100/s; the client's own requests come from another MAC.
    expect(r.replies).toBeLessThanOrEqual(100 + 100 * (SECONDS + 2) + 20 * r.answers.asked);
    expect(r.limited).toBeGreaterThan(r.received / 2);
  });

  test('ARP from 2,048 requesters: each answered (none is over its limit); what the worker cannot take is dropped by the kernel on the request lane and counted', async () => {
    const r = await underFlood(gw, leader, { target: GATEWAY_VIP, requesters: 2048, rate: RATE, seconds: SECONDS, cpu: 1 }, { poller, lease, answer: answersThrough(gw, GATEWAY_VIP) });
    expectUnharmed(r);
    expect(r.limited).toBe(0);
    // Every frame is accounted for: answered, or dropped on the request lane (and a few of the client's own).
    expect(r.replies + r.requestDrops).toBeGreaterThanOrEqual(r.sent * 0.99);
  });

  test('NS from 2,048 requesters: the same for IPv6', async () => {
    const r = await underFlood(gw, leader, { target: GATEWAY_VIP6, requesters: 2048, rate: RATE, seconds: SECONDS, cpu: 1 }, { poller, lease, answer: answersThrough(gw, GATEWAY_VIP6) });
    expectUnharmed(r);
    expect(r.replies + r.requestDrops).toBeGreaterThanOrEqual(r.sent * 0.99);
  });

  test('after the floods: nothing moved and the leader still answers from its node', () => {
    expect(gw.leaders()).toEqual([leader.index]);
    expect(sh(['ip', 'neigh', 'flush', 'dev', 'eth0'], { ns: gw.client.ns, check: false }).code).toBe(0);
    expect(gw.curl(GATEWAY_VIP)).not.toBe('');
  });
});
