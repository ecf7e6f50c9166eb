/**
 * The gateway model end to end: a bridge joins a client (the router's role), two "nodes" that accept the
 * Service address the way kube-proxy does (a local route, arp_ignore=1: they never answer ARP for it) and
 * serve their own name on port 8080, and l2lb (compiled binary, kubernetes mode, leader election on) with
 * the API server stand-in holding the Nodes, the Service and the Lease. l2lb maps the address to a healthy
 * node's MAC; when that node's link goes down the address moves and the client gets answers again.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot, sh, spawnIn, waitFor } from '../support/netns.ts';
import { type Running, BUN, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { StandIn } from '../support/kube/standin.ts';

setDefaultTimeout(60_000);
const root = requireRoot('e2e gateway');
const P = 'l2gw';
const LAN = `${P}-lan`;
const VIP = '192.0.2.200';
const hosts = {
  lb: { ns: `${P}-lb`, ip: '192.0.2.1', mac: '02:00:00:00:01:01' },
  client: { ns: `${P}-cl`, ip: '192.0.2.9', mac: '02:00:00:00:09:09' },
  n1: { ns: `${P}-n1`, ip: '192.0.2.11', mac: '02:00:00:00:11:11' },
  n2: { ns: `${P}-n2`, ip: '192.0.2.12', mac: '02:00:00:00:12:12' },
} as const;
type Host = keyof typeof hosts;

let api: StandIn;
let l2: Running;
const servers: ReturnType<typeof spawnIn>[] = [];

function teardown(): void {
  for (const ns of [LAN, ...Object.values(hosts).map((h) => h.ns)]) sh(['ip', 'netns', 'del', ns], { check: false });
}

function curl(): string {
  const r = sh(['curl', '-s', '-m', '1', `http://${VIP}:8080/`], { ns: hosts.client.ns, check: false });
  return r.code === 0 ? r.stdout.trim() : '';
}

describe.skipIf(!root)('gateway model (compiled binary, bridge, two nodes)', () => {
  beforeAll(async () => {
    ensureBinary();
    teardown();
    sh(['ip', 'netns', 'add', LAN]);
    sh(['ip', 'link', 'add', 'br0', 'type', 'bridge'], { ns: LAN });
    sh(['ip', 'link', 'set', 'br0', 'up'], { ns: LAN });
    for (const [name, h] of Object.entries(hosts) as [Host, (typeof hosts)[Host]][]) {
      sh(['ip', 'netns', 'add', h.ns]);
      sh(['ip', 'link', 'set', 'lo', 'up'], { ns: h.ns });
      sh(['ip', 'link', 'add', `p-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns], { ns: LAN });
      sh(['ip', 'link', 'set', `p-${name}`, 'master', 'br0', 'up'], { ns: LAN });
      sh(['ip', 'link', 'set', 'eth0', 'address', h.mac, 'up'], { ns: h.ns });
      sh(['ip', 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'], { ns: h.ns });
    }
    for (const n of ['n1', 'n2'] as const) {
      // What kube-proxy does for a LoadBalancer address: accept it locally, never answer ARP for it.
      sh(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1'], { ns: hosts[n].ns });
      sh(['ip', 'route', 'add', 'local', `${VIP}/32`, 'dev', 'lo'], { ns: hosts[n].ns });
      servers.push(spawnIn(hosts[n].ns, [BUN, '-e', `Bun.serve({ hostname: '0.0.0.0', port: 8080, fetch: () => new Response('node-${n.slice(1)}') })`]));
    }
    api = await StandIn.start({ netns: hosts.lb.ns });
    await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } });
    for (const n of ['n1', 'n2'] as const) {
      await api.create({
        apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n.slice(1)}` },
        status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: hosts[n].ip }] },
      });
    }
    await api.create({
      apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
      metadata: { name: 'lan', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } },
      spec: { address: `${VIP}-${VIP}`, protocol: 'layer2' },
    });
    await api.create({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'web', namespace: 'default', annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 8080, protocol: 'TCP' }] },
    });
    const dir = mkdtempSync(join(tmpdir(), 'l2lb-gw-'));
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig, 'cert');
    l2 = await startL2lb(hosts.lb.ns, {
      mode: 'kubernetes',
      interfaces: ['eth0'],
      kubernetes: { kubeconfig, leaderElection: { leaseDuration: '2s', renewDeadline: '1s', retryPeriod: '200ms' } },
    }, { dir });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    for (const s of servers) s.kill();
    await api?.close();
    teardown();
  });

  test('the client reaches the Service through its address, served by a node', async () => {
    const first = await waitFor('an answer through the VIP', () => curl() || undefined, 10_000, 100).catch((err) => {
      throw new Error(`${err.message}\nstatus: ${JSON.stringify(l2.api('GET', '/v1/status').json)}\nnodes: ${JSON.stringify(l2.api('GET', '/v1/nodes').json)}\nvips: ${JSON.stringify(l2.api('GET', '/v1/vips').json)}\nlogs:\n${l2.logs().slice(-4000)}`);
    });
    expect(['node-1', 'node-2']).toContain(first);
    const n = sh(['ip', '-j', 'neigh', 'show', VIP, 'dev', 'eth0'], { ns: hosts.client.ns });
    const entry = JSON.parse(n.stdout)[0];
    expect(entry.lladdr).toBe(first === 'node-1' ? hosts.n1.mac : hosts.n2.mac);
    const nodes = l2.api('GET', '/v1/nodes').json.nodes;
    expect(nodes.map((x: { name: string; candidate: boolean }) => [x.name, x.candidate])).toEqual([['node-1', true], ['node-2', true]]);
    expect(nodes.find((x: { name: string }) => x.name === first).serving).toEqual([VIP]);
    expect(l2.api('GET', '/v1/status').json.leaderElection.isLeader).toBe(true);
  });

  test("taking the serving node's link down moves the address; the client gets answers from the other node", async () => {
    const before = curl();
    const victim = before === 'node-1' ? 'n1' : 'n2';
    const other = before === 'node-1' ? 'node-2' : 'node-1';
    const t0 = Date.now();
    sh(['ip', 'link', 'set', `p-${victim}`, 'down'], { ns: LAN });
    const after = await waitFor('answers from the other node', () => (curl() === other ? other : undefined), 5000, 20);
    const repair = Date.now() - t0;
    expect(after).toBe(other);
    console.log(`node failure to the client's first answer from the new node: ${repair} ms (includes curl's own retries)`);
    const svc = l2.api('GET', '/v1/services').json.services[0];
    expect(svc.nodes[VIP].node).toBe(other);
    expect(svc.nodes[VIP].why).toContain(`node-${victim.slice(1)} missed 3 probes`);
    await waitFor('NodeChanged event', async () => {
      const evs = await api.list('v1', 'Event', 'default');
      return evs.some((e: { reason: string; message: string }) => e.reason === 'NodeChanged' && e.message.startsWith(`${VIP} moved from node-${victim.slice(1)} to ${other}`));
    }, 3000);
    const m = l2.api('GET', '/metrics').text;
    expect(m).toMatch(/l2lb_failovers_total [1-9]/);
    sh(['ip', 'link', 'set', `p-${victim}`, 'up'], { ns: LAN });
  });
});
