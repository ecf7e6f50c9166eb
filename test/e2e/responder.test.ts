/**
 * End to end, against the compiled binary: l2lb runs in namespace A on one end of a veth pair with its VIPs
 * configured on no interface; namespace B is the client, and its kernel, arping and ndisc6 are the peers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Pair, arpingMacs, createPair, ndiscMacs, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, BUN, ROOT, ensureBinary, startL2lb } from '../support/l2lb.ts';

const root = requireRoot('e2e responder');
const NEW_MAC = '02:00:00:00:0c:01';

let pair: Pair;
let l2: Running;

/** arping from B, one request at a time: reply MACs, lower case. */
const arping = (ip: string, count = 3) => arpingMacs(pair.nsB, pair.ifB, ip, { count });
/** ndisc6 from B: the target link-layer addresses answered (lower case). */
const ndisc = (ip: string) => ndiscMacs(pair.nsB, pair.ifB, ip);

/** B's neighbour entry for ip: [lladdr, state] or undefined. */
function neigh(ip: string): { lladdr?: string; state: string[] } | undefined {
  const fam = ip.includes(':') ? '-6' : '-4';
  const r = sh(['ip', '-j', fam, 'neigh', 'show', ip, 'dev', pair.ifB], { ns: pair.nsB });
  const list = JSON.parse(r.stdout || '[]') as { lladdr?: string; state: string[] }[];
  return list[0];
}

/** Makes B's kernel resolve ip (it sends ARP / NS on its own) by sending a datagram towards it. */
function resolveFromB(ip: string): void {
  const fam = ip.includes(':') ? '-6' : '-4';
  sh(['ping', fam, '-c', '1', '-W', '1', ip], { ns: pair.nsB, check: false });
}

function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe.skipIf(!root)('responder end to end (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2e');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
    // Entries B does not confirm go STALE after 0.5-1.5 s. Set before B has any entry: an entry that stays
    // REACHABLE keeps the timer armed with the reachable time in force when it became REACHABLE.
    for (const fam of ['ipv4', 'ipv6']) sh(['sysctl', '-qw', `net.${fam}.neigh.${pair.ifB}.base_reachable_time_ms=1000`], { ns: pair.nsB });
    // A second interface in A (this kernel has no dummy driver: a veth pair inside A).
    sh(['ip', 'link', 'add', 'l2e-other', 'type', 'veth', 'peer', 'name', 'l2e-other-p'], { ns: pair.nsA });
    sh(['ip', 'link', 'set', 'l2e-other', 'up'], { ns: pair.nsA });
    sh(['ip', 'link', 'set', 'l2e-other-p', 'up'], { ns: pair.nsA });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA, 'l2e-other'],
      vips: [{ ip: '192.0.2.10', interface: pair.ifA }, { ip: '2001:db8::10', interface: pair.ifA }, { ip: '192.0.2.20', interface: 'l2e-other' }],
      announce: { gratuitousCount: 3, gratuitousInterval: '200ms', probeCount: 2, probeInterval: '50ms', probeWait: '150ms', confirmInterval: '300ms' },
    });
    await waitFor('VIPs active', () => {
      const r = l2.api('GET', '/v1/vips');
      return r.json?.vips?.every((v: { state: string }) => v.state === 'active') && r.json.vips.length === 3;
    }, 5000);
  }, 60000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('arping gets replies carrying the announced MAC', () => {
    const macs = arping('192.0.2.10');
    expect(macs.length).toBe(3);
    expect(new Set(macs)).toEqual(new Set([pair.macA]));
  });

  test("B's kernel resolves the VIP and its neighbour table shows our MAC", () => {
    resolveFromB('192.0.2.10');
    const n = neigh('192.0.2.10');
    expect(n?.lladdr).toBe(pair.macA);
    expect(n?.state).not.toContain('FAILED');
    expect(n?.state).not.toContain('INCOMPLETE');
  });

  test('ndisc6 gets advertisements with the announced MAC; the kernel resolves the IPv6 VIP', () => {
    const macs = ndisc('2001:db8::10');
    expect(macs).toEqual([pair.macA]);
    resolveFromB('2001:db8::10');
    const n = neigh('2001:db8::10');
    expect(n?.lladdr).toBe(pair.macA);
    expect(n?.state).not.toContain('FAILED');
  });

  test("changing a VIP's MAC updates B's existing entries within a second (gratuitous ARP / unsolicited NA)", async () => {
    resolveFromB('192.0.2.10');
    resolveFromB('2001:db8::10');
    expect(neigh('192.0.2.10')?.lladdr).toBe(pair.macA);
    expect(neigh('2001:db8::10')?.lladdr).toBe(pair.macA);
    const t0 = Date.now();
    expect(l2.api('PUT', '/v1/vips/192.0.2.10', { interface: pair.ifA, mac: NEW_MAC }).status).toBe(200);
    expect(l2.api('PUT', '/v1/vips/2001:db8::10', { interface: pair.ifA, mac: NEW_MAC }).status).toBe(200);
    await waitFor('IPv4 neighbour updated', () => neigh('192.0.2.10')?.lladdr === NEW_MAC, 1000, 20);
    await waitFor('IPv6 neighbour updated', () => neigh('2001:db8::10')?.lladdr === NEW_MAC, 1000, 20);
    expect(Date.now() - t0).toBeLessThan(1500); // includes two curl round trips
    expect(arping('192.0.2.10', 1)).toEqual([NEW_MAC]);
    expect(ndisc('2001:db8::10')).toEqual([NEW_MAC]);
  });

  test('a VIP bound to another interface is not answered here', () => {
    expect(l2.api('GET', '/v1/vips/192.0.2.20').json.state).toBe('active');
    expect(arping('192.0.2.20', 2)).toEqual([]);
  });

  test('a flood of malformed frames does not stop correct answers', async () => {
    const before = await (async () => l2.api('GET', '/metrics').text)();
    const flood = Bun.spawn(['ip', 'netns', 'exec', pair.nsB, BUN, `${ROOT}/test/support/flood.ts`, pair.ifB, '200000'], { stdout: 'pipe', stderr: 'pipe' });
    // Ask while the flood runs.
    const during = arping('192.0.2.10', 3);
    const code = await flood.exited;
    expect(code).toBe(0);
    expect(await new Response(flood.stdout).text()).toMatch(/sent \d+/);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(arping('192.0.2.10', 3)).toEqual([NEW_MAC, NEW_MAC, NEW_MAC]);
    expect(ndisc('2001:db8::10')).toEqual([NEW_MAC]);
    await waitFor('drops counted', () => {
      const m = l2.api('GET', '/metrics').text;
      const drops = ['arp-too-short', 'arp-bad-hardware-type', 'arp-bad-op', 'icmpv6-bad-checksum', 'ndp-bad-hop-limit', 'ipv6-bad-length']
        .map((reason) => (metric(m, 'l2lb_drops_total', { reason }) ?? 0) - (metric(before, 'l2lb_drops_total', { reason }) ?? 0));
      return drops.every((d) => d > 0) && drops;
    }, 3000);
    expect(l2.api('GET', '/healthz').status).toBe(200);
  }, 60000);

  test("B's entries stay REACHABLE while l2lb confirms them (unicast reply / solicited NA every confirmInterval)", async () => {
    // B lets an entry nothing confirms go STALE after 0.5-1.5 s (set before B made any entry: see beforeAll);
    // l2lb confirms every 300 ms.
    resolveFromB('192.0.2.10');
    resolveFromB('2001:db8::10');
    const before = l2.api('GET', '/metrics').text;
    for (let i = 0; i < 8; i++) {
      await Bun.sleep(500);
      expect(neigh('192.0.2.10')).toMatchObject({ lladdr: NEW_MAC, state: ['REACHABLE'] });
      expect(neigh('2001:db8::10')).toMatchObject({ lladdr: NEW_MAC, state: ['REACHABLE'] });
    }
    const m = l2.api('GET', '/metrics').text;
    for (const vip of ['192.0.2.10', '2001:db8::10']) {
      const sent = metric(m, 'l2lb_confirmations_total', { vip })! - (metric(before, 'l2lb_confirmations_total', { vip }) ?? 0);
      expect(sent).toBeGreaterThanOrEqual(10); // 4 s at one per 300 ms, to the one host that asked
    }
    expect(metric(m, 'l2lb_requesters', { interface: pair.ifA })).toBeGreaterThanOrEqual(2);
  }, 20000);

  test('after DELETE nothing answers and nothing confirms: B\'s entries go STALE', async () => {
    expect(l2.api('DELETE', '/v1/vips/192.0.2.10').status).toBe(204);
    expect(l2.api('DELETE', '/v1/vips/2001:db8::10').status).toBe(204);
    expect(arping('192.0.2.10', 2)).toEqual([]);
    expect(ndisc('2001:db8::10')).toEqual([]);
    await waitFor('IPv4 entry STALE', () => neigh('192.0.2.10')?.state.includes('STALE'), 3000, 50);
    await waitFor('IPv6 entry STALE', () => neigh('2001:db8::10')?.state.includes('STALE'), 3000, 50);
  }, 20000);

  test('an address in use on B is detected as a conflict and not announced', async () => {
    sh(['ip', 'addr', 'add', '192.0.2.30/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::30/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
    expect(l2.api('PUT', '/v1/vips/192.0.2.30', { interface: pair.ifA }).status).toBe(201);
    expect(l2.api('PUT', '/v1/vips/2001:db8::30', { interface: pair.ifA }).status).toBe(201);
    for (const ip of ['192.0.2.30', '2001:db8::30']) {
      const v = await waitFor(`${ip} in conflict`, () => {
        const r = l2.api('GET', `/v1/vips/${ip}`).json;
        return r?.state === 'conflict' && r;
      }, 3000);
      expect(v.conflict.mac).toBe(pair.macB);
      expect(v.gratuitousSent).toBe(0);
    }
    // still not announced a while later, and B's own mapping is untouched
    await Bun.sleep(300);
    expect(l2.api('GET', '/v1/vips/192.0.2.30').json.state).toBe('conflict');
    const m = l2.api('GET', '/metrics').text;
    expect(metric(m, 'l2lb_conflicts_total', { vip: '192.0.2.30' })).toBeGreaterThanOrEqual(1);
    expect(metric(m, 'l2lb_replies_total', { vip: '192.0.2.30' })).toBe(0);
    expect(l2.logs()).toContain('vip conflict');
  });

  test('API changes survive a restart (state file)', async () => {
    expect(l2.api('PUT', '/v1/vips/198.51.100.50', { interface: pair.ifA }).status).toBe(201);
    expect(await l2.stop('SIGTERM')).toBe(0);
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA, 'l2e-other'],
      vips: [{ ip: '192.0.2.10', interface: pair.ifA }, { ip: '2001:db8::10', interface: pair.ifA }, { ip: '192.0.2.20', interface: 'l2e-other' }],
      announce: { probeCount: 0 },
    }, { dir: l2.dir });
    const ips = l2.api('GET', '/v1/vips').json.vips.map((v: { ip: string }) => v.ip);
    expect(ips).toContain('198.51.100.50');
    expect(ips).not.toContain('192.0.2.10'); // deleted through the API before the restart
    sh(['ip', 'route', 'add', '198.51.100.0/24', 'dev', pair.ifB], { ns: pair.nsB });
    expect(arping('198.51.100.50', 2)).toEqual([pair.macA, pair.macA]);
  }, 30000);
});
