/**
 * Multicast memberships of the receive sockets, end to end against the compiled binary: a link with a few
 * IPv6 VIPs joins each solicited-node group; past the group limit it takes every multicast frame
 * (PACKET_MR_ALLMULTI) instead of thousands of memberships, still answers NS, and goes back to single
 * groups when the VIPs are fewer again (reload).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { type Pair, createPair, ndiscMacs, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { formatIP, parseIP, solicitedNodeAddress } from '../../src/net/ip.ts';
import { formatMAC, ipv6MulticastMAC } from '../../src/net/mac.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(60_000);
const root = requireRoot('e2e multicast memberships');
let pair: Pair;
let l2: Running | undefined;
// At file level: the config file is rewritten by the second test, so it must outlive the first's hooks.
const DIR = tempDir('l2lb-mcast-');

const vip = (i: number) => formatIP(parseIP(`2001:db8:7::${(i + 1).toString(16)}`)!);
const group = (ip: string) => formatMAC(ipv6MulticastMAC(solicitedNodeAddress(parseIP(ip)!)));
/** The link-layer groups joined on l2lb's interface, and whether it takes all multicast. */
function memberships(): { groups: Set<string>; allmulti: boolean } {
  const maddr = sh(['ip', 'maddr', 'show', 'dev', pair.ifA], { ns: pair.nsA }).stdout;
  const groups = new Set([...maddr.matchAll(/link\s+(33:33:ff:[0-9a-f:]+)/g)].map((m) => m[1]!));
  // IFF_ALLMULTI (0x200): `ip link` shows it only when set by hand, the sysfs flags also when a socket asks.
  const flags = Number(sh(['cat', `/sys/class/net/${pair.ifA}/flags`], { ns: pair.nsA }).stdout.trim());
  return { groups, allmulti: (flags & 0x200) !== 0 };
}

describe.skipIf(!root)('multicast memberships (compiled binary)', () => {
  let base: Record<string, unknown>;
  const config = (n: number) => ({ interfaces: [pair.ifA], vips: Array.from({ length: n }, (_, i) => ({ ip: vip(i) })), announce: { probeCount: 0, gratuitousCount: 1 } });

  beforeAll(() => {
    ensureBinary();
    pair = createPair('l2mc');
    sh(['ip', 'addr', 'add', '2001:db8:7::ffff:1/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('a few IPv6 VIPs: one membership per solicited-node group, no allmulti', async () => {
    l2 = await startL2lb(pair.nsA, config(10), { dir: DIR });
    await waitFor('10 groups joined', () => memberships().groups.size >= 10, 5000);
    const m = memberships();
    for (let i = 0; i < 10; i++) expect(m.groups.has(group(vip(i)))).toBe(true);
    expect(m.allmulti).toBe(false);
    expect(ndiscMacs(pair.nsB, pair.ifB, vip(3))).toEqual([pair.macA]);
  });

  test('past 1,024 groups: allmulti instead of the memberships, and still answered; back under: single groups again', async () => {
    base = JSON.parse(await Bun.file(join(l2!.dir, 'l2lb.json')).text());
    writeFileSync(join(l2!.dir, 'l2lb.json'), JSON.stringify({ ...base, ...config(1100) }));
    l2!.signal('SIGHUP');
    await waitFor('allmulti', () => memberships().allmulti, 10_000);
    // (The kernel's own link-local address keeps its group: only the VIPs' are l2lb's.)
    await waitFor("the VIPs' single groups left", () => { const g = memberships().groups; return [0, 1, 2, 1099].every((i) => !g.has(group(vip(i)))); }, 5000);
    await waitFor('1,100 VIPs active', () => l2!.api('GET', '/v1/status').json?.vips?.active === 1100, 10_000);
    expect(ndiscMacs(pair.nsB, pair.ifB, vip(1099))).toEqual([pair.macA]);
    writeFileSync(join(l2!.dir, 'l2lb.json'), JSON.stringify({ ...base, ...config(5) }));
    l2!.signal('SIGHUP');
    await waitFor('allmulti dropped', () => !memberships().allmulti, 10_000);
    const m = memberships();
    for (let i = 0; i < 5; i++) expect(m.groups.has(group(vip(i)))).toBe(true);
    expect(m.groups.has(group(vip(5)))).toBe(false);
    expect(m.groups.size).toBeLessThanOrEqual(6);
  });
});
