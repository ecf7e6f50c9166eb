/**
 * ARP against frames captured from the Linux kernel (and iputils arping) by fixtures/capture.sh:
 * A = 00:00:5e:00:53:01 / 192.0.2.1, B = 00:00:5e:00:53:02 / 192.0.2.2 (B2 = ...:12 after its MAC change).
 */
import { describe, expect, test } from 'bun:test';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { BROADCAST_MAC, type MAC, ZERO_MAC, formatMAC, parseMAC } from '../../src/net/mac.ts';
import {
  ARP_REPLY,
  ARP_REQUEST,
  type ArpPacket,
  arpConfirmFrame,
  arpFrame,
  arpProbeFrame,
  arpReplyFrame,
  arpRequestFrame,
  decodeArp,
  encodeArp,
  gratuitousArpFrames,
  isArpProbe,
  isGratuitousArp,
} from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, decodeEthernet, encodeEthernet } from '../../src/wire/ethernet.ts';
import { type FixtureName, fixture, toHex } from './fixtures/fixtures.ts';

const A = parseMAC('00:00:5e:00:53:01')!;
const B = parseMAC('00:00:5e:00:53:02')!;
const B2 = parseMAC('00:00:5e:00:53:12')!;
const ip = (t: string): IP => parseIP(t)!;

/** Decodes a captured ARP frame, failing the test if the frame is not valid ARP. */
function arpOf(frame: Uint8Array): { dst: Uint8Array; src: Uint8Array; arp: ArpPacket } {
  const eth = decodeEthernet(frame);
  if (!eth.ok) throw new Error(`ethernet: ${eth.reason}`);
  expect(eth.value.etherType).toBe(ETHERTYPE_ARP);
  const arp = decodeArp(eth.value.payload);
  if (!arp.ok) throw new Error(`arp: ${arp.reason}`);
  return { dst: eth.value.dst, src: eth.value.src, arp: arp.value };
}

interface Want {
  ethDst: string;
  ethSrc: string;
  op: 1 | 2;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
  probe: boolean;
  gratuitous: boolean;
}

const KERNEL_FRAMES: [FixtureName, Want][] = [
  ['arp-request-kernel', { ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:00:5e:00:53:01', op: 1, sha: '00:00:5e:00:53:01', spa: '192.0.2.1', tha: '00:00:00:00:00:00', tpa: '192.0.2.2', probe: false, gratuitous: false }],
  ['arp-reply-kernel', { ethDst: '00:00:5e:00:53:01', ethSrc: '00:00:5e:00:53:02', op: 2, sha: '00:00:5e:00:53:02', spa: '192.0.2.2', tha: '00:00:5e:00:53:01', tpa: '192.0.2.1', probe: false, gratuitous: false }],
  ['arp-request-unicast-kernel', { ethDst: '00:00:5e:00:53:02', ethSrc: '00:00:5e:00:53:01', op: 1, sha: '00:00:5e:00:53:01', spa: '192.0.2.1', tha: '00:00:00:00:00:00', tpa: '192.0.2.2', probe: false, gratuitous: false }],
  ['arp-gratuitous-request-arping', { ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:00:5e:00:53:01', op: 1, sha: '00:00:5e:00:53:01', spa: '192.0.2.1', tha: 'ff:ff:ff:ff:ff:ff', tpa: '192.0.2.1', probe: false, gratuitous: true }],
  ['arp-gratuitous-reply-arping', { ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:00:5e:00:53:01', op: 2, sha: '00:00:5e:00:53:01', spa: '192.0.2.1', tha: '00:00:5e:00:53:01', tpa: '192.0.2.1', probe: false, gratuitous: true }],
  ['arp-probe-arping', { ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:00:5e:00:53:01', op: 1, sha: '00:00:5e:00:53:01', spa: '0.0.0.0', tha: 'ff:ff:ff:ff:ff:ff', tpa: '192.0.2.2', probe: true, gratuitous: false }],
  ['arp-probe-reply-kernel', { ethDst: '00:00:5e:00:53:01', ethSrc: '00:00:5e:00:53:02', op: 2, sha: '00:00:5e:00:53:02', spa: '192.0.2.2', tha: '00:00:5e:00:53:01', tpa: '0.0.0.0', probe: false, gratuitous: false }],
  ['arp-gratuitous-kernel', { ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:00:5e:00:53:12', op: 1, sha: '00:00:5e:00:53:12', spa: '192.0.2.2', tha: '00:00:00:00:00:00', tpa: '192.0.2.2', probe: false, gratuitous: true }],
];

describe('captured frames', () => {
  test.each(KERNEL_FRAMES)('%s decodes to the captured fields', (name, want) => {
    const frame = fixture(name);
    expect(frame.length).toBe(42); // veth does not pad: 14 + 28
    const { dst, src, arp } = arpOf(frame);
    expect({
      ethDst: formatMAC(dst),
      ethSrc: formatMAC(src),
      op: arp.op,
      sha: formatMAC(arp.senderMAC),
      spa: formatIP(arp.senderIP),
      tha: formatMAC(arp.targetMAC),
      tpa: formatIP(arp.targetIP),
      probe: isArpProbe(arp),
      gratuitous: isGratuitousArp(arp),
    }).toEqual(want);
  });

  test.each(KERNEL_FRAMES.map(([n]) => n))('%s re-encodes to the identical bytes', (name) => {
    const frame = fixture(name);
    const { dst, src, arp } = arpOf(frame);
    expect(toHex(encodeEthernet(dst, src, ETHERTYPE_ARP, encodeArp(arp)))).toBe(toHex(frame));
    expect(toHex(arpFrame(dst, src, arp))).toBe(toHex(frame));
  });

  test('Ethernet padding after the 28 bytes is ignored', () => {
    const frame = fixture('arp-request-kernel');
    const padded = new Uint8Array(60).fill(0xaa); // what a NIC pads to, with non-zero junk
    padded.set(frame);
    const { arp } = arpOf(padded);
    expect(toHex(encodeArp(arp))).toBe(toHex(frame.subarray(14)));
  });

  test('decoded MACs are views into the frame, not copies', () => {
    const frame = fixture('arp-reply-kernel');
    const { arp } = arpOf(frame);
    frame[14 + 8] = 0x42;
    expect(arp.senderMAC[0]).toBe(0x42);
  });
});

describe('our frames against the kernel', () => {
  test('arpReplyFrame answers the kernel request exactly as the kernel did', () => {
    const { arp: request } = arpOf(fixture('arp-request-kernel'));
    expect(toHex(arpReplyFrame(B, request, B))).toBe(toHex(fixture('arp-reply-kernel')));
  });

  test('arpConfirmFrame, unasked, is the kernel reply to that host, byte for byte', () => {
    const { arp: request } = arpOf(fixture('arp-request-kernel'));
    expect(toHex(arpConfirmFrame(B, B, request.targetIP, request.senderMAC, request.senderIP))).toBe(toHex(fixture('arp-reply-kernel')));
  });

  test('arpReplyFrame answers a probe as the kernel did: target IP 0.0.0.0, to the prober', () => {
    const { arp: probe } = arpOf(fixture('arp-probe-arping'));
    expect(toHex(arpReplyFrame(B, probe, B))).toBe(toHex(fixture('arp-probe-reply-kernel')));
  });

  test('arpRequestFrame is the kernel request, broadcast and unicast', () => {
    expect(toHex(arpRequestFrame(A, ip('192.0.2.1'), ip('192.0.2.2')))).toBe(toHex(fixture('arp-request-kernel')));
    expect(toHex(arpRequestFrame(A, ip('192.0.2.1'), ip('192.0.2.2'), B))).toBe(toHex(fixture('arp-request-unicast-kernel')));
  });

  test('gratuitousArpFrames request form is what the kernel sends with arp_notify', () => {
    const [request] = gratuitousArpFrames(B2, B2, ip('192.0.2.2'));
    expect(toHex(request)).toBe(toHex(fixture('arp-gratuitous-kernel')));
  });

  test('gratuitousArpFrames reply form matches arping -A except the target MAC (broadcast, not own)', () => {
    const [, reply] = gratuitousArpFrames(A, A, ip('192.0.2.1'));
    const arping = fixture('arp-gratuitous-reply-arping');
    arping.set(BROADCAST_MAC, 14 + 18);
    expect(toHex(reply)).toBe(toHex(arping));
  });

  test('arpProbeFrame matches arping -D except the target MAC (zero per RFC 5227, arping puts broadcast)', () => {
    const arping = fixture('arp-probe-arping');
    arping.set(ZERO_MAC, 14 + 18);
    expect(toHex(arpProbeFrame(A, ip('192.0.2.2')))).toBe(toHex(arping));
  });
});

describe('frames for another host', () => {
  const ours: MAC = parseMAC('02:00:00:00:00:aa')!;
  const node: MAC = parseMAC('02:00:00:00:00:bb')!;
  const requester: MAC = parseMAC('02:00:00:00:00:cc')!;

  test('arpReplyFrame: Ethernet source is our NIC, the node MAC only inside ARP', () => {
    const request: ArpPacket = { op: ARP_REQUEST, senderMAC: requester, senderIP: ip('192.0.2.50'), targetMAC: ZERO_MAC, targetIP: ip('192.0.2.100') };
    const { dst, src, arp } = arpOf(arpReplyFrame(ours, request, node));
    expect(formatMAC(dst)).toBe('02:00:00:00:00:cc');
    expect(formatMAC(src)).toBe('02:00:00:00:00:aa');
    expect(arp.op).toBe(ARP_REPLY);
    expect(formatMAC(arp.senderMAC)).toBe('02:00:00:00:00:bb');
    expect(formatIP(arp.senderIP)).toBe('192.0.2.100');
    expect(formatMAC(arp.targetMAC)).toBe('02:00:00:00:00:cc');
    expect(formatIP(arp.targetIP)).toBe('192.0.2.50');
  });

  test('gratuitousArpFrames: both forms broadcast from our NIC, announcing the node', () => {
    const [req, rep] = gratuitousArpFrames(ours, node, ip('192.0.2.100')).map(arpOf);
    for (const f of [req!, rep!]) {
      expect(formatMAC(f.dst)).toBe('ff:ff:ff:ff:ff:ff');
      expect(formatMAC(f.src)).toBe('02:00:00:00:00:aa');
      expect(formatMAC(f.arp.senderMAC)).toBe('02:00:00:00:00:bb');
      expect(formatIP(f.arp.senderIP)).toBe('192.0.2.100');
      expect(formatIP(f.arp.targetIP)).toBe('192.0.2.100');
      expect(isGratuitousArp(f.arp)).toBe(true);
      expect(isArpProbe(f.arp)).toBe(false);
    }
    expect([req!.arp.op, formatMAC(req!.arp.targetMAC)]).toEqual([1, '00:00:00:00:00:00']);
    expect([rep!.arp.op, formatMAC(rep!.arp.targetMAC)]).toEqual([2, 'ff:ff:ff:ff:ff:ff']);
  });

  test('arpProbeFrame: broadcast request from 0.0.0.0', () => {
    const { dst, arp } = arpOf(arpProbeFrame(ours, ip('192.0.2.100')));
    expect(formatMAC(dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(isArpProbe(arp)).toBe(true);
    expect(isGratuitousArp(arp)).toBe(false);
    expect(formatMAC(arp.senderMAC)).toBe('02:00:00:00:00:aa');
    expect(formatMAC(arp.targetMAC)).toBe('00:00:00:00:00:00');
  });

  test('a reply from 0.0.0.0 is not a probe, and 0.0.0.0 asking for 0.0.0.0 is not gratuitous', () => {
    const base: ArpPacket = { op: ARP_REPLY, senderMAC: node, senderIP: ip('0.0.0.0'), targetMAC: ZERO_MAC, targetIP: ip('0.0.0.0') };
    expect(isArpProbe(base)).toBe(false);
    expect(isGratuitousArp({ ...base, op: ARP_REQUEST })).toBe(false);
    expect(isArpProbe({ ...base, op: ARP_REQUEST })).toBe(true);
  });

  test('encoders refuse malformed input instead of writing a broken packet', () => {
    const p: ArpPacket = { op: ARP_REQUEST, senderMAC: ours, senderIP: ip('192.0.2.1'), targetMAC: ZERO_MAC, targetIP: ip('192.0.2.2') };
    expect(() => encodeArp({ ...p, senderMAC: new Uint8Array(5) })).toThrow(RangeError);
    expect(() => encodeArp({ ...p, targetIP: ip('2001:db8::1') })).toThrow(RangeError);
    expect(() => arpFrame(new Uint8Array(4), ours, p)).toThrow(RangeError);
  });
});
