/**
 * Per-node mode end to end (`kubernetes.announce: self`): three node namespaces on one bridge, each
 * accepting the Service addresses the way kube-proxy does and each running the compiled l2lb binary with
 * its own Node name, a client, and the API server stand-in (topology: test/support/gateway.ts,
 * `perNode`). Each address is answered by exactly one node, with that node's own MAC as Ethernet source
 * and ARP sender; a node whose link goes down loses its addresses at once; an instance killed on a healthy
 * node moves nothing during the restart grace and its TCP flows go on.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { requireRoot, sh, waitFor } from '../support/netns.ts';
import { type ArpFrame, Gateway } from '../support/gateway.ts';

setDefaultTimeout(90_000);
const root = requireRoot('e2e per-node mode');

const VIPS = ['192.0.2.200', '192.0.2.201', '192.0.2.202', '192.0.2.203', '192.0.2.204', '192.0.2.205'];
const KEY = 'per-node-test-shared-secret';
let gw: Gateway;

/** Which node each instance says serves `ip` (undefined where an instance is stopped or has no answer). */
function views(ip: string): (string | undefined)[] {
  return gw.replicas.map((_, i) => gw.servingNode(i, ip));
}

/** The serving node of every address, once every running instance agrees on each and the client reaches it. */
async function agreed(timeoutMs = 15_000): Promise<Map<string, string>> {
  return waitFor('every instance agrees on each address and the client reaches that node', () => {
    const out = new Map<string, string>();
    for (const ip of VIPS) {
      const seen = views(ip).filter((_, i) => gw.replicas[i]!.running);
      if (seen.some((n) => n === undefined || n !== seen[0])) return undefined;
      out.set(ip, seen[0]!);
    }
    return out;
  }, timeoutMs, 100).catch((err) => {
    throw new Error(`${err.message}\n${VIPS.map((ip) => `${ip}: ${JSON.stringify(views(ip))}`).join('\n')}\n${gw.diagnostics()}`);
  });
}

/** ARP replies the client captured for `ip` since `from`. */
function replies(frames: ArpFrame[]): ArpFrame[] {
  return frames.filter((f) => f.op === 'reply');
}

describe.skipIf(!root)('per-node mode (compiled binary, bridge, three nodes each running l2lb)', () => {
  beforeAll(async () => {
    gw = await Gateway.create({
      prefix: 'l2pn', nodes: 3, perNode: true,
      config: { membership: { key: KEY }, kubernetes: { restartGrace: '4s' } },
    }, async (g) => {
      for (let i = 1; i < VIPS.length; i++) await g.createService(`web${i}`, VIPS[i]!);
    });
  });

  afterAll(async () => {
    await gw?.destroy();
  });

  test("each address is answered by exactly one node, with that node's MAC as Ethernet source and ARP sender", async () => {
    const owners = await agreed();
    expect(new Set(owners.values()).size).toBeGreaterThan(1); // six addresses over three nodes: spread
    const cap = await gw.capture();
    const t0 = Date.now();
    for (const ip of VIPS) {
      sh(['ip', 'neigh', 'flush', 'dev', 'eth0'], { ns: gw.client.ns });
      const node = await waitFor(`an answer through ${ip}`, () => gw.curl(ip) || undefined, 5_000, 50);
      expect(node).toBe(owners.get(ip)!);
    }
    await Bun.sleep(200);
    for (const ip of VIPS) {
      const rs = replies(cap.about(ip, t0)).filter((f) => f.senderIp === ip);
      expect(rs.length).toBeGreaterThan(0);
      const macs = new Set(rs.map((f) => f.senderMac));
      expect(macs.size).toBe(1);
      const mac = [...macs][0]!;
      expect(gw.nodeByMac(mac)?.node).toBe(owners.get(ip)!);
      for (const f of rs) expect(f.ethSrc).toBe(f.senderMac);
    }
    // The writer records on each Service the node every instance sees serving it.
    await waitFor('serving-node annotations', async () => {
      const svcs = await gw.api.list('v1', 'Service', 'default');
      return svcs.every((s: { status?: { loadBalancer?: { ingress?: { ip: string }[] } }; metadata: { annotations?: Record<string, string> } }) => {
        const ip = s.status?.loadBalancer?.ingress?.[0]?.ip;
        return !ip || s.metadata.annotations?.['l2lb.io/serving-node'] === `${ip}=${owners.get(ip)}`;
      });
    }, 5_000);
  });

  test('SIGKILL of an instance on a healthy node moves nothing during the grace period; its TCP flow goes on', async () => {
    const owners = await agreed();
    const ip = VIPS[0]!;
    const victim = gw.node(owners.get(ip)!);
    const idx = gw.nodes.indexOf(victim);
    const flow = await gw.flow(ip, 20);
    await waitFor('the flow runs', () => (flow.report().echoes > 5 ? true : undefined), 5_000, 50);
    const code = await gw.stopReplica(idx, 'SIGKILL');
    expect(code).not.toBe(0);
    await Bun.sleep(2_500); // well inside restartGrace (4 s), well past the heartbeat expiry (300 ms)
    for (const [a, n] of owners) {
      for (const [i, r] of gw.replicas.entries()) if (r.running) expect([a, gw.servingNode(i, a)]).toEqual([a, n]);
    }
    await gw.startReplica(idx);
    const after = await agreed();
    expect([...after]).toEqual([...owners]);
    const report = await flow.stop();
    expect(report.problems).toEqual([]);
    expect(report.maxGapMs).toBeLessThan(1_000);
    expect(new Set(report.nodes)).toEqual(new Set([victim.node]));
  });

  test("a node whose link goes down loses its addresses at once; back up, it takes none back", async () => {
    const owners = await agreed();
    const ip = VIPS[0]!;
    const victim = gw.node(owners.get(ip)!);
    const t0 = Date.now();
    gw.setLink(victim, false);
    const moved = await waitFor('the address answered by another node', () => {
      const n = gw.curl(ip);
      return n && n !== victim.node ? n : undefined;
    }, 5_000, 20);
    console.log(`per-node: link down to the client's first answer from ${moved}: ${Date.now() - t0} ms (includes curl's retries)`);
    gw.setLink(victim, true);
    await Bun.sleep(1_500);
    const after = await agreed();
    expect(after.get(ip)).toBe(moved);
    // Addresses the failed node did not serve stayed where they were.
    for (const [a, n] of owners) if (n !== victim.node) expect(after.get(a)).toBe(n);
    sh(['ip', 'neigh', 'flush', 'dev', 'eth0'], { ns: gw.client.ns });
    expect(gw.curl(ip)).toBe(moved);
  });
});
