/**
 * NDP against frames captured from the Linux kernel (and ndisc6) by fixtures/capture.sh:
 * A = 00:00:5e:00:53:01 / 2001:db8::1 / fe80::200:5eff:fe00:5301, B = 00:00:5e:00:53:02 / 2001:db8::2
 * (and 2001:db8::3 added with DAD), B2 = 00:00:5e:00:53:12 (B after its MAC change).
 */
import { describe, expect, test } from 'bun:test';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { type MAC, formatMAC, parseMAC } from '../../src/net/mac.ts';
import { ETHERTYPE_IPV6, decodeEthernet, encodeEthernet } from '../../src/wire/ethernet.ts';
import {
  type NdpMessage,
  type NeighborAdvertisement,
  type NeighborSolicitation,
  dadProbeFrame,
  decodeNdp,
  encodeNA,
  encodeNS,
  icmpv6Checksum,
  naConfirmFrame,
  naFrame,
  naReplyFrame,
  nsFrame,
  nsRequestFrame,
  unsolicitedNAFrame,
} from '../../src/wire/ndp.ts';
import { type FixtureName, fixChecksum, fixture, toHex } from './fixtures/fixtures.ts';

const A = parseMAC('00:00:5e:00:53:01')!;
const B = parseMAC('00:00:5e:00:53:02')!;
const B2 = parseMAC('00:00:5e:00:53:12')!;
const ip = (t: string): IP => parseIP(t)!;
const A_LL = ip('fe80::200:5eff:fe00:5301');

function ndpOf(frame: Uint8Array): { dst: Uint8Array; src: Uint8Array; m: NdpMessage } {
  const eth = decodeEthernet(frame);
  if (!eth.ok) throw new Error(`ethernet: ${eth.reason}`);
  expect(eth.value.etherType).toBe(ETHERTYPE_IPV6);
  const m = decodeNdp(eth.value.payload);
  if (!m.ok) throw new Error(`ndp: ${m.reason}`);
  return { dst: eth.value.dst, src: eth.value.src, m: m.value };
}
const nsOf = (frame: Uint8Array) => {
  const r = ndpOf(frame);
  if (r.m.type !== 135) throw new Error('not an NS');
  return { ...r, m: r.m };
};
const naOf = (frame: Uint8Array) => {
  const r = ndpOf(frame);
  if (r.m.type !== 136) throw new Error('not an NA');
  return { ...r, m: r.m };
};

/** The fields a reader of a capture would check, as text. */
function summary(frame: Uint8Array): Record<string, unknown> {
  const { dst, src, m } = ndpOf(frame);
  const common = { ethDst: formatMAC(dst), ethSrc: formatMAC(src), type: m.type, src: formatIP(m.src), dst: formatIP(m.dst), hopLimit: m.hopLimit, target: formatIP(m.target) };
  if (m.type === 135) return { ...common, sourceLLA: m.sourceLLA && formatMAC(m.sourceLLA), nonce: m.nonce && toHex(m.nonce) };
  return { ...common, router: m.router, solicited: m.solicited, override: m.override, targetLLA: m.targetLLA && formatMAC(m.targetLLA) };
}

const CAPTURED: [FixtureName, Record<string, unknown>][] = [
  ['ns-multicast-kernel', { ethDst: '33:33:ff:00:00:02', ethSrc: '00:00:5e:00:53:01', type: 135, src: '2001:db8::1', dst: 'ff02::1:ff00:2', hopLimit: 255, target: '2001:db8::2', sourceLLA: '00:00:5e:00:53:01', nonce: undefined }],
  ['na-solicited-kernel', { ethDst: '00:00:5e:00:53:01', ethSrc: '00:00:5e:00:53:02', type: 136, src: '2001:db8::2', dst: '2001:db8::1', hopLimit: 255, target: '2001:db8::2', router: false, solicited: true, override: true, targetLLA: '00:00:5e:00:53:02' }],
  // The kernel's PROBE-state NS comes from its link-local address: the packet that triggered it is gone.
  ['ns-unicast-kernel', { ethDst: '00:00:5e:00:53:02', ethSrc: '00:00:5e:00:53:01', type: 135, src: 'fe80::200:5eff:fe00:5301', dst: '2001:db8::2', hopLimit: 255, target: '2001:db8::2', sourceLLA: '00:00:5e:00:53:01', nonce: undefined }],
  // Linux answers a unicast NS without Override and without the target link-layer option.
  ['na-solicited-unicast-kernel', { ethDst: '00:00:5e:00:53:01', ethSrc: '00:00:5e:00:53:02', type: 136, src: '2001:db8::2', dst: 'fe80::200:5eff:fe00:5301', hopLimit: 255, target: '2001:db8::2', router: false, solicited: true, override: false, targetLLA: undefined }],
  ['ns-ndisc6', { ethDst: '33:33:ff:00:00:02', ethSrc: '00:00:5e:00:53:01', type: 135, src: 'fe80::200:5eff:fe00:5301', dst: 'ff02::1:ff00:2', hopLimit: 255, target: '2001:db8::2', sourceLLA: '00:00:5e:00:53:01', nonce: undefined }],
  ['na-solicited-ndisc6-kernel', { ethDst: '00:00:5e:00:53:01', ethSrc: '00:00:5e:00:53:02', type: 136, src: '2001:db8::2', dst: 'fe80::200:5eff:fe00:5301', hopLimit: 255, target: '2001:db8::2', router: false, solicited: true, override: true, targetLLA: '00:00:5e:00:53:02' }],
  ['ns-dad-kernel', { ethDst: '33:33:ff:00:00:03', ethSrc: '00:00:5e:00:53:02', type: 135, src: '::', dst: 'ff02::1:ff00:3', hopLimit: 255, target: '2001:db8::3', sourceLLA: undefined, nonce: toHex(fixture('ns-dad-kernel').subarray(-6)) }],
  ['na-unsolicited-dad-kernel', { ethDst: '33:33:00:00:00:01', ethSrc: '00:00:5e:00:53:02', type: 136, src: '2001:db8::3', dst: 'ff02::1', hopLimit: 255, target: '2001:db8::3', router: false, solicited: false, override: true, targetLLA: '00:00:5e:00:53:02' }],
  ['na-unsolicited-kernel', { ethDst: '33:33:00:00:00:01', ethSrc: '00:00:5e:00:53:12', type: 136, src: '2001:db8::2', dst: 'ff02::1', hopLimit: 255, target: '2001:db8::2', router: false, solicited: false, override: true, targetLLA: '00:00:5e:00:53:12' }],
];

/** Re-encodes a decoded frame with our encoders. */
function reencode(frame: Uint8Array): Uint8Array {
  const { dst, src, m } = ndpOf(frame);
  if (m.type === 135) return nsFrame(dst, src, { src: m.src, dst: m.dst, target: m.target, sourceLLA: m.sourceLLA, nonce: m.nonce });
  return naFrame(dst, src, m);
}

describe('captured frames', () => {
  test.each(CAPTURED)('%s decodes to the captured fields', (name, want) => {
    expect(summary(fixture(name))).toEqual(want);
  });

  // Every frame the kernel built: identical bytes, checksum included. (ns-ndisc6 left ndisc6's raw socket
  // with the kernel's automatic flow label, which our encoder never sets; it has its own test below.)
  test.each(CAPTURED.map(([n]) => n).filter((n) => n !== 'ns-ndisc6'))('%s re-encodes to the identical bytes', (name) => {
    const frame = fixture(name);
    expect(toHex(reencode(frame))).toBe(toHex(frame));
    const { dst, src, m } = ndpOf(frame);
    const packet = m.type === 135 ? encodeNS(m) : encodeNA(m);
    expect(toHex(encodeEthernet(dst, src, ETHERTYPE_IPV6, packet))).toBe(toHex(frame));
  });

  test('ns-ndisc6 carries a flow label; with it zeroed our encoding is identical', () => {
    const frame = fixture('ns-ndisc6');
    const flow = ((frame[15]! & 0x0f) << 16) | (frame[16]! << 8) | frame[17]!;
    expect(flow).not.toBe(0);
    frame[15]! &= 0xf0;
    frame[16] = 0;
    frame[17] = 0;
    expect(toHex(reencode(frame))).toBe(toHex(fixChecksum(frame)));
  });

  test.each(CAPTURED.map(([n]) => n))('%s: icmpv6Checksum equals the captured checksum', (name) => {
    const frame = fixture(name);
    const { m } = ndpOf(frame);
    const icmp = frame.slice(14 + 40);
    const captured = (icmp[2]! << 8) | icmp[3]!;
    expect(icmpv6Checksum(m.src, m.dst, icmp)).toBe(0); // a correct message sums to zero
    icmp[2] = 0;
    icmp[3] = 0;
    expect(icmpv6Checksum(m.src, m.dst, icmp)).toBe(captured);
  });

  test('Ethernet padding after the payload length is ignored', () => {
    const frame = fixture('na-solicited-unicast-kernel'); // 78 bytes; pad as a NIC would, with junk
    const padded = new Uint8Array(frame.length + 10).fill(0x5a);
    padded.set(frame);
    expect(summary(padded)).toEqual(summary(frame));
  });

  test('decoded link-layer addresses are views into the frame', () => {
    const frame = fixture('ns-multicast-kernel');
    const { m } = nsOf(frame);
    frame[frame.length - 1] = 0x99;
    expect(m.sourceLLA![5]).toBe(0x99);
  });
});

describe('our frames against the kernel', () => {
  test('nsRequestFrame is the kernel NS, multicast and unicast', () => {
    expect(toHex(nsRequestFrame(A, ip('2001:db8::1'), ip('2001:db8::2')))).toBe(toHex(fixture('ns-multicast-kernel')));
    expect(toHex(nsRequestFrame(A, A_LL, ip('2001:db8::2'), B))).toBe(toHex(fixture('ns-unicast-kernel')));
  });

  test('naReplyFrame answers the kernel NS exactly as the kernel did', () => {
    const ns = fixture('ns-multicast-kernel');
    const { src: nsEthSrc, m } = nsOf(ns);
    expect(toHex(naReplyFrame(B, m, nsEthSrc, B, ip('2001:db8::2')))).toBe(toHex(fixture('na-solicited-kernel')));
  });

  test('naConfirmFrame, unasked, is the kernel solicited NA to that host, byte for byte', () => {
    const { src: nsEthSrc, m } = nsOf(fixture('ns-multicast-kernel'));
    expect(toHex(naConfirmFrame(B, B, m.target, m.sourceLLA ?? nsEthSrc, m.src))).toBe(toHex(fixture('na-solicited-kernel')));
  });

  test("naReplyFrame answers ndisc6's NS exactly as the kernel did", () => {
    const { src: nsEthSrc, m } = nsOf(fixture('ns-ndisc6'));
    expect(toHex(naReplyFrame(B, m, nsEthSrc, B, ip('2001:db8::2')))).toBe(toHex(fixture('na-solicited-ndisc6-kernel')));
  });

  test('to a unicast NS Linux leaves out Override and the option; naReplyFrame always sets both', () => {
    const { src: nsEthSrc, m } = nsOf(fixture('ns-unicast-kernel'));
    const kernel = fixture('na-solicited-unicast-kernel');
    const ours = naOf(naReplyFrame(B, m, nsEthSrc, B, ip('2001:db8::2')));
    expect([ours.m.override, ours.m.solicited, formatMAC(ours.m.targetLLA!), formatIP(ours.m.dst)]).toEqual([true, true, '00:00:5e:00:53:02', 'fe80::200:5eff:fe00:5301']);
    // The same fields the kernel chose give the kernel's bytes.
    expect(toHex(naFrame(A, B, { src: ip('2001:db8::2'), dst: m.src, target: m.target, solicited: true, override: false }))).toBe(toHex(kernel));
  });

  test('dadProbeFrame is the kernel DAD probe (with its nonce)', () => {
    const kernel = fixture('ns-dad-kernel');
    const { m } = nsOf(kernel);
    expect(toHex(dadProbeFrame(B, ip('2001:db8::3'), m.nonce))).toBe(toHex(kernel));
    const plain = nsOf(dadProbeFrame(B, ip('2001:db8::3')));
    expect([plain.m.sourceLLA, plain.m.nonce, formatMAC(plain.dst), formatIP(plain.m.dst)]).toEqual([undefined, undefined, '33:33:ff:00:00:03', 'ff02::1:ff00:3']);
  });

  test('unsolicitedNAFrame is the kernel unsolicited NA (after DAD, and after a MAC change)', () => {
    expect(toHex(unsolicitedNAFrame(B, B, ip('2001:db8::3'), ip('2001:db8::3')))).toBe(toHex(fixture('na-unsolicited-dad-kernel')));
    expect(toHex(unsolicitedNAFrame(B2, B2, ip('2001:db8::2'), ip('2001:db8::2')))).toBe(toHex(fixture('na-unsolicited-kernel')));
  });
});

describe('frames for another host', () => {
  const ours: MAC = parseMAC('02:00:00:00:00:aa')!;
  const node: MAC = parseMAC('02:00:00:00:00:bb')!;
  const peer: MAC = parseMAC('02:00:00:00:00:cc')!;
  const vip = ip('2001:db8::100');
  const ourLL = ip('fe80::aa');

  test('naReplyFrame to a DAD probe goes to ff02::1 without Solicited', () => {
    const dad = nsOf(dadProbeFrame(peer, vip));
    expect(summary(naReplyFrame(ours, dad.m, dad.src, node, ourLL))).toEqual({
      ethDst: '33:33:00:00:00:01', ethSrc: '02:00:00:00:00:aa', type: 136, src: 'fe80::aa', dst: 'ff02::1', hopLimit: 255,
      target: '2001:db8::100', router: false, solicited: false, override: true, targetLLA: '02:00:00:00:00:bb',
    });
  });

  test('naReplyFrame goes to the source link-layer option when there is one, else to the frame source', () => {
    const withSLLA: NeighborSolicitation = { type: 135, src: ip('2001:db8::50'), dst: ip('ff02::1:ff00:100'), hopLimit: 255, target: vip, sourceLLA: peer };
    const other = parseMAC('02:00:00:00:00:dd')!;
    expect(formatMAC(naOf(naReplyFrame(ours, withSLLA, other, node, ourLL)).dst)).toBe('02:00:00:00:00:cc');
    const withoutSLLA: NeighborSolicitation = { ...withSLLA, sourceLLA: undefined };
    const r = naOf(naReplyFrame(ours, withoutSLLA, other, node, ourLL));
    expect(formatMAC(r.dst)).toBe('02:00:00:00:00:dd');
    expect(formatMAC(r.src)).toBe('02:00:00:00:00:aa');
    expect(formatMAC(r.m.targetLLA!)).toBe('02:00:00:00:00:bb');
    expect([formatIP(r.m.dst), r.m.solicited, r.m.override]).toEqual(['2001:db8::50', true, true]);
  });

  test('unsolicitedNAFrame: from our NIC, announcing the node', () => {
    expect(summary(unsolicitedNAFrame(ours, node, ourLL, vip))).toEqual({
      ethDst: '33:33:00:00:00:01', ethSrc: '02:00:00:00:00:aa', type: 136, src: 'fe80::aa', dst: 'ff02::1', hopLimit: 255,
      target: '2001:db8::100', router: false, solicited: false, override: true, targetLLA: '02:00:00:00:00:bb',
    });
  });

  test('encodeNA sets the Router flag when asked', () => {
    const na: NeighborAdvertisement = naOf(naFrame(peer, ours, { src: ourLL, dst: ip('2001:db8::50'), target: vip, router: true, solicited: true, override: false })).m;
    expect([na.router, na.solicited, na.override, na.targetLLA]).toEqual([true, true, false, undefined]);
  });

  test('encoders refuse malformed input instead of writing a broken packet', () => {
    expect(() => encodeNS({ src: ip('192.0.2.1'), dst: vip, target: vip })).toThrow(RangeError);
    expect(() => encodeNA({ src: ourLL, dst: vip, target: vip, targetLLA: new Uint8Array(8), solicited: true, override: true })).toThrow(RangeError);
    expect(() => encodeNS({ src: ourLL, dst: vip, target: vip, nonce: new Uint8Array(5) })).toThrow(RangeError);
    expect(() => dadProbeFrame(ours, ip('192.0.2.1'))).toThrow(RangeError);
  });
});

describe('options', () => {
  /** The kernel NS with `extra` option bytes appended (payload length and checksum fixed up). */
  function withOption(extra: number[]): Uint8Array {
    const base = fixture('ns-multicast-kernel');
    const frame = new Uint8Array(base.length + extra.length);
    frame.set(base);
    frame.set(extra, base.length);
    const len = frame.length - 54;
    frame[18] = len >>> 8;
    frame[19] = len & 0xff;
    return fixChecksum(frame);
  }

  test('unknown options are skipped', () => {
    const m = nsOf(withOption([99, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])).m;
    expect(formatMAC(m.sourceLLA!)).toBe('00:00:5e:00:53:01');
  });

  test('a second source link-layer option is ignored: the first counts, as in Linux', () => {
    const m = nsOf(withOption([1, 1, 2, 0, 0, 0, 0, 9])).m;
    expect(formatMAC(m.sourceLLA!)).toBe('00:00:5e:00:53:01');
  });

  test('a target link-layer option in an NS is not taken as the source', () => {
    const dad = dadProbeFrame(B, ip('2001:db8::3'));
    const frame = new Uint8Array(dad.length + 8);
    frame.set(dad);
    frame.set([2, 1, 2, 0, 0, 0, 0, 9], dad.length);
    frame[19] = frame.length - 54;
    expect(nsOf(fixChecksum(frame)).m.sourceLLA).toBeUndefined();
  });
});
