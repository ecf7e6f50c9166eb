import { describe, expect, test } from 'bun:test';
import { type ResponderState, type VipSlot, respond, slotMaps } from '../../src/announce/responder.ts';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { BROADCAST_MAC, formatMAC, parseMAC } from '../../src/net/mac.ts';
import { decodeEthernet } from '../../src/wire/ethernet.ts';
import { ARP_REPLY, arpFrame, arpProbeFrame, arpRequestFrame, decodeArp, gratuitousArpFrames } from '../../src/wire/arp.ts';
import { type NeighborAdvertisement, dadProbeFrame, decodeNdp, naFrame, nsFrame, nsRequestFrame } from '../../src/wire/ndp.ts';

const ip = (t: string): IP => parseIP(t)!;
const mac = (t: string) => parseMAC(t)!;
const OUR = mac('02:00:00:00:0a:01');
const PEER = mac('02:00:00:00:0b:01');
const NODE = mac('02:00:00:00:0c:01');

function state(vips: { ip: string; mac?: Uint8Array; mode?: VipSlot['mode'] }[]): ResponderState {
  return { ifMac: OUR, ...slotMaps(vips.map((v) => ({ key: v.ip, ip: ip(v.ip), mac: v.mac ?? OUR, mode: v.mode ?? 'answer' }))) };
}

function arpOf(frame: Uint8Array) {
  const e = decodeEthernet(frame);
  if (!e.ok) throw new Error(e.reason);
  const a = decodeArp(e.value.payload);
  if (!a.ok) throw new Error(a.reason);
  return { eth: e.value, arp: a.value };
}

function naOf(frame: Uint8Array) {
  const e = decodeEthernet(frame);
  if (!e.ok) throw new Error(e.reason);
  const n = decodeNdp(e.value.payload);
  if (!n.ok) throw new Error(n.reason);
  expect(n.value.type).toBe(136);
  return { eth: e.value, na: n.value as NeighborAdvertisement };
}

describe('ARP', () => {
  const st = state([{ ip: '192.0.2.10' }, { ip: '192.0.2.11', mac: NODE }]);

  test('a broadcast request for a VIP gets a reply to the requester with the announced MAC', () => {
    const out = respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10')), st);
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.vip).toBe('192.0.2.10');
    const { eth, arp } = arpOf(out.frame);
    expect(formatMAC(eth.dst)).toBe(formatMAC(PEER));
    expect(formatMAC(eth.src)).toBe(formatMAC(OUR));
    expect(arp.op).toBe(ARP_REPLY);
    expect(formatMAC(arp.senderMAC)).toBe(formatMAC(OUR));
    expect(formatIP(arp.senderIP)).toBe('192.0.2.10');
    expect(formatMAC(arp.targetMAC)).toBe(formatMAC(PEER));
    expect(formatIP(arp.targetIP)).toBe('192.0.2.2');
  });

  test("announcing another node's MAC: Ethernet source is ours, sender hardware address is the node's", () => {
    const out = respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.11')), st);
    if (out.kind !== 'reply') throw new Error(out.kind);
    const { eth, arp } = arpOf(out.frame);
    expect(formatMAC(eth.src)).toBe(formatMAC(OUR));
    expect(formatMAC(arp.senderMAC)).toBe(formatMAC(NODE));
  });

  test('a unicast request to us is answered; unicast to another MAC (promiscuous) is not', () => {
    expect(respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10'), OUR), st).kind).toBe('reply');
    expect(respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10'), NODE), st)).toEqual({ kind: 'ignored', reason: 'not-for-us', vip: undefined });
  });

  test('an RFC 5227 probe for an announced VIP is answered (we defend it)', () => {
    const out = respond(arpProbeFrame(PEER, ip('192.0.2.10')), st);
    if (out.kind !== 'reply') throw new Error(out.kind);
    const { arp } = arpOf(out.frame);
    expect(formatIP(arp.targetIP)).toBe('0.0.0.0');
    expect(formatMAC(arp.targetMAC)).toBe(formatMAC(PEER));
  });

  test('requests for other addresses, replies and our own frames need no answer', () => {
    expect(respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.99')), st)).toMatchObject({ kind: 'ignored', reason: 'not-a-vip' });
    expect(respond(arpFrame(OUR, PEER, { op: ARP_REPLY, senderMAC: PEER, senderIP: ip('192.0.2.2'), targetMAC: OUR, targetIP: ip('192.0.2.1') }), st))
      .toMatchObject({ kind: 'ignored', reason: 'arp-reply' });
    expect(respond(arpRequestFrame(OUR, ip('192.0.2.1'), ip('192.0.2.10')), st)).toMatchObject({ kind: 'ignored', reason: 'own-frame' });
  });

  test('another host using a VIP as its sender address is a conflict', () => {
    const [garp] = gratuitousArpFrames(PEER, PEER, ip('192.0.2.10'));
    expect(respond(garp, st)).toEqual({ kind: 'conflict', vip: '192.0.2.10', protocol: 'arp', mac: formatMAC(PEER), phase: 'active' });
    // An announcement carrying the MAC we announce for the VIP is not a conflict, and not a question either.
    const [own] = gratuitousArpFrames(NODE, NODE, ip('192.0.2.11'));
    expect(respond(own, st)).toMatchObject({ kind: 'ignored', reason: 'arp-gratuitous' });
  });

  test('while probing: requests are not answered, a reply or a probe from another host is a conflict', () => {
    const p = state([{ ip: '192.0.2.10', mode: 'probe' }]);
    expect(respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10')), p)).toMatchObject({ kind: 'ignored', reason: 'probing' });
    const reply = arpFrame(OUR, PEER, { op: ARP_REPLY, senderMAC: PEER, senderIP: ip('192.0.2.10'), targetMAC: OUR, targetIP: ip('0.0.0.0') });
    expect(respond(reply, p)).toMatchObject({ kind: 'conflict', phase: 'probe', mac: formatMAC(PEER) });
    expect(respond(arpProbeFrame(PEER, ip('192.0.2.10')), p)).toMatchObject({ kind: 'conflict', phase: 'probe' });
  });

  test('malformed ARP is dropped with a reason', () => {
    const bad = arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10'));
    bad[14 + 7] = 9; // op 9
    expect(respond(bad, st)).toMatchObject({ kind: 'drop', reason: 'arp-bad-op' });
    expect(respond(bad.subarray(0, 20), st)).toMatchObject({ kind: 'drop' });
    expect(respond(new Uint8Array(5), st)).toMatchObject({ kind: 'drop', reason: 'eth-too-short' });
  });
});

describe('NDP', () => {
  const st = state([{ ip: '2001:db8::10' }, { ip: '2001:db8::11', mac: NODE }]);

  test('a multicast NS gets a solicited NA with Override and the target link-layer option', () => {
    const out = respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10')), st);
    if (out.kind !== 'reply') throw new Error(out.kind);
    const { eth, na } = naOf(out.frame);
    expect(formatMAC(eth.dst)).toBe(formatMAC(PEER));
    expect(formatMAC(eth.src)).toBe(formatMAC(OUR));
    expect(formatIP(na.dst)).toBe('2001:db8::2');
    expect(formatIP(na.src)).toBe('2001:db8::10');
    expect(na.hopLimit).toBe(255);
    expect([na.solicited, na.override, na.router]).toEqual([true, true, false]);
    expect(formatMAC(na.targetLLA!)).toBe(formatMAC(OUR));
  });

  test("a unicast NS (neighbour unreachability detection) is answered; another node's MAC goes in the TLLA", () => {
    const out = respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::11'), OUR), st);
    if (out.kind !== 'reply') throw new Error(out.kind);
    const { eth, na } = naOf(out.frame);
    expect(formatMAC(eth.src)).toBe(formatMAC(OUR));
    expect(formatMAC(na.targetLLA!)).toBe(formatMAC(NODE));
  });

  test('a DAD solicitation from :: for an announced VIP is answered to ff02::1, not solicited', () => {
    const out = respond(dadProbeFrame(PEER, ip('2001:db8::10')), st);
    if (out.kind !== 'reply') throw new Error(out.kind);
    const { eth, na } = naOf(out.frame);
    expect(formatIP(na.dst)).toBe('ff02::1');
    expect(formatMAC(eth.dst)).toBe('33:33:00:00:00:01');
    expect(na.solicited).toBe(false);
    expect(na.override).toBe(true);
  });

  test('hop limit other than 255 is dropped (RFC 4861 7.1.1)', () => {
    const f = nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10'));
    f[14 + 7] = 64;
    expect(respond(f, st)).toMatchObject({ kind: 'drop', reason: 'ndp-bad-hop-limit' });
  });

  test('a bad checksum is dropped', () => {
    const f = nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10'));
    f[f.length - 1]! ^= 0xff;
    expect(respond(f, st)).toMatchObject({ kind: 'drop', reason: 'icmpv6-bad-checksum' });
  });

  test('an NS for a VIP sent to an unrelated address is ignored', () => {
    const f = nsFrame(OUR, PEER, { src: ip('2001:db8::2'), dst: ip('2001:db8::99'), target: ip('2001:db8::10'), sourceLLA: PEER });
    expect(respond(f, st)).toMatchObject({ kind: 'ignored', reason: 'ndp-wrong-destination' });
  });

  test('an NA from another host for a VIP is a conflict; while probing, so is a DAD probe', () => {
    const na = naFrame(BROADCAST_MAC, PEER, { src: ip('2001:db8::10'), dst: ip('ff02::1'), target: ip('2001:db8::10'), targetLLA: PEER, solicited: false, override: true });
    expect(respond(na, st)).toMatchObject({ kind: 'conflict', protocol: 'ndp', phase: 'active', mac: formatMAC(PEER) });
    const p = state([{ ip: '2001:db8::10', mode: 'probe' }]);
    expect(respond(dadProbeFrame(PEER, ip('2001:db8::10')), p)).toMatchObject({ kind: 'conflict', phase: 'probe' });
    expect(respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10')), p)).toMatchObject({ kind: 'ignored', reason: 'probing' });
  });

  test('an NS for another address is not ours', () => {
    expect(respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::99')), st)).toMatchObject({ kind: 'ignored', reason: 'not-a-vip' });
  });
});

describe('requesters and standby (watch)', () => {
  const askerOf = (out: ReturnType<typeof respond>) =>
    'asker' in out && out.asker ? { ip: formatIP(out.asker.ip), mac: formatMAC(out.asker.mac) } : undefined;

  test('an answered request names the host that asked (ARP sender / NS source and its link-layer option)', () => {
    const st = state([{ ip: '192.0.2.10', mac: NODE }, { ip: '2001:db8::10', mac: NODE }]);
    expect(askerOf(respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10')), st))).toEqual({ ip: '192.0.2.2', mac: formatMAC(PEER) });
    expect(askerOf(respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10')), st))).toEqual({ ip: '2001:db8::2', mac: formatMAC(PEER) });
  });

  test('probes (sender 0.0.0.0, DAD from ::) are answered but name no host to remember', () => {
    const st = state([{ ip: '192.0.2.10' }, { ip: '2001:db8::10' }]);
    const arp = respond(arpProbeFrame(PEER, ip('192.0.2.10')), st);
    expect(arp.kind).toBe('reply');
    expect(askerOf(arp)).toBeUndefined();
    const dad = respond(dadProbeFrame(PEER, ip('2001:db8::10')), st);
    expect(dad.kind).toBe('reply');
    expect(askerOf(dad)).toBeUndefined();
  });

  test('a watched VIP is not answered, the asker is still named', () => {
    const st = state([{ ip: '192.0.2.10', mac: NODE, mode: 'watch' }, { ip: '2001:db8::10', mac: NODE, mode: 'watch' }]);
    const a = respond(arpRequestFrame(PEER, ip('192.0.2.2'), ip('192.0.2.10')), st);
    expect(a).toMatchObject({ kind: 'ignored', reason: 'standby', vip: '192.0.2.10' });
    expect(askerOf(a)).toEqual({ ip: '192.0.2.2', mac: formatMAC(PEER) });
    const n = respond(nsRequestFrame(PEER, ip('2001:db8::2'), ip('2001:db8::10')), st);
    expect(n).toMatchObject({ kind: 'ignored', reason: 'standby', vip: '2001:db8::10' });
    expect(askerOf(n)).toEqual({ ip: '2001:db8::2', mac: formatMAC(PEER) });
  });

  test('a watched VIP announced by the leader with another MAC is not a conflict (announce: self)', () => {
    const st = state([{ ip: '192.0.2.10', mode: 'watch' }, { ip: '2001:db8::10', mode: 'watch' }]);
    const [garp] = gratuitousArpFrames(PEER, PEER, ip('192.0.2.10'));
    expect(respond(garp, st).kind).toBe('ignored');
    const na = naFrame(BROADCAST_MAC, PEER, { src: ip('2001:db8::10'), dst: ip('ff02::1'), target: ip('2001:db8::10'), targetLLA: PEER, solicited: false, override: true });
    expect(respond(na, st).kind).toBe('ignored');
  });
});
