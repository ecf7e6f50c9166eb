import { describe, expect, test } from 'bun:test';
import { type AnnounceTiming, Announcer } from '../../src/announce/announcer.ts';
import type { InterfaceFacts } from '../../src/link/iface.ts';
import type { LinkSpec } from '../../src/link/protocol.ts';
import { createLogger } from '../../src/log.ts';
import { decodeEthernet } from '../../src/wire/ethernet.ts';
import { decodeArp } from '../../src/wire/arp.ts';
import { decodeNdp } from '../../src/wire/ndp.ts';
import { formatIP } from '../../src/net/ip.ts';
import { formatMAC } from '../../src/net/mac.ts';

const fast: AnnounceTiming = { gratuitousCount: 3, gratuitousInterval: 20, refreshInterval: 0, confirmInterval: 0, replyLimit: 0, probeCount: 2, probeInterval: 10, probeWait: 30 };
const eth0: InterfaceFacts = {
  name: 'eth0', index: 2, mac: '02:00:00:00:00:01', mtu: 1500, up: true, running: true,
  addresses: [{ ip: '192.0.2.1', prefix: 24, family: 4, scope: 'global' }, { ip: 'fe80::1', prefix: 64, family: 6, scope: 'link' }],
};
const eth1: InterfaceFacts = { ...eth0, name: 'eth1', index: 3, mac: '02:00:00:00:00:02', addresses: [{ ip: '198.51.100.1', prefix: 24, family: 4, scope: 'global' }] };

interface Sent { link: string; kind: string; sha?: string; ip: string; ethSrc: string; src?: string; dst?: string }

function decode(link: string, frame: Uint8Array): Sent {
  const e = decodeEthernet(frame);
  if (!e.ok) throw new Error(e.reason);
  if (e.value.etherType === 0x0806) {
    const a = decodeArp(e.value.payload);
    if (!a.ok) throw new Error(a.reason);
    const p = a.value;
    const kind = formatIP(p.senderIP) === '0.0.0.0' ? 'arp-probe' : p.op === 1 ? 'garp-request' : 'garp-reply';
    return { link, kind, sha: formatMAC(p.senderMAC), ip: formatIP(p.targetIP), ethSrc: formatMAC(e.value.src) };
  }
  const n = decodeNdp(e.value.payload);
  if (!n.ok) throw new Error(n.reason);
  const m = n.value;
  const kind = m.type === 135 ? 'dad' : 'na';
  return { link, kind, sha: m.type === 136 && m.targetLLA ? formatMAC(m.targetLLA) : undefined, ip: formatIP(m.target), ethSrc: formatMAC(e.value.src), src: formatIP(m.src), dst: formatIP(m.dst) };
}

function harness(timing = fast, interfaces = ['eth0']) {
  const sent: Sent[] = [];
  const specs: LinkSpec[][] = [];
  const logs: string[] = [];
  const a = new Announcer(timing, interfaces, {
    setLinks: (l) => specs.push(structuredClone(l)),
    send: (link, frames) => sent.push(...frames.map((f) => decode(link, f))),
  }, createLogger({ level: 'debug', format: 'json' }, (l) => logs.push(l)));
  // The worker's sockets are open unless a test says otherwise.
  for (const name of ['eth0', 'eth1']) a.setSocket(name, true);
  const answering = (link = 'eth0') => specs.at(-1)?.find((s) => s.name === link)?.vips ?? [];
  return { a, sent, specs, logs, answering };
}

describe('Announcer', () => {
  test('a new IPv4 VIP is probed, then announced with request- and reply-form gratuitous ARP', async () => {
    const h = harness();
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    expect(h.a.get('192.0.2.10')!.state).toBe('probing');
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: eth0.mac, mode: 'probe' }]);
    await Bun.sleep(25);
    expect(h.sent.filter((s) => s.kind === 'arp-probe')).toHaveLength(2);
    expect(h.sent.every((s) => s.ip === '192.0.2.10' && s.ethSrc === eth0.mac)).toBe(true);
    await Bun.sleep(40);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: eth0.mac, mode: 'answer' }]);
    await Bun.sleep(60);
    const g = h.sent.filter((s) => s.kind.startsWith('garp'));
    expect(g.map((s) => s.kind)).toEqual(['garp-request', 'garp-reply', 'garp-request', 'garp-reply', 'garp-request', 'garp-reply']);
    expect(h.a.get('192.0.2.10')!.gratuitousSent).toBe(6);
    h.a.stop();
  });

  test('a conflict while probing keeps the VIP unannounced', async () => {
    const h = harness();
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    h.a.onConflict({ vip: '192.0.2.10', mac: '02:00:00:00:0b:01', protocol: 'arp', phase: 'probe' });
    const st = h.a.get('192.0.2.10')!;
    expect(st.state).toBe('conflict');
    expect(st.conflict).toMatchObject({ mac: '02:00:00:00:0b:01', protocol: 'arp' });
    expect(st.reason).toContain('02:00:00:00:0b:01');
    expect(h.answering()).toEqual([]);
    await Bun.sleep(100);
    expect(h.sent.filter((s) => s.kind.startsWith('garp'))).toEqual([]);
    expect(h.logs.some((l) => l.includes('vip conflict'))).toBe(true);
    h.a.stop();
  });

  test('a MAC change re-announces at once with the new MAC; the Ethernet source stays ours', async () => {
    const h = harness({ ...fast, probeCount: 0, gratuitousCount: 1 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    h.sent.length = 0;
    h.a.setVips([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', source: 'api' }]);
    expect(h.sent.map((s) => [s.kind, s.sha, s.ethSrc])).toEqual([
      ['garp-request', '02:00:00:00:0c:01', eth0.mac],
      ['garp-reply', '02:00:00:00:0c:01', eth0.mac],
    ]);
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', mode: 'answer' }]);
    h.a.stop();
  });

  test('IPv6: DAD probes from ::, then unsolicited NAs from the VIP to ff02::1', async () => {
    const h = harness({ ...fast, gratuitousCount: 1 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '2001:db8::10', source: 'config' }]);
    await Bun.sleep(70);
    expect(h.sent.map((s) => [s.kind, s.src, s.dst])).toEqual([
      ['dad', '::', 'ff02::1:ff00:10'],
      ['dad', '::', 'ff02::1:ff00:10'],
      ['na', '2001:db8::10', 'ff02::1'],
    ]);
    expect(h.sent[2]!.sha).toBe(eth0.mac);
    h.a.stop();
  });

  test('removal stops answering at once and cancels the burst', async () => {
    const h = harness({ ...fast, probeCount: 0 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    expect(h.answering()).toHaveLength(1);
    h.a.setVips([]);
    expect(h.answering()).toEqual([]);
    const n = h.sent.length;
    await Bun.sleep(60);
    expect(h.sent.length).toBe(n);
    expect(h.a.list()).toEqual([]);
  });

  test('waits for a missing interface and starts when it appears; re-announces when it comes back up', async () => {
    const h = harness({ ...fast, probeCount: 0, gratuitousCount: 1 });
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'waiting', reason: 'interface not present' });
    expect(h.specs.at(-1)![0]!.index).toBeUndefined();
    h.a.setInterface('eth0', eth0);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    expect(h.specs.at(-1)![0]!.index).toBe(2);
    h.a.setInterface('eth0', { ...eth0, up: false });
    const n = h.sent.length;
    h.a.setInterface('eth0', eth0);
    expect(h.sent.length).toBe(n + 2);
    h.a.stop();
  });

  test("a VIP waits, and is not said to be announced, while the worker's socket on its link is not open", () => {
    const h = harness({ ...fast, probeCount: 0 });
    h.a.setSocket('eth0', false, 'bind: ENODEV');
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'waiting', reason: 'socket not open: bind: ENODEV' });
    expect(h.sent).toEqual([]);
    expect(h.logs.some((l) => l.includes('vip announced'))).toBe(false);
    h.a.setSocket('eth0', true);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    expect(h.logs.some((l) => l.includes('vip announced'))).toBe(true);
    h.a.setSocket('eth0', false, 'recv: ENETDOWN');
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'waiting', reason: 'socket not open: recv: ENETDOWN' });
    h.a.stop();
  });

  test('a VIP without interface goes where its subnet is, else to the first interface', () => {
    const h = harness({ ...fast, probeCount: 0 }, ['eth0', 'eth1']);
    h.a.setInterface('eth0', eth0);
    h.a.setInterface('eth1', eth1);
    h.a.setVips([{ ip: '198.51.100.9', source: 'config' }, { ip: '203.0.113.9', source: 'config' }, { ip: '192.0.2.9', interface: 'eth1', source: 'config' }]);
    expect(h.a.get('198.51.100.9')!.interface).toBe('eth1');
    expect(h.a.get('203.0.113.9')!.interface).toBe('eth0');
    expect(h.a.get('192.0.2.9')!.interface).toBe('eth1');
    expect(h.a.links()).toEqual(['eth0', 'eth1']);
    h.a.stop();
  });

  test('keys(): the canonical addresses, sorted, as one object until the set changes (what heartbeats digest)', () => {
    const h = harness({ ...fast, probeCount: 0 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '2001:DB8::0:1', source: 'config' }, { ip: '192.0.2.10', source: 'config' }, { ip: '192.0.2.9', source: 'config' }]);
    const k = h.a.keys();
    expect(k).toEqual(['192.0.2.9', '192.0.2.10', '2001:db8::1']);
    expect(h.a.keys()).toBe(k);
    h.a.setVips([{ ip: '192.0.2.9', source: 'config' }]);
    expect(h.a.keys()).toEqual(['192.0.2.9']);
    expect(h.a.keys()).not.toBe(k);
    h.a.stop();
  });

  test('a conflict on an announced VIP is defended once, not withdrawn', () => {
    const h = harness({ ...fast, probeCount: 0, gratuitousCount: 1 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    const n = h.sent.length;
    h.a.onConflict({ vip: '192.0.2.10', mac: '02:00:00:00:0b:01', protocol: 'arp', phase: 'active' });
    h.a.onConflict({ vip: '192.0.2.10', mac: '02:00:00:00:0b:01', protocol: 'arp', phase: 'active' });
    expect(h.sent.length).toBe(n + 2); // one defence (request + reply form)
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'active', conflicts: 2 });
    h.a.stop();
  });

  test('refreshInterval re-announces active VIPs periodically', async () => {
    const h = harness({ ...fast, probeCount: 0, gratuitousCount: 1, refreshInterval: 30 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    expect(h.sent).toHaveLength(2);
    await Bun.sleep(100);
    expect(h.sent.length).toBeGreaterThanOrEqual(6); // at least two refreshes of request + reply form
    expect(h.sent.every((s) => s.kind.startsWith('garp') && s.ip === '192.0.2.10')).toBe(true);
    h.a.stop();
  });

  test('a link flap keeps the VIP without probing; a new NIC behind the name is probed again', async () => {
    const h = harness({ ...fast, gratuitousCount: 1 });
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    await Bun.sleep(60);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    h.a.setInterface('eth0', { ...eth0, up: false });
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'waiting', reason: 'interface is down' });
    expect(h.answering()).toEqual([]);
    h.a.setInterface('eth0', eth0);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    h.a.setInterface('eth0', undefined);
    expect(h.a.get('192.0.2.10')).toMatchObject({ state: 'waiting', reason: 'interface not present' });
    h.a.setInterface('eth0', { ...eth0, index: 9 });
    expect(h.a.get('192.0.2.10')!.state).toBe('probing');
    h.a.stop();
  });

  test('a link down longer than setLossAfter is probed again on return (another node may have the VIP now); a shorter one is not', async () => {
    const h = harness({ ...fast, gratuitousCount: 1 });
    h.a.setLossAfter(80);
    h.a.setInterface('eth0', eth0);
    h.a.setVips([{ ip: '192.0.2.10', source: 'config' }]);
    await Bun.sleep(60);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    h.a.setInterface('eth0', { ...eth0, up: false });
    await Bun.sleep(20);
    h.a.setInterface('eth0', eth0);
    expect(h.a.get('192.0.2.10')!.state).toBe('active');
    h.a.setInterface('eth0', { ...eth0, up: false });
    await Bun.sleep(100);
    const sent = h.sent.length;
    h.a.setInterface('eth0', eth0);
    expect(h.a.get('192.0.2.10')!.state).toBe('probing');
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: eth0.mac, mode: 'probe' }]);
    // No gratuitous ARP before the probe: it would pull clients away from the node that took the VIP.
    await Bun.sleep(5);
    expect(h.sent.slice(sent).filter((s) => s.kind.startsWith('garp'))).toEqual([]);
    h.a.stop();
  });
});

describe('Announcer as a standby', () => {
  test('watched addresses go to the worker in watch mode, on their interface, with the MAC to announce', () => {
    const h = harness(fast, ['eth0', 'eth1']);
    h.a.setInterface('eth0', eth0);
    h.a.setInterface('eth1', eth1);
    h.a.setWatched([
      { ip: '192.0.2.10', mac: '02:00:00:00:0c:01', source: 'kubernetes' },
      { ip: '198.51.100.10', source: 'kubernetes' },
    ]);
    expect(h.answering('eth0')).toEqual([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', mode: 'watch' }]);
    expect(h.answering('eth1')).toEqual([{ ip: '198.51.100.10', mac: eth1.mac, mode: 'watch' }]);
    expect(h.sent).toEqual([]); // a standby sends nothing for them
    const pushes = h.specs.length;
    h.a.setWatched([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', source: 'kubernetes' }, { ip: '198.51.100.10', source: 'kubernetes' }]);
    expect(h.specs.length).toBe(pushes); // the same set is not pushed again
  });

  test('on taking over, an announced address is answered, not watched', () => {
    const h = harness();
    h.a.setInterface('eth0', eth0);
    h.a.setWatched([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', source: 'kubernetes' }]);
    h.a.setVips([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', source: 'kubernetes', probe: false }]);
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', mode: 'answer' }]);
    h.a.setWatched([]);
    expect(h.answering()).toEqual([{ ip: '192.0.2.10', mac: '02:00:00:00:0c:01', mode: 'answer' }]);
  });
});

describe('first gratuitous of a burst', () => {
  test('goes out only after the worker has the table that answers for the address (a host asking at once is answered)', () => {
    const order: string[] = [];
    const a = new Announcer(fast, ['eth0'], {
      setLinks: (l) => order.push(`links:${l[0]?.vips.map((v) => `${v.ip}=${v.mode}`).join(',')}`),
      send: (_link, frames) => order.push(`send:${frames.map((f) => decode('eth0', f).kind).join(',')}`),
    }, createLogger({ level: 'error', format: 'json' }, () => {}));
    a.setInterface('eth0', eth0);
    a.setSocket('eth0', true);
    order.length = 0;
    a.setVips([{ ip: '192.0.2.10', source: 'kubernetes', probe: false }]);
    expect(order).toEqual(['links:192.0.2.10=answer', 'send:garp-request,garp-reply']);
    a.stop();
  });
});
