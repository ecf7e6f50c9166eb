/**
 * Standalone high availability (issue 8, item 7), keepalived's use case with no Kubernetes: two standalone
 * instances (compiled binary) with the same deployment name and a key on one bridge with a client. They
 * elect one active instance over the heartbeats alone; the other takes over on SIGKILL, SIGSTOP and link
 * loss of the active one; different VIP sets are reported.
 *
 * The tests run in order on one topology; each leaves both instances running.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, startL2lb } from '../support/l2lb.ts';
import { ArpCapture, isGratuitous } from '../support/gateway.ts';

setDefaultTimeout(30_000);
const root = requireRoot('e2e standalone HA');

const P = 'l2ha';
const VIP = '192.0.2.50';
const KEY = 'standalone-ha-shared-secret';
interface Box { name: string; ns: string; ip: string; mac: string; priority: number; running?: Running }
const lan = `${P}-lan`;
const client = { name: 'cl', ns: `${P}-cl`, ip: '192.0.2.9', mac: '02:00:00:00:09:09' };
const boxes: Box[] = [
  { name: 'a1', ns: `${P}-a1`, ip: '192.0.2.1', mac: '02:00:00:00:01:01', priority: 200 },
  { name: 'a2', ns: `${P}-a2`, ip: '192.0.2.2', mac: '02:00:00:00:01:02', priority: 100 },
];
let cap: ArpCapture;

function cleanup(): void {
  for (const ns of [lan, client.ns, ...boxes.map((b) => b.ns)]) sh(['ip', 'netns', 'del', ns], { check: false });
}

async function start(b: Box): Promise<void> {
  b.running = await startL2lb(b.ns, {
    mode: 'standalone', interfaces: ['eth0'], vips: [{ ip: VIP }],
    membership: { enabled: true, deployment: 'gateway-pair', identity: b.name, key: KEY, priority: b.priority },
  });
}

function status(b: Box): any {
  return b.running?.api('GET', '/v1/status').json?.membership;
}

/** Waits until exactly one instance is active and the other stands by; returns the active one. */
function active(timeoutMs = 5000): Promise<Box> {
  return waitFor('one active instance', () => {
    const roles = boxes.map((b) => status(b)?.role);
    const leaders = boxes.filter((_, i) => roles[i] === 'leader');
    return leaders.length === 1 && roles.every((r) => r === 'leader' || r === 'standby' || r === undefined) ? leaders[0] : undefined;
  }, timeoutMs, 20);
}

/** Replies to broadcast ARP requests from the client, by the MAC they carry. */
function arping(count = 3): string[] {
  const r = sh(['arping', '-b', '-c', String(count), '-w', String(count + 1), '-I', 'eth0', VIP], { ns: client.ns, check: false });
  return [...r.stdout.matchAll(/\[([0-9a-f:]{17})\]/gi)].map((m) => m[1]!.toLowerCase());
}

function firstGratuitousFrom(b: Box, from: number, timeoutMs = 3000) {
  return waitFor(`a gratuitous ARP from ${b.name}`, () => cap.about(VIP, from).find((f) => isGratuitous(f) && f.ethSrc === b.mac), timeoutMs, 10);
}

async function restore(): Promise<void> {
  for (const b of boxes) {
    sh(['ip', 'link', 'set', `p-${b.name}`, 'up'], { ns: lan });
    b.running?.signal('SIGCONT');
    if (!b.running) await start(b);
  }
  await active();
}

function other(b: Box): Box {
  return boxes.find((x) => x !== b)!;
}

describe.skipIf(!root)('standalone HA pair (compiled binary, bridge)', () => {
  beforeAll(async () => {
    cleanup();
    sh(['ip', 'netns', 'add', lan]);
    sh(['ip', 'link', 'add', 'br0', 'type', 'bridge'], { ns: lan });
    sh(['ip', 'link', 'set', 'br0', 'up'], { ns: lan });
    for (const h of [client, ...boxes]) {
      sh(['ip', 'netns', 'add', h.ns]);
      sh(['ip', 'link', 'set', 'lo', 'up'], { ns: h.ns });
      sh(['ip', 'link', 'add', `p-${h.name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns], { ns: lan });
      sh(['ip', 'link', 'set', `p-${h.name}`, 'master', 'br0', 'up'], { ns: lan });
      sh(['ip', 'link', 'set', 'eth0', 'address', h.mac, 'up'], { ns: h.ns });
      sh(['ip', 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'], { ns: h.ns });
    }
    cap = await ArpCapture.start(client.ns);
    await Promise.all(boxes.map((b) => start(b)));
    await active(10_000);
  }, 60_000);

  afterAll(async () => {
    await cap?.stop();
    for (const b of boxes) await b.running?.stop('SIGKILL');
    cleanup();
  });

  test('the higher priority is active; only it answers, with its own MAC', async () => {
    const a = await active();
    expect(a.name).toBe('a1');
    // Active first takes its conflict probe; then it answers.
    await waitFor('the VIP active', () => a.running!.api('GET', '/v1/vips').json?.vips?.[0]?.state === 'active', 3000, 20);
    const s = status(other(a));
    expect(s.members.map((m: { identity: string }) => m.identity)).toEqual(['a1']);
    expect(s.vipSetMismatch).toBeUndefined();
    const macs = arping();
    expect(macs.length).toBe(3);
    expect(new Set(macs)).toEqual(new Set([a.mac]));
  });

  test('SIGKILL of the active: the standby announces and answers within the takeover time; no preemption on return', async () => {
    try {
      const a = await active();
      const b = other(a);
      const t0 = Date.now();
      await a.running!.stop('SIGKILL');
      a.running = undefined;
      const garp = await firstGratuitousFrom(b, t0);
      console.log(`standalone SIGKILL of the active to the standby's first gratuitous ARP: ${(garp.at - t0).toFixed(0)} ms`);
      expect(garp.at - t0).toBeLessThan(800);
      expect(new Set(arping(2))).toEqual(new Set([b.mac]));
      expect(status(b).lastTakeover.reason).toBe(`${a.name} missed 3 heartbeats`);
      // Back with a higher priority, but preemption is off: the one serving keeps serving.
      await start(a);
      await Bun.sleep(800);
      expect((await active()).name).toBe(b.name);
      expect(new Set(arping(2))).toEqual(new Set([b.mac]));
    } finally {
      await restore();
    }
  });

  test('SIGSTOP of the active, then SIGCONT: the standby takes over, the resumed one stays silent', async () => {
    const a = await active();
    const b = other(a);
    const own = await ArpCapture.start(a.ns);
    try {
      const t0 = Date.now();
      a.running!.signal('SIGSTOP');
      const garp = await firstGratuitousFrom(b, t0);
      expect(garp.at - t0).toBeLessThan(800);
      await Bun.sleep(500);
      const back = Date.now();
      a.running!.signal('SIGCONT');
      const macs = arping(3);
      await Bun.sleep(300);
      expect(new Set(macs)).toEqual(new Set([b.mac]));
      expect(own.frames.filter((f) => f.at >= back && f.ethSrc === a.mac && f.senderIp === VIP)).toEqual([]);
      expect(status(a).role).toBe('standby');
      expect(status(a).stalls).toBeGreaterThanOrEqual(1);
    } finally {
      await own.stop();
      await restore();
    }
  });

  test('link loss of the active: the standby takes over; on return exactly one answers', async () => {
    try {
      const a = await active();
      const b = other(a);
      const t0 = Date.now();
      sh(['ip', 'link', 'set', `p-${a.name}`, 'down'], { ns: lan });
      const garp = await firstGratuitousFrom(b, t0);
      expect(garp.at - t0).toBeLessThan(800);
      sh(['ip', 'link', 'set', `p-${a.name}`, 'up'], { ns: lan });
      await Bun.sleep(1000);
      const macs = arping(3);
      expect(macs.length).toBe(3);
      expect(new Set(macs)).toEqual(new Set([b.mac]));
      expect((await active()).name).toBe(b.name);
    } finally {
      await restore();
    }
  });

  test('different VIP sets are reported on both sides, and clear when they agree again', async () => {
    const a = await active();
    const b = other(a);
    const extra = '192.0.2.51';
    try {
      expect(a.running!.api('PUT', `/v1/vips/${extra}`, {}).status).toBe(201);
      const seen = await waitFor('the mismatch reported by the standby', () => status(b)?.vipSetMismatch, 2000, 20);
      expect(seen).toEqual([a.name]);
      expect(status(a).vipSetMismatch).toEqual([b.name]);
      expect(b.running!.api('GET', '/metrics').text).toContain('l2lb_vip_set_mismatch 1');
      // The standby takes the same change (accepted there, watched, not answered), and the report clears.
      expect(b.running!.api('PUT', `/v1/vips/${extra}`, {}).status).toBe(201);
      await waitFor('the mismatch cleared', () => status(a)?.vipSetMismatch === undefined && status(b)?.vipSetMismatch === undefined, 2000, 20);
      const r = sh(['arping', '-b', '-c', '2', '-w', '3', '-I', 'eth0', extra], { ns: client.ns, check: false });
      expect(new Set([...r.stdout.matchAll(/\[([0-9a-f:]{17})\]/gi)].map((m) => m[1]!.toLowerCase()))).toEqual(new Set([a.mac]));
    } finally {
      a.running!.api('DELETE', `/v1/vips/${extra}`);
      b.running!.api('DELETE', `/v1/vips/${extra}`);
    }
  });
});
