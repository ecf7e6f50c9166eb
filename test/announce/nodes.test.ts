import { describe, expect, test } from 'bun:test';
import { parseIP } from '../../src/net/ip.ts';
import {
  type AddressRequest,
  type Candidacy,
  type Choice,
  type NodeHealth,
  type NodeInfo,
  type NotCandidate,
  type Segment,
  assign,
  candidacy,
  choose,
  rendezvousScore,
} from '../../src/announce/nodes.ts';

const seg4: Segment = { interface: 'eth0', prefixes: ['192.0.2.1/24', 'fe80::1/64'] };
const seg6: Segment = { interface: 'eth0', prefixes: ['192.0.2.1/24', '2001:db8:1::1/64', 'fe80::1/64'] };
const other: Segment = { interface: 'eth1', prefixes: ['198.51.100.1/24', '2001:db8:2::1/64'] };
const segments = new Map([['eth0', seg6], ['eth1', other]]);

const up = (mac: string): NodeHealth => ({ state: 'up', mac });

function node(name: string, over: Partial<NodeInfo> = {}): NodeInfo {
  const i = Number(name.replace(/\D/g, '')) || 0;
  return { name, ready: true, excluded: false, internalIPs: [`192.0.2.${10 + i}`, `2001:db8:1::${(10 + i).toString(16)}`], ...over };
}

function mac(i: number): string {
  return `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}

/** n nodes node-0..node-(n-1), all up. */
function cluster(n: number, from = 0): { nodes: NodeInfo[]; health: Map<string, NodeHealth> } {
  const nodes: NodeInfo[] = [];
  const health = new Map<string, NodeHealth>();
  for (let i = from; i < from + n; i++) {
    nodes.push({ name: `node-${i}`, ready: true, excluded: false, internalIPs: [ipv4(i), `2001:db8::${(i + 1).toString(16)}`] });
    health.set(`node-${i}`, up(mac(i)));
  }
  return { nodes, health };
}

/** Node addresses of the bigger clusters: 198.18.0.0/15 (RFC 2544) and 2001:db8::/32, one segment. */
function ipv4(i: number): string {
  return `198.18.${(i >> 8) & 0xff}.${i & 0xff}`;
}
const benchSeg = new Map([['eth0', { interface: 'eth0', prefixes: ['198.18.0.1/15', '2001:db8::1/32'] }]]);

function addrs(n: number, base = '203.0.113'): AddressRequest[] {
  const out: AddressRequest[] = [];
  for (let i = 0; i < n; i++) {
    const ip = i < 256 ? `${base}.${i}` : `2001:db8:ffff::${i.toString(16)}`;
    out.push({ ip, service: `ns/s${i}`, interface: 'eth0', localOnly: false });
  }
  return out;
}

function byNode(r: Map<string, Choice>): Map<string, number> {
  const count = new Map<string, number>();
  for (const c of r.values()) if (c.node) count.set(c.node, (count.get(c.node) ?? 0) + 1);
  return count;
}

describe('candidacy', () => {
  const cases: { name: string; node: NodeInfo; health?: NodeHealth; family: 4 | 6; segment: Segment; req?: AddressRequest; why?: NotCandidate; ip?: string }[] = [
    { name: 'a ready node answering probes', node: node('node-1'), health: up('02:00:00:00:00:01'), family: 4, segment: seg4, ip: '192.0.2.11' },
    { name: 'Ready=False', node: node('node-1', { ready: false }), health: up('m'), family: 4, segment: seg4, why: 'not-ready', ip: '192.0.2.11' },
    { name: 'excluded by label', node: node('node-1', { excluded: true }), health: up('m'), family: 4, segment: seg4, why: 'excluded', ip: '192.0.2.11' },
    { name: 'address on another segment', node: node('node-1', { internalIPs: ['198.51.100.7'] }), health: up('m'), family: 4, segment: seg4, why: 'no-address-on-segment' },
    { name: 'no address of the family (v6 wanted, v4 only)', node: node('node-1', { internalIPs: ['192.0.2.11'] }), health: up('m'), family: 6, segment: seg6, why: 'no-address-on-segment' },
    { name: 'no address of the family on a v4-only segment', node: node('node-1'), health: up('m'), family: 6, segment: seg4, why: 'no-address-on-segment' },
    { name: 'a link-local InternalIP does not place a node on a segment', node: node('node-1', { internalIPs: ['fe80::11'] }), health: up('m'), family: 6, segment: seg6, why: 'no-address-on-segment' },
    { name: 'no InternalIP at all', node: node('node-1', { internalIPs: [] }), health: up('m'), family: 4, segment: seg4, why: 'no-address-on-segment' },
    { name: 'garbage InternalIP', node: node('node-1', { internalIPs: ['node-1.example', '192.0.2.011'] }), health: up('m'), family: 4, segment: seg4, why: 'no-address-on-segment' },
    { name: 'probe down', node: node('node-1'), health: { state: 'down', mac: 'm' }, family: 4, segment: seg4, why: 'probe-down', ip: '192.0.2.11' },
    { name: 'probe unknown', node: node('node-1'), health: { state: 'unknown' }, family: 4, segment: seg4, why: 'probe-unknown', ip: '192.0.2.11' },
    { name: 'never probed', node: node('node-1'), family: 4, segment: seg4, why: 'probe-unknown', ip: '192.0.2.11' },
    { name: 'up without a MAC cannot be announced', node: node('node-1'), health: { state: 'up' }, family: 4, segment: seg4, why: 'probe-unknown', ip: '192.0.2.11' },
    { name: 'IPv6 on the segment', node: node('node-1'), health: up('m'), family: 6, segment: seg6, ip: '2001:db8:1::b' },
    { name: 'IPv6 written long is reported canonical', node: node('node-1', { internalIPs: ['2001:DB8:1:0:0:0:0:B'] }), health: up('m'), family: 6, segment: seg6, ip: '2001:db8:1::b' },
    { name: 'the first address on the segment is used', node: node('node-1', { internalIPs: ['198.51.100.7', '192.0.2.30', '192.0.2.31'] }), health: up('m'), family: 4, segment: seg4, ip: '192.0.2.30' },
    {
      name: 'localOnly with an endpoint here', node: node('node-1'), health: up('m'), family: 4, segment: seg4, ip: '192.0.2.11',
      req: { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true, endpointNodes: ['node-2', 'node-1'] },
    },
    {
      name: 'localOnly without an endpoint here', node: node('node-1'), health: up('m'), family: 4, segment: seg4, why: 'no-ready-endpoint', ip: '192.0.2.11',
      req: { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true, endpointNodes: ['node-2'] },
    },
    {
      name: 'localOnly with no endpoint list', node: node('node-1'), health: up('m'), family: 4, segment: seg4, why: 'no-ready-endpoint', ip: '192.0.2.11',
      req: { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true },
    },
    {
      name: 'Cluster policy ignores endpoints', node: node('node-1'), health: up('m'), family: 4, segment: seg4, ip: '192.0.2.11',
      req: { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: false, endpointNodes: [] },
    },
    { name: 'not ready is reported before a failed probe', node: node('node-1', { ready: false }), health: { state: 'down' }, family: 4, segment: seg4, why: 'not-ready', ip: '192.0.2.11' },
    { name: 'kube-proxy check up', node: node('node-1'), health: { ...up('m'), proxy: 'up' }, family: 4, segment: seg4, ip: '192.0.2.11' },
    { name: 'kube-proxy check down', node: node('node-1'), health: { ...up('m'), proxy: 'down' }, family: 4, segment: seg4, why: 'kube-proxy-down', ip: '192.0.2.11' },
    { name: 'kube-proxy check without a result yet', node: node('node-1'), health: { ...up('m'), proxy: 'unknown' }, family: 6, segment: seg6, why: 'kube-proxy-unknown', ip: '2001:db8:1::b' },
    { name: 'a failed probe is reported before a failed kube-proxy check', node: node('node-1'), health: { state: 'down', mac: 'm', proxy: 'down' }, family: 4, segment: seg4, why: 'probe-down', ip: '192.0.2.11' },
    { name: 'a probe without answer yet is reported before a kube-proxy check', node: node('node-1'), health: { state: 'unknown', proxy: 'up' }, family: 4, segment: seg4, why: 'probe-unknown', ip: '192.0.2.11' },
    {
      name: 'kube-proxy is judged before the endpoints', node: node('node-1'), health: { ...up('m'), proxy: 'down' }, family: 4, segment: seg4, why: 'kube-proxy-down', ip: '192.0.2.11',
      req: { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true, endpointNodes: ['node-2'] },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = candidacy(c.node, c.health, c.family, c.segment, c.req);
      expect(r.node).toBe(c.node.name);
      expect(r.candidate).toBe(c.why === undefined);
      expect(r.why).toBe(c.why);
      expect(r.ip).toBe(c.ip);
      if (r.candidate) expect(r.mac).toBe(c.health!.mac!);
    });
  }
});

describe('rendezvousScore', () => {
  // Reference on BigInt, written independently of the 32-bit-halves code it checks.
  const M = (1n << 64n) - 1n;
  const fmix = (k: bigint): bigint => {
    k ^= k >> 33n; k = (k * 0xff51afd7ed558ccdn) & M;
    k ^= k >> 33n; k = (k * 0xc4ceb9fe1a85ec53n) & M;
    return k ^ (k >> 33n);
  };
  const fnv = (bytes: Iterable<number>): bigint => {
    let x = 0xcbf29ce484222325n;
    for (const b of bytes) x = ((x ^ BigInt(b)) * 0x100000001b3n) & M;
    return fmix(x);
  };
  const addrBytes = (a: string): number[] => {
    const ip = parseIP(a)!;
    const n = ip.family === 4 ? 4 : 16;
    return Array.from({ length: n }, (_, i) => Number((ip.value >> BigInt(8 * (n - 1 - i))) & 0xffn));
  };
  const ref = (a: string, n: string): bigint => fmix(fnv(addrBytes(a)) ^ fnv(new TextEncoder().encode(`|${n}`)));

  test('matches FNV-1a 64 (address bytes, "|" + node name) + fmix64 computed on BigInt', () => {
    for (let i = 0; i < 300; i++) {
      const a = i % 2 ? `203.0.113.${i % 256}` : `2001:db8::${i.toString(16)}`;
      const n = `worker-${(i * 7919) % 1000}.example.internal`;
      expect(rendezvousScore(a, n)).toBe(ref(a, n));
    }
    expect(rendezvousScore('192.0.2.1', 'nœud-é')).toBe(ref('192.0.2.1', 'nœud-é')); // UTF-8 bytes
  });

  test('is a 64-bit unsigned value with fixed bits (the same in every runtime)', () => {
    const s = rendezvousScore('192.0.2.10', 'node-1');
    expect(s).toBe(ref('192.0.2.10', 'node-1'));
    expect(s >= 0n && s < 1n << 64n).toBe(true);
    expect(rendezvousScore('192.0.2.10', 'node-1')).toBe(s);
    expect(rendezvousScore('192.0.2.10', 'node-2')).not.toBe(s);
  });

  test('every spelling of an address scores alike', () => {
    expect(rendezvousScore('2001:DB8:0:0::A', 'n')).toBe(rendezvousScore('2001:db8::a', 'n'));
    expect(rendezvousScore('::ffff:192.0.2.1', 'n')).toBe(rendezvousScore('::ffff:c000:201', 'n'));
    expect(rendezvousScore('::ffff:192.0.2.1', 'n')).not.toBe(rendezvousScore('192.0.2.1', 'n')); // another family
  });

  test('the top bits are evenly spread (well mixed)', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 4096; i++) buckets[Number(rendezvousScore(`203.0.113.${i & 255}`, `node-${i >> 8}`) >> 60n)]!++;
    for (const b of buckets) expect(Math.abs(b - 256)).toBeLessThan(80); // mean 256, sd ≈ 15.5
  });
});

describe('choose', () => {
  const cand = (node: string, m = `mac-${node}`): Candidacy => ({ node, candidate: true, mac: m });
  const req = (over: Partial<AddressRequest> = {}): AddressRequest => ({ ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: false, ...over });

  test('initial: the highest rendezvous score wins', () => {
    const cs = ['node-1', 'node-2', 'node-3', 'node-4'].map((n) => cand(n));
    const best = [...cs].sort((a, b) => (rendezvousScore('192.0.2.100', b.node) > rendezvousScore('192.0.2.100', a.node) ? 1 : -1))[0]!;
    expect(choose(req(), cs)).toEqual({ ip: '192.0.2.100', node: best.node, mac: best.mac!, reason: 'initial' });
  });

  test('kept: the current node stays while it is a candidate, even when another scores higher', () => {
    const cs = ['node-1', 'node-2', 'node-3', 'node-4'].map((n) => cand(n));
    for (const current of ['node-1', 'node-2', 'node-3', 'node-4']) {
      expect(choose(req({ current }), cs)).toEqual({ ip: '192.0.2.100', node: current, mac: `mac-${current}`, reason: 'kept' });
    }
  });

  test('moved: the old node lost candidacy; the reason says why', () => {
    const cs = [cand('node-2'), { node: 'node-1', candidate: false, why: 'probe-down' } as Candidacy];
    expect(choose(req({ current: 'node-1' }), cs)).toEqual({ ip: '192.0.2.100', node: 'node-2', mac: 'mac-node-2', reason: 'moved', movedFrom: 'node-1', why: 'probe-down' });
  });

  test('moved from a node that no longer exists', () => {
    expect(choose(req({ current: 'gone' }), [cand('node-2')])).toMatchObject({ node: 'node-2', reason: 'moved', movedFrom: 'gone', why: 'node-removed' });
  });

  test('none: no candidate withdraws the address instead of pointing at a dead node', () => {
    const cs: Candidacy[] = [{ node: 'node-1', candidate: false, why: 'probe-down' }, { node: 'node-2', candidate: false, why: 'not-ready' }];
    expect(choose(req({ current: 'node-1' }), cs)).toEqual({ ip: '192.0.2.100', reason: 'none', movedFrom: 'node-1', why: 'probe-down' });
    expect(choose(req(), cs)).toEqual({ ip: '192.0.2.100', reason: 'none' });
    expect(choose(req(), [])).toEqual({ ip: '192.0.2.100', reason: 'none' });
  });

  test('the order of candidates does not matter', () => {
    const cs = Array.from({ length: 12 }, (_, i) => cand(`node-${i}`));
    const rev = [...cs].reverse();
    for (let i = 0; i < 50; i++) {
      const r = req({ ip: `2001:db8::${i}` });
      expect(choose(r, rev)).toEqual(choose(r, cs));
    }
  });
});

describe('assign', () => {
  const three = (): { nodes: NodeInfo[]; health: Map<string, NodeHealth> } => ({
    nodes: [node('node-1'), node('node-2'), node('node-3')],
    health: new Map([['node-1', up('02:00:00:00:00:01')], ['node-2', up('02:00:00:00:00:02')], ['node-3', up('02:00:00:00:00:03')]]),
  });

  test('agrees with candidacy() + choose() for every address (v4 and v6, Local and Cluster)', () => {
    const { nodes, health } = three();
    nodes.push(node('node-4', { ready: false }), node('node-5', { internalIPs: ['198.51.100.5'] }));
    health.set('node-3', { state: 'down', mac: '02:00:00:00:00:03' });
    const reqs: AddressRequest[] = [];
    for (let i = 0; i < 40; i++) {
      const v6 = i % 2 === 1;
      reqs.push({
        ip: v6 ? `2001:db8:1::1:${i}` : `192.0.2.${100 + i}`, service: `ns/s${i}`, interface: i % 5 === 4 ? 'eth1' : 'eth0',
        localOnly: i % 3 === 0, endpointNodes: i % 6 === 0 ? ['node-2'] : undefined, current: i % 4 === 0 ? `node-${(i % 5) + 1}` : undefined,
      });
    }
    const r = assign(reqs, nodes, health, segments);
    for (const q of reqs) {
      const seg = segments.get(q.interface)!;
      const fam = q.ip.includes(':') ? 6 : 4;
      const cs = nodes.map((n) => candidacy(n, health.get(n.name), fam, seg, q));
      expect(r.get(q.ip)).toEqual(choose(q, cs));
    }
  });

  test('IPv4 and IPv6 addresses on the right family of node address', () => {
    const nodes = [node('v4only', { internalIPs: ['192.0.2.21'] }), node('v6only', { internalIPs: ['2001:db8:1::22'] })];
    const health = new Map([['v4only', up('02:00:00:00:00:21')], ['v6only', up('02:00:00:00:00:22')]]);
    const r = assign(
      [
        { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: false },
        { ip: '2001:db8:1::100', service: 'ns/a', interface: 'eth0', localOnly: false },
        { ip: '2001:db8:2::100', service: 'ns/b', interface: 'eth1', localOnly: false },
      ],
      nodes, health, segments,
    );
    expect(r.get('192.0.2.100')).toEqual({ ip: '192.0.2.100', node: 'v4only', mac: '02:00:00:00:00:21', reason: 'initial' });
    expect(r.get('2001:db8:1::100')).toEqual({ ip: '2001:db8:1::100', node: 'v6only', mac: '02:00:00:00:00:22', reason: 'initial' });
    expect(r.get('2001:db8:2::100')).toEqual({ ip: '2001:db8:2::100', reason: 'none' }); // nobody on eth1's segment
  });

  test('health is looked up by the probed address first, then by node name', () => {
    const nodes = [node('node-1', { internalIPs: ['192.0.2.11', '2001:db8:1::11'] })];
    const health = new Map([['192.0.2.11', up('02:00:00:00:00:11')], ['2001:db8:1::11', { state: 'down' as const, mac: '02:00:00:00:00:11' }]]);
    const r = assign(
      [{ ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: false }, { ip: '2001:db8:1::100', service: 'ns/a', interface: 'eth0', localOnly: false, current: 'node-1' }],
      nodes, health, segments,
    );
    expect(r.get('192.0.2.100')).toMatchObject({ node: 'node-1', mac: '02:00:00:00:00:11' });
    expect(r.get('2001:db8:1::100')).toEqual({ ip: '2001:db8:1::100', reason: 'none', movedFrom: 'node-1', why: 'probe-down' });
  });

  test('localOnly follows the node with the ready endpoint; without endpoints the address is withdrawn', () => {
    const { nodes, health } = three();
    const base = { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true };
    expect(assign([{ ...base, endpointNodes: ['node-3'] }], nodes, health, segments).get('192.0.2.100')).toMatchObject({ node: 'node-3', reason: 'initial' });
    expect(assign([{ ...base, endpointNodes: ['node-3'], current: 'node-1' }], nodes, health, segments).get('192.0.2.100'))
      .toEqual({ ip: '192.0.2.100', node: 'node-3', mac: '02:00:00:00:00:03', reason: 'moved', movedFrom: 'node-1', why: 'no-ready-endpoint' });
    expect(assign([{ ...base, endpointNodes: [], current: 'node-1' }], nodes, health, segments).get('192.0.2.100'))
      .toEqual({ ip: '192.0.2.100', reason: 'none', movedFrom: 'node-1', why: 'no-ready-endpoint' });
    expect(assign([base], nodes, health, segments).get('192.0.2.100')).toEqual({ ip: '192.0.2.100', reason: 'none' });
    // An endpoint on a node that is down does not help.
    const h2 = new Map(health).set('node-3', { state: 'down', mac: '02:00:00:00:00:03' });
    expect(assign([{ ...base, endpointNodes: ['node-3'] }], nodes, h2, segments).get('192.0.2.100')).toEqual({ ip: '192.0.2.100', reason: 'none' });
  });

  test('a shared address gets one node that suits every Service on it', () => {
    const { nodes, health } = three();
    const r = assign(
      [
        { ip: '192.0.2.100', service: 'ns/a', interface: 'eth0', localOnly: true, endpointNodes: ['node-1', 'node-2'] },
        { ip: '192.0.2.100', service: 'ns/b', interface: 'eth0', localOnly: true, endpointNodes: ['node-2', 'node-3'] },
        { ip: '192.0.2.100', service: 'ns/c', interface: 'eth0', localOnly: false },
      ],
      nodes, health, segments,
    );
    expect(r.size).toBe(1);
    expect(r.get('192.0.2.100')).toMatchObject({ node: 'node-2' });
  });

  test('results are keyed by the address as given; spellings of one address share a node', () => {
    const { nodes, health } = cluster(10);
    const r = assign(
      [
        { ip: '2001:DB8:1:0::100', service: 'ns/a', interface: 'eth0', localOnly: false },
        { ip: '2001:db8:1::100', service: 'ns/b', interface: 'eth0', localOnly: false },
        { ip: 'not-an-ip', service: 'ns/c', interface: 'eth0', localOnly: false },
      ],
      nodes, health, benchSeg,
    );
    expect(r.size).toBe(3);
    const a = r.get('2001:DB8:1:0::100')!, b = r.get('2001:db8:1::100')!;
    expect(a).toMatchObject({ ip: '2001:DB8:1:0::100', reason: 'initial' });
    expect(b).toEqual({ ...a, ip: '2001:db8:1::100' });
    expect(r.get('not-an-ip')).toEqual({ ip: 'not-an-ip', reason: 'none', why: 'invalid-address' });
  });

  test('an unknown interface has no candidates', () => {
    const { nodes, health } = three();
    expect(assign([{ ip: '192.0.2.100', service: 'ns/a', interface: 'nope0', localOnly: false, current: 'node-1' }], nodes, health, segments).get('192.0.2.100'))
      .toEqual({ ip: '192.0.2.100', reason: 'none', movedFrom: 'node-1', why: 'no-address-on-segment' });
  });

  test('stickiness: nodes joining never move an address whose node is still fine', () => {
    const { nodes, health } = cluster(10);
    const reqs = addrs(1000);
    const first = assign(reqs, nodes, health, benchSeg);
    const withCurrent = reqs.map((q) => ({ ...q, current: first.get(q.ip)!.node }));
    const more = cluster(5, 10);
    const after = assign(withCurrent, [...nodes, ...more.nodes], new Map([...health, ...more.health]), benchSeg);
    for (const q of withCurrent) expect(after.get(q.ip)).toMatchObject({ node: q.current, reason: 'kept' });
  });

  test('HRW spread: 1,000 addresses over 10 nodes give each node 100 ± 40', () => {
    const { nodes, health } = cluster(10);
    const count = byNode(assign(addrs(1000), nodes, health, benchSeg));
    expect(count.size).toBe(10);
    for (const n of count.values()) expect(Math.abs(n - 100)).toBeLessThanOrEqual(40);
  });

  test('removing a node moves only the addresses that were on it, spread over the rest', () => {
    const { nodes, health } = cluster(10);
    const reqs = addrs(1000);
    const before = assign(reqs, nodes, health, benchSeg);
    const lost = 'node-3';
    const onLost = [...before.values()].filter((c) => c.node === lost).length;
    const rest = nodes.filter((n) => n.name !== lost);
    // Both without stickiness (a fresh leader) and with it, the survivors keep their addresses.
    for (const sticky of [false, true]) {
      const rs = sticky ? reqs.map((q) => ({ ...q, current: before.get(q.ip)!.node })) : reqs;
      const after = assign(rs, rest, health, benchSeg);
      let moved = 0;
      for (const [ip, c] of before) {
        const a = after.get(ip)!;
        if (c.node === lost) {
          moved++;
          expect(a.node).not.toBe(lost);
          expect(a.node).toBeDefined();
          if (sticky) expect(a).toMatchObject({ reason: 'moved', movedFrom: lost, why: 'node-removed' });
        } else {
          expect(a.node).toBe(c.node!);
        }
      }
      expect(moved).toBe(onLost);
    }
    expect(Math.abs(onLost - 100)).toBeLessThanOrEqual(40); // ≈ 1/10
  });

  test('a failed node (probe down) gives its addresses to the others; the rest stay', () => {
    const { nodes, health } = cluster(10);
    const reqs = addrs(1000);
    const before = assign(reqs, nodes, health, benchSeg);
    const rs = reqs.map((q) => ({ ...q, current: before.get(q.ip)!.node }));
    const after = assign(rs, nodes, new Map(health).set('node-7', { state: 'down', mac: mac(7) }), benchSeg);
    const movedTo = new Map<string, number>();
    for (const q of rs) {
      const a = after.get(q.ip)!;
      if (q.current === 'node-7') {
        expect(a).toMatchObject({ reason: 'moved', movedFrom: 'node-7', why: 'probe-down' });
        movedTo.set(a.node!, (movedTo.get(a.node!) ?? 0) + 1);
      } else expect(a).toMatchObject({ node: q.current, reason: 'kept' });
    }
    expect(movedTo.size).toBeGreaterThan(5); // spread, not all onto one neighbour
  });

  test('a node whose kube-proxy check fails gives its addresses to the others, saying why; back up, it takes none back', () => {
    const { nodes, health } = cluster(5);
    for (const [k, h] of health) health.set(k, { ...h, proxy: 'up' });
    const reqs = addrs(200);
    const before = assign(reqs, nodes, health, benchSeg);
    const rs = reqs.map((q) => ({ ...q, current: before.get(q.ip)!.node }));
    const lost = rs.filter((q) => q.current === 'node-2').length;
    expect(lost).toBeGreaterThan(0);
    const failed = new Map(health).set('node-2', { state: 'up', mac: mac(2), proxy: 'down' });
    const after = assign(rs, nodes, failed, benchSeg);
    for (const q of rs) {
      const a = after.get(q.ip)!;
      if (q.current === 'node-2') expect(a).toMatchObject({ reason: 'moved', movedFrom: 'node-2', why: 'kube-proxy-down' });
      else expect(a).toMatchObject({ node: q.current, reason: 'kept' });
      expect(a.node).not.toBe('node-2');
    }
    // Recovered: sticky choices stay where they are now.
    const rs2 = rs.map((q) => ({ ...q, current: after.get(q.ip)!.node }));
    const again = assign(rs2, nodes, health, benchSeg);
    for (const q of rs2) expect(again.get(q.ip)).toMatchObject({ node: q.current, reason: 'kept' });
    // Every node unchecked yet: no candidate at all, the addresses wait.
    const unchecked = new Map([...health].map(([k, h]) => [k, { ...h, proxy: 'unknown' as const }]));
    expect([...assign(reqs, nodes, unchecked, benchSeg).values()].every((c) => c.reason === 'none' && c.node === undefined)).toBe(true);
  });

  test('adding a node (fresh choice) moves only ≈1/11 of the addresses, all onto it', () => {
    const { nodes, health } = cluster(11);
    const reqs = addrs(1000);
    const before = assign(reqs, nodes.slice(0, 10), health, benchSeg);
    const after = assign(reqs, nodes, health, benchSeg);
    let moved = 0;
    for (const [ip, c] of before) {
      const a = after.get(ip)!;
      if (a.node !== c.node) {
        moved++;
        expect(a.node).toBe('node-10');
      }
    }
    expect(Math.abs(moved - 91)).toBeLessThanOrEqual(40);
  });

  test('determinism: the same inputs in a different order give the same output', () => {
    const { nodes, health } = cluster(20);
    nodes[3]!.ready = false;
    health.set('node-5', { state: 'down', mac: mac(5) });
    const reqs = addrs(600).map((q, i) => ({
      ...q, localOnly: i % 7 === 0, endpointNodes: i % 7 === 0 ? [`node-${i % 20}`, `node-${(i * 3) % 20}`] : undefined,
      current: i % 3 === 0 ? `node-${i % 20}` : undefined,
    }));
    const a = assign(reqs, nodes, health, benchSeg);
    const shuffle = <T>(xs: T[], seed: number): T[] => {
      const out = [...xs];
      let s = seed;
      for (let i = out.length - 1; i > 0; i--) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const j = s % (i + 1);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    };
    const b = assign(shuffle(reqs, 1), shuffle(nodes, 2), new Map(shuffle([...health], 3)), benchSeg);
    expect(b.size).toBe(a.size);
    for (const [ip, c] of a) expect(b.get(ip)).toEqual(c);
  });
});
