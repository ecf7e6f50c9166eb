import { describe, expect, test } from 'bun:test';
import { type ConfirmLink, Confirmer } from '../../src/link/confirmer.ts';
import { Requesters, type SharedRequester } from '../../src/announce/requesters.ts';
import { type ResponderState, type VipSlot, slotMaps } from '../../src/announce/responder.ts';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { formatMAC, parseMAC } from '../../src/net/mac.ts';
import { decodeEthernet } from '../../src/wire/ethernet.ts';
import { decodeArp } from '../../src/wire/arp.ts';
import { decodeNdp } from '../../src/wire/ndp.ts';

const ip = (t: string): IP => parseIP(t)!;
const mac = (t: string) => parseMAC(t)!;
const OUR = '02:00:00:00:0a:01';
const NODE1 = '02:00:00:00:11:11';
const NODE2 = '02:00:00:00:12:12';
const CLIENT = { ip: ip('192.0.2.9'), mac: mac('02:00:00:00:09:09') };
const CLIENT6 = { ip: ip('2001:db8::9'), mac: mac('02:00:00:00:09:09') };

function state(slots: { ip: string; mac: string; mode: VipSlot['mode'] }[]): ResponderState {
  return { ifMac: mac(OUR), ...slotMaps(slots.map((s) => ({ key: s.ip, ip: ip(s.ip), mac: mac(s.mac), mode: s.mode }))) };
}

/** What a frame says: to whom, and which address at which MAC (ARP reply / NA), or a liveness check. */
function said(frame: Uint8Array): string {
  const e = decodeEthernet(frame);
  if (!e.ok) throw new Error(e.reason);
  const to = formatMAC(e.value.dst);
  if (e.value.etherType === 0x0806) {
    const a = decodeArp(e.value.payload);
    if (!a.ok) throw new Error(a.reason);
    const p = a.value;
    return p.op === 2 ? `${to}: ${formatIP(p.senderIP)} is-at ${formatMAC(p.senderMAC)}` : `${to}: check ${formatIP(p.targetIP)}`;
  }
  const n = decodeNdp(e.value.payload);
  if (!n.ok) throw new Error(n.reason);
  const m = n.value;
  if (m.type === 136) return `${to}: ${formatIP(m.target)} is-at ${formatMAC(m.targetLLA!)}${m.solicited ? ' (S)' : ''}`;
  return `${to}: check ${formatIP(m.target)}`;
}

function harness() {
  const sent: string[] = [];
  const shared: SharedRequester[][] = [];
  const counts = { confirmed: 0, checked: 0, refused: 0 };
  const link: { -readonly [K in keyof ConfirmLink]: ConfirmLink[K] } = { name: 'eth0', open: true, requesters: new Requesters(), src6: ip('fe80::a01') };
  const c = new Confirmer({
    send: (_l, f) => (sent.push(said(f)), true),
    confirmed: () => counts.confirmed++,
    checked: () => counts.checked++,
    refused: () => counts.refused++,
    share: (hosts) => shared.push(hosts.map(({ ip, mac, vips }) => ({ ip, mac, vips }))),
  });
  return { c, link, sent, shared, counts };
}

const slotOf = (st: ResponderState, t: string) => (ip(t).family === 4 ? st.v4 : st.v6).get(ip(t).value)!;

describe('Confirmer', () => {
  test('every interval, each host that asked gets a unicast reply for each answered VIP; watched ones wait', () => {
    const h = harness();
    h.c.setInterval(100, 0);
    h.link.state = state([
      { ip: '192.0.2.200', mac: NODE1, mode: 'answer' },
      { ip: '192.0.2.201', mac: NODE2, mode: 'watch' },
      { ip: '2001:db8::200', mac: NODE1, mode: 'answer' },
    ]);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.200'), CLIENT, 0);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.201'), CLIENT, 0);
    h.c.asked(h.link, slotOf(h.link.state, '2001:db8::200'), CLIENT6, 0);
    expect(h.c.tick([h.link], 50)).toBe(50);
    expect(h.sent).toEqual([]);
    expect(h.c.tick([h.link], 100)).toBe(100);
    expect(h.sent.sort()).toEqual([
      '02:00:00:00:09:09: 192.0.2.200 is-at 02:00:00:00:11:11',
      '02:00:00:00:09:09: 2001:db8::200 is-at 02:00:00:00:11:11 (S)',
    ]);
    expect(h.counts.confirmed).toBe(2);
  });

  test('taking over (watch -> answer) or a new node MAC confirms at once; an unchanged table does not', () => {
    const h = harness();
    h.c.setInterval(5000, 0);
    const watch = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'watch' }]);
    h.link.state = watch;
    h.c.asked(h.link, slotOf(watch, '192.0.2.200'), CLIENT, 0);
    const lead = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'answer' }]);
    h.link.state = lead;
    h.c.changed(h.link, watch);
    expect(h.sent).toEqual(['02:00:00:00:09:09: 192.0.2.200 is-at 02:00:00:00:11:11']);
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'answer' }]);
    h.c.changed(h.link, lead);
    expect(h.sent.length).toBe(1);
    const moved = state([{ ip: '192.0.2.200', mac: NODE2, mode: 'answer' }]);
    const before = h.link.state;
    h.link.state = moved;
    h.c.changed(h.link, before);
    expect(h.sent.at(-1)).toBe('02:00:00:00:09:09: 192.0.2.200 is-at 02:00:00:00:12:12');
  });

  test('a closed link or confirmations off: nothing remembered or sent', () => {
    const h = harness();
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'answer' }]);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.200'), CLIENT, 0);
    expect(h.link.requesters.size).toBe(0);
    expect(h.c.tick([h.link], 10_000)).toBe(Infinity);
    h.c.setInterval(100, 0);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.200'), CLIENT, 0);
    h.link.open = false;
    h.c.tick([h.link], 100);
    expect(h.sent).toEqual([]);
  });

  test('the tables are shared when they change, at most once a second', () => {
    const h = harness();
    h.c.setInterval(100, 0);
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'answer' }, { ip: '192.0.2.201', mac: NODE1, mode: 'answer' }]);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.200'), CLIENT, 0);
    h.c.share([h.link], 1000);
    h.c.share([h.link], 1500);
    expect(h.shared).toEqual([[{ ip: '192.0.2.9', mac: '02:00:00:00:09:09', vips: ['192.0.2.200'] }]]);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.201'), CLIENT, 1600);
    h.c.share([h.link], 1700); // within the second: later
    expect(h.shared.length).toBe(1);
    h.c.share([h.link], 2000);
    expect(h.shared.at(-1)).toEqual([{ ip: '192.0.2.9', mac: '02:00:00:00:09:09', vips: ['192.0.2.200', '192.0.2.201'] }]);
  });

  test('shared hosts are adopted on the link with the VIP; VIPs not there yet wait for the links to change', () => {
    const h = harness();
    const hosts = [{ ip: '192.0.2.9', mac: '02:00:00:00:09:09', vips: ['192.0.2.200', '192.0.2.201'] }];
    h.c.adopt([h.link], hosts, 0); // before confirmations are configured: all wait
    h.c.setInterval(100, 0);
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'watch' }]);
    h.c.retry([h.link], 0);
    expect(h.link.requesters.list().map((r) => [formatIP(r.ip), [...r.vips].map((v) => formatIP({ family: 4, value: v }))])).toEqual([['192.0.2.9', ['192.0.2.200']]]);
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'watch' }, { ip: '192.0.2.201', mac: NODE1, mode: 'watch' }]);
    h.c.retry([h.link], 1);
    expect([...h.link.requesters.list()[0]!.vips].map((v) => formatIP({ family: 4, value: v }))).toEqual(['192.0.2.200', '192.0.2.201']);
  });

  test('a host silent for a minute is checked for life with a probe-form request to its MAC', () => {
    const h = harness();
    h.c.setInterval(5000, 0);
    h.link.state = state([{ ip: '192.0.2.200', mac: NODE1, mode: 'answer' }]);
    h.c.asked(h.link, slotOf(h.link.state, '192.0.2.200'), CLIENT, 0);
    h.c.tick([h.link], 60_000);
    expect(h.sent).toContain('02:00:00:00:09:09: check 192.0.2.9');
    expect(h.counts.checked).toBe(1);
  });
});
