/**
 * The gateway model end to end: a bridge joins a client (the router's role), two "nodes" that accept the
 * Service address the way kube-proxy does (a local route, arp_ignore=1: they never answer ARP for it) and
 * serve their own name on port 8080, and l2lb (compiled binary, kubernetes mode, leader election on) with
 * the API server stand-in holding the Nodes, the Service and the Lease (topology: test/support/gateway.ts).
 * l2lb maps the address to a healthy node's MAC; when that node's link goes down the address moves and the
 * client gets answers again.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { requireRoot, waitFor } from '../support/netns.ts';
import type { Running } from '../support/l2lb.ts';
import { GATEWAY_VIP as VIP, Gateway } from '../support/gateway.ts';

setDefaultTimeout(60_000);
const root = requireRoot('e2e gateway');

let gw: Gateway;
let l2: Running;

describe.skipIf(!root)('gateway model (compiled binary, bridge, two nodes)', () => {
  beforeAll(async () => {
    gw = await Gateway.create({ prefix: 'l2gw', nodes: 2, replicas: 1 });
    l2 = gw.replicas[0]!.running!;
  });

  afterAll(async () => {
    await gw?.destroy();
  });

  test('the client reaches the Service through its address, served by a node', async () => {
    const first = await waitFor('an answer through the VIP', () => gw.curl() || undefined, 10_000, 100).catch((err) => {
      throw new Error(`${err.message}\nstatus: ${JSON.stringify(l2.api('GET', '/v1/status').json)}\nnodes: ${JSON.stringify(l2.api('GET', '/v1/nodes').json)}\nvips: ${JSON.stringify(l2.api('GET', '/v1/vips').json)}\nlogs:\n${l2.logs().slice(-4000)}`);
    });
    expect(['node-1', 'node-2']).toContain(first);
    expect(gw.clientNeighbour()).toBe(gw.node(first).mac);
    const nodes = l2.api('GET', '/v1/nodes').json.nodes;
    expect(nodes.map((x: { name: string; candidate: boolean }) => [x.name, x.candidate])).toEqual([['node-1', true], ['node-2', true]]);
    expect(nodes.find((x: { name: string }) => x.name === first).serving).toEqual([VIP]);
    expect(l2.api('GET', '/v1/status').json.leaderElection.isLeader).toBe(true);
  });

  test("taking the serving node's link down moves the address; the client gets answers from the other node", async () => {
    const before = gw.curl();
    const victim = gw.node(before);
    const other = before === 'node-1' ? 'node-2' : 'node-1';
    const t0 = Date.now();
    gw.setLink(victim, false);
    const after = await waitFor('answers from the other node', () => (gw.curl() === other ? other : undefined), 5000, 20);
    const repair = Date.now() - t0;
    expect(after).toBe(other);
    console.log(`node failure to the client's first answer from the new node: ${repair} ms (includes curl's own retries)`);
    const svc = l2.api('GET', '/v1/services').json.services[0];
    expect(svc.nodes[VIP].node).toBe(other);
    expect(svc.nodes[VIP].why).toContain(`${victim.node} missed 3 probes`);
    await waitFor('NodeChanged event', async () => {
      const evs = await gw.api.list('v1', 'Event', 'default');
      return evs.some((e: { reason: string; message: string }) => e.reason === 'NodeChanged' && e.message.startsWith(`${VIP} moved from ${victim.node} to ${other}`));
    }, 3000);
    const m = l2.api('GET', '/metrics').text;
    expect(m).toMatch(/l2lb_failovers_total [1-9]/);
    expect(m).toMatch(/l2lb_failover_repair_seconds_count [1-9]/);
    expect(Number(/^l2lb_failover_repair_last_seconds (\S+)$/m.exec(m)?.[1])).toBeGreaterThan(0.1); // at least the probe rounds
    gw.setLink(victim, true);
  });
});
