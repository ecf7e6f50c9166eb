/**
 * Replicas seeing each other on the wire (issue 8), end to end: three replicas (compiled binary) on the
 * bridged gateway topology with an authentication key, three nodes, the client capturing every ARP frame.
 * A frozen (SIGSTOP) or cut-off leader must never point the address at a node that failed while it was
 * away; forged and replayed heartbeats must change nothing.
 *
 * The tests run in order on one topology; each leaves three running replicas and every node up.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { inNetns, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type ArpCapture, type Replica, GATEWAY_VIP as VIP, GATEWAY_VIP6, ArpCapture as Capture, Gateway, isGratuitous } from '../support/gateway.ts';
import { libc } from '../../src/runtime/ffi.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { FLAG_LEADER, FLAG_LEASE, deploymentId, encodeHeartbeat } from '../../src/wire/heartbeat.ts';
import { TAKEOVER_REASONS } from '../../src/announce/membership.ts';

setDefaultTimeout(30_000);
const root = requireRoot('e2e membership');

const KEY = 'e2e-membership-shared-secret';
const LEASE = { leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '500ms' };

let gw: Gateway;
let cap: ArpCapture;

interface MembershipStatus {
  identity: string;
  role: 'leader' | 'standby' | 'fenced';
  term: number;
  members: { identity: string; role: string; term: number; mac: string; interface: string }[];
  lastTakeover: { reason: string } | null;
  stalls: number;
  warning?: string;
}

function membership(r: Replica): MembershipStatus | undefined {
  return r.running?.api('GET', '/v1/status').json?.membership;
}

/** Waits until exactly one running replica leads on the wire, every other one is a standby, and returns it. */
async function wireLeader(timeoutMs = 5000): Promise<Replica> {
  return waitFor('exactly one wire leader', () => {
    const running = gw.replicas.filter((r) => r.running);
    const views = running.map((r) => membership(r));
    const leaders = running.filter((_, i) => views[i]?.role === 'leader');
    return leaders.length === 1 && views.every((v) => v && (v.role === 'leader' || v.role === 'standby')) ? leaders[0] : undefined;
  }, timeoutMs, 20).catch((err) => {
    throw new Error(`${(err as Error).message}\n${gw.replicas.map((r) => `${r.name}: ${JSON.stringify(membership(r))}`).join('\n')}`);
  });
}

function metric(r: Replica, name: string, labels: string): number {
  const text = r.running!.api('GET', '/metrics').text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

function served(timeoutMs = 5000): Promise<string> {
  return waitFor(`an answer through ${VIP}`, () => gw.curl(VIP) || undefined, timeoutMs, 50);
}

async function restore(): Promise<void> {
  for (const n of gw.nodes) gw.setLink(n, true);
  for (const r of gw.replicas) {
    gw.setLink(r, true);
    r.running?.signal('SIGCONT');
    if (!r.running) await gw.startReplica(r.index);
  }
  await wireLeader(10_000);
  await gw.leader();
  await waitFor('every node a candidate for every replica', () => gw.replicas.every((r) =>
    (r.running!.api('GET', '/v1/nodes').json?.nodes as { candidate: boolean }[] | undefined)?.every((n) => n.candidate)), 5000, 50);
}

/**
 * Freezes or cuts off the wire leader; while it is away a standby takes over and the serving node fails;
 * then it comes back. Checks every ARP frame the returning replica sends (captured in its own namespace)
 * and the client's neighbour entry, and that exactly one replica answers afterwards.
 */
async function awayAndBack(how: 'freeze' | 'partition'): Promise<void> {
  const old = await wireLeader();
  const node = gw.node(await served());
  const own = await Capture.start(old.ns);
  try {
    const t0 = Date.now();
    if (how === 'freeze') old.running!.signal('SIGSTOP');
    else gw.setLink(old, false);
    // The next in line answers as soon as three heartbeats are missed.
    const garp = await waitFor('a gratuitous ARP from another replica', () =>
      cap.about(VIP, t0).find((f) => isGratuitous(f) && f.ethSrc !== old.mac), 3000, 10);
    const acting = gw.replicaByMac(garp.ethSrc)!;
    console.log(`${how} of the leader: ${acting.name} answers after ${(garp.at - t0).toFixed(0)} ms`);
    expect(garp.at - t0).toBeLessThan(800);

    // The node serving the address fails while the old leader is away; the acting leader moves the address.
    gw.setLink(node, false);
    await waitFor('the address moved to another node', () => {
      const now = gw.curl(VIP);
      return now && now !== node.node ? now : undefined;
    }, 3000, 20);
    await Bun.sleep(300);

    const back = Date.now();
    const requests = gw.arpRequests(VIP, 20);
    const neighbours = new Set<string>();
    const sampler = setInterval(() => {
      const m = gw.clientNeighbour(VIP);
      if (m) neighbours.add(m);
    }, 20);
    if (how === 'freeze') old.running!.signal('SIGCONT');
    else gw.setLink(old, true);
    await Bun.sleep(2500);
    clearInterval(sampler);
    await requests.stop();

    // Nothing the returning replica sent maps the address to the failed node (nor anywhere: it stepped down).
    const sent = own.frames.filter((f) => f.at >= back && f.ethSrc === old.mac && f.senderIp === VIP);
    expect(sent.filter((f) => f.senderMac === node.mac)).toEqual([]);
    const who = (m: string) => gw.replicaByMac(m)?.name ?? gw.nodeByMac(m)?.node ?? m;
    expect(sent.map((f) => `+${(f.at - back).toFixed(0)}ms ${f.op} ${f.senderIp} is-at ${who(f.senderMac)} -> ${f.ethDst}`)).toEqual([]);
    expect(neighbours.has(node.mac)).toBe(false);
    // Exactly one replica answers the client's requests afterwards, with a live node's MAC.
    const replies = cap.about(VIP, back + 1000).filter((f) => f.op === 'reply' && !isGratuitous(f));
    expect(replies.length).toBeGreaterThan(10);
    expect(new Set(replies.map((f) => f.ethSrc))).toEqual(new Set([acting.mac]));
    expect(replies.some((f) => f.senderMac === node.mac)).toBe(false);
    const view = membership(old)!;
    expect(view.role).toBe('standby');
    if (how === 'freeze') {
      expect(view.stalls).toBeGreaterThanOrEqual(1);
      // The same count where an operator would alert on it.
      const text = old.running!.api('GET', '/metrics').text;
      expect(Number(/^l2lb_membership_stalls_total (\d+)$/m.exec(text)?.[1])).toBe(view.stalls);
    }
    expect((await wireLeader()).name).toBe(acting.name);
    // The Lease ends up with the replica that answers.
    await waitFor('the acting leader to hold the Lease', () => gw.election(acting.index)?.isLeader === true, 6000, 50);
  } finally {
    if (process.env.TEST_LOGS_DIR) for (const r of gw.replicas) require('node:fs').writeFileSync(`${process.env.TEST_LOGS_DIR}/${how}-${r.name}.log`, r.running?.logs() ?? '');
    await own.stop();
    await restore();
  }
}

/** A send-and-receive packet socket for heartbeats in the client's namespace. */
function heartbeatSocket(): PacketSocket {
  const lib = libc();
  const ifindex = inNetns(gw.client.ns, () => lib.if_nametoindex(new TextEncoder().encode('eth0\0')));
  return inNetns(gw.client.ns, () => PacketSocket.open(lib, { ifindex, protocol: 0x88b5, nonBlocking: true }));
}

describe.skipIf(!root)('membership on the wire (three replicas, three nodes, compiled binary)', () => {
  beforeAll(async () => {
    gw = await Gateway.create({ prefix: 'l2mb', nodes: 3, replicas: 3, lease: LEASE, config: { membership: { key: KEY } } }, async (g) => {
      gw = g;
      cap = await gw.capture();
      await wireLeader(10_000);
      await gw.leader();
      await served();
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.destroy();
  });

  test('one wire leader, the Lease holder; every replica lists the other two with role and term', async () => {
    const leader = await wireLeader();
    expect((await gw.leader()).name).toBe(leader.name);
    for (const r of gw.replicas) {
      const v = await waitFor(`${r.name} hears both others`, () => {
        const m = membership(r);
        return m && m.members.length === 2 ? m : undefined;
      }, 3000, 50);
      expect(v.warning).toBeUndefined();
      expect(new Set(v.members.map((m) => m.mac))).toEqual(new Set(gw.replicas.filter((x) => x !== r).map((x) => x.mac)));
      const lead = v.members.find((m) => m.role === 'leader') ?? (v.role === 'leader' ? v : undefined);
      expect(lead?.identity).toBe(membership(leader)!.identity);
      expect(metric(r, 'l2lb_members', 'role="leader"')).toBe(1);
      expect(metric(r, 'l2lb_members', 'role="standby"')).toBe(2);
    }
  });

  test('leader SIGSTOP beyond the takeover time, its node fails meanwhile, SIGCONT: it never answers stale', async () => {
    await awayAndBack('freeze');
  });

  test('leader cut off from the segment, its node fails meanwhile, link back: it never answers stale', async () => {
    await awayAndBack('partition');
  });

  test('forged heartbeats (wrong key, another deployment) and the dead leader\'s replayed ones change nothing', async () => {
    const sock = heartbeatSocket();
    try {
      const leader = await wireLeader();
      const standbys = gw.replicas.filter((r) => r !== leader);
      const before = standbys.map((r) => ({ ...membership(r)! }));
      // Record real heartbeats of the leader to replay later.
      const recorded: Uint8Array[] = [];
      const buf = new Uint8Array(2048);
      await waitFor('heartbeats of the leader recorded', () => {
        for (;;) {
          const n = sock.recv(buf);
          if (n < 0) break;
          if (buf.subarray(6, 12).every((b, i) => b === parseMAC(leader.mac)![i])) recorded.push(buf.slice(0, n));
        }
        return recorded.length >= 10 ? true : undefined;
      }, 3000, 50);

      const src = parseMAC(gw.client.mac)!;
      const claim = (deployment: string, key?: string) => encodeHeartbeat(src, {
        deployment: deploymentId(deployment), flags: FLAG_LEADER | FLAG_LEASE, epoch: Date.now(), sequence: 1, term: 1_000_000,
        termHolder: 'intruder', identity: 'intruder', priority: 255, interval: 100, misses: 3, vips: new Uint8Array(8),
      }, key === undefined ? undefined : new TextEncoder().encode(key));
      const forged = [claim('l2lb-system/l2lb', 'not-the-shared-secret!'), claim('l2lb-system/l2lb'), claim('another/deployment', KEY)];
      for (let i = 0; i < 20; i++) {
        for (const f of forged) sock.send(f);
        await Bun.sleep(20);
      }
      for (const [i, r] of standbys.entries()) {
        const v = membership(r)!;
        expect(v.role).toBe('standby');
        expect(v.term).toBe(before[i]!.term);
        expect(v.members.some((m) => m.identity === 'intruder')).toBe(false);
        // The worker posts its counters every 250 ms at most.
        await waitFor(`${r.name} counting every forged heartbeat`, () => ['hb-bad-mac', 'hb-unauthenticated', 'hb-other-deployment']
          .every((reason) => metric(r, 'l2lb_heartbeats_dropped_total', `reason="${reason}"`) >= 20), 2000, 50);
      }
      expect(membership(leader)!.role).toBe('leader');

      // Kill the leader and keep its recorded heartbeats coming: a replay must not keep a dead leader alive.
      const t0 = Date.now();
      await gw.stopReplica(leader.index, 'SIGKILL');
      const replay = setInterval(() => {
        for (const f of recorded) sock.send(f);
      }, 50);
      try {
        const garp = await waitFor('a gratuitous ARP from a standby', () =>
          cap.about(VIP, t0).find((f) => isGratuitous(f) && f.ethSrc !== leader.mac), 3000, 10);
        expect(garp.at - t0).toBeLessThan(800);
      } finally {
        clearInterval(replay);
      }
      const next = await wireLeader();
      expect(next).not.toBe(leader);
      expect(metric(next, 'l2lb_heartbeats_dropped_total', 'reason="hb-replayed"')).toBeGreaterThan(0);
    } finally {
      sock.close();
      await restore();
    }
  });

  test('API server stopped: no takeover while the leader\'s heartbeats go on; the address is answered throughout', async () => {
    const leader = await wireLeader();
    const takeovers = (r: Replica) => TAKEOVER_REASONS.reduce((n, reason) => n + metric(r, 'l2lb_takeovers_total', `reason="${reason}"`), 0);
    const before = gw.replicas.map(takeovers);
    const node = await served();
    await gw.api.stop('kill');
    try {
      const t0 = Date.now();
      const requests = gw.arpRequests(VIP, 50);
      // Longer than the Lease: the leader loses it (it cannot renew) but keeps answering on the wire.
      await Bun.sleep(3500);
      await requests.stop();
      expect(gw.replicas.map(takeovers)).toEqual(before);
      expect(membership(leader)!.role).toBe('leader');
      for (const r of gw.replicas.filter((x) => x !== leader)) expect(membership(r)!.role).toBe('standby');
      const replies = cap.about(VIP, t0).filter((f) => f.op === 'reply' && !isGratuitous(f));
      expect(replies.length).toBeGreaterThan(requests.sent * 0.9);
      expect(new Set(replies.map((f) => f.ethSrc))).toEqual(new Set([leader.mac]));
      expect(gw.curl(VIP)).toBe(node);
    } finally {
      await gw.api.restart();
    }
    await gw.leader(10_000);
    expect((await wireLeader()).name).toBe(leader.name);
  });
});

describe.skipIf(!root)('membership over IPv6 (two replicas, two nodes, compiled binary)', () => {
  let g6: Gateway;
  beforeAll(async () => {
    g6 = await Gateway.create({ prefix: 'l2m6', nodes: 2, replicas: 2, ipv6: true, service: false, lease: LEASE, config: { membership: { key: KEY } } }, async (g) => {
      await g.createService('web6', GATEWAY_VIP6, { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
      await waitFor('an answer through the IPv6 address', () => g.curl(GATEWAY_VIP6) || undefined, 10_000, 100);
    });
  }, 60_000);

  afterAll(async () => {
    await g6?.destroy();
  });

  test('leader SIGKILL: a new client\'s Neighbor Solicitation is answered by the standby within the takeover time', async () => {
    const leader = await g6.leader();
    const standby = g6.replicas.find((r) => r !== leader)!;
    const node = g6.curl(GATEWAY_VIP6);
    await waitFor('the standby standing by on the wire', () => standby.running!.api('GET', '/v1/status').json?.membership?.role === 'standby', 3000, 20);
    const t0 = Date.now();
    await g6.stopReplica(leader.index, 'SIGKILL');
    // ndisc6 is a new client: it asks by multicast NS and prints the target link-layer address of the NA.
    const mac = await waitFor('an NA for the address', () => {
      const r = sh(['ndisc6', '-1', '-r', '1', '-w', '50', GATEWAY_VIP6, 'eth0'], { ns: g6.client.ns, check: false });
      return /Target link-layer address: ([0-9A-F:]{17})/i.exec(r.stdout)?.[1]?.toLowerCase();
    }, 3000, 5);
    const dt = Date.now() - t0;
    console.log(`IPv6: leader SIGKILL to a new client's first NA from the standby: ${dt} ms`);
    expect(dt).toBeLessThan(800);
    expect(mac).toBe(g6.node(node).mac);
    expect(standby.running!.api('GET', '/v1/status').json.membership.role).toBe('leader');
    expect(g6.curl(GATEWAY_VIP6)).toBe(node);
  });
});
