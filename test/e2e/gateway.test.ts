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
import { GATEWAY_VIP as VIP, GATEWAY_VIP6 as VIP6, Gateway } from '../support/gateway.ts';

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
    expect(m).toMatch(/^l2lb_failovers_total\{reason="probe-down"\} [1-9]/m);
    expect(m).toMatch(/l2lb_failover_repair_seconds_count [1-9]/);
    expect(Number(/^l2lb_failover_repair_last_seconds (\S+)$/m.exec(m)?.[1])).toBeGreaterThan(0.1); // at least the probe rounds
    gw.setLink(victim, true);
  });
});

describe.skipIf(!root)('gateway model with the kube-proxy health check (compiled binary, bridge, two nodes)', () => {
  let kg: Gateway;
  let lb: Running;

  beforeAll(async () => {
    kg = await Gateway.create({
      prefix: 'l2gk', nodes: 2, replicas: 1, kubeProxy: true,
      config: { health: { kubeProxy: { enabled: true, interval: '200ms', timeout: '150ms' } } },
    });
    lb = kg.replicas[0]!.running!;
  });

  afterAll(async () => {
    await kg?.destroy();
  });

  test("the serving node's kube-proxy answering 503 moves the address; the client reaches the other node", async () => {
    const first = await waitFor('an answer through the VIP', () => kg.curl() || undefined, 10_000, 100).catch((err) => {
      throw new Error(`${err.message}\n${kg.diagnostics()}\nnodes: ${JSON.stringify(lb.api('GET', '/v1/nodes').json)}`);
    });
    const other = first === 'node-1' ? 'node-2' : 'node-1';
    const proxyStates = () => (lb.api('GET', '/v1/nodes').json.nodes as { name: string; addresses: { kubeProxy?: { state: string } }[] }[])
      .map((n) => [n.name, n.addresses[0]?.kubeProxy?.state]);
    expect(proxyStates()).toEqual([['node-1', 'up'], ['node-2', 'up']]);

    const t0 = Date.now();
    await kg.setKubeProxy(kg.node(first), 503);
    await waitFor('answers from the other node', () => (kg.curl() === other ? other : undefined), 5000, 50);
    console.log(`kube-proxy 503 to the client's first answer from the other node: ${Date.now() - t0} ms`);
    expect(kg.clientNeighbour()).toBe(kg.node(other).mac);

    const nodes = lb.api('GET', '/v1/nodes').json.nodes as { name: string; candidate: boolean; why?: string; serving: string[]; addresses: { kubeProxy?: Record<string, unknown> }[] }[];
    const failed = nodes.find((n) => n.name === first)!;
    expect(failed).toMatchObject({ candidate: false, why: 'kube-proxy-down', serving: [] });
    expect(failed.addresses[0]!.kubeProxy).toMatchObject({ state: 'down', result: 'HTTP 503' });
    expect(nodes.find((n) => n.name === other)!.serving).toEqual([VIP]);
    const reason = `${VIP} moved from ${first} to ${other}: ${first} kube-proxy health check failed (HTTP 503)`;
    await waitFor('NodeChanged event', async () => {
      const evs = await kg.api.list('v1', 'Event', 'default');
      return evs.some((e: { reason: string; message: string }) => e.reason === 'NodeChanged' && e.message === reason);
    }, 3000).catch((err) => {
      throw new Error(`${err.message}\n${kg.diagnostics()}`);
    });
    const m = lb.api('GET', '/metrics').text;
    expect(m).toContain('l2lb_kube_proxy_check_targets{state="down"} 1');
    expect(Number(/^l2lb_kube_proxy_checks_total\{result="failed"\} (\d+)$/m.exec(m)?.[1])).toBeGreaterThanOrEqual(3);
    expect(m).toMatch(/^l2lb_failovers_total\{reason="kube-proxy-down"\} 1$/m);
  }, 30_000);
});

describe.skipIf(!root)('gateway model over IPv6 (compiled binary, bridge, two nodes)', () => {
  let g6: Gateway;
  let lb: Running;

  beforeAll(async () => {
    g6 = await Gateway.create({ prefix: 'l2g6', nodes: 2, replicas: 1, ipv6: true, service: false });
    lb = g6.replicas[0]!.running!;
    await g6.createService('web6', VIP6, { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
  });

  afterAll(async () => {
    await g6?.destroy();
  });

  test('NS probes find the nodes; the address answers with a node MAC (NA); a failed node is replaced', async () => {
    const first = await waitFor('an answer through the IPv6 address', () => g6.curl(VIP6) || undefined, 10_000, 100).catch((err) => {
      throw new Error(`${err.message}\nnodes: ${JSON.stringify(lb.api('GET', '/v1/nodes').json)}\nservices: ${JSON.stringify(lb.api('GET', '/v1/services').json)}\nlogs:\n${lb.logs().slice(-4000)}`);
    });
    expect(g6.clientNeighbour(VIP6)).toBe(g6.node(first).mac);
    const nodes = lb.api('GET', '/v1/nodes').json.nodes as { name: string; candidate: boolean; serving: string[]; addresses: { ip: string; probe: string; mac?: string }[] }[];
    for (const n of nodes) {
      const v6 = n.addresses.find((a) => a.ip.includes(':'))!;
      expect(v6).toMatchObject({ ip: g6.node(n.name).ip6, probe: 'up', mac: g6.node(n.name).mac });
    }
    expect(nodes.find((n) => n.name === first)!.serving).toEqual([VIP6]);

    const victim = g6.node(first);
    const other = first === 'node-1' ? 'node-2' : 'node-1';
    const t0 = Date.now();
    g6.setLink(victim, false);
    try {
      await waitFor('IPv6 answers from the other node', () => (g6.curl(VIP6) === other ? other : undefined), 5000, 20);
      console.log(`IPv6: node failure to the client's first answer from the other node: ${Date.now() - t0} ms (includes curl's retries)`);
      expect(g6.clientNeighbour(VIP6)).toBe(g6.node(other).mac);
      const svc = (lb.api('GET', '/v1/services').json.services as { nodes: Record<string, { node: string; why: string }> }[])[0]!;
      expect(svc.nodes[VIP6]).toMatchObject({ node: other });
      expect(svc.nodes[VIP6]!.why).toContain(`${first} missed 3 probes`);
    } finally {
      g6.setLink(victim, true);
    }
  }, 30_000);
});
