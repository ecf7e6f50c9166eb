/**
 * Every drop reason, produced by a frame that fails exactly that check: mostly a captured kernel frame
 * with one field changed (and the checksum repaired when the check under test comes after it).
 */
import { describe, expect, test } from 'bun:test';
import { parseIP, solicitedNodeAddress } from '../../src/net/ip.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { DROP_REASONS, type DropReason } from '../../src/wire/decoded.ts';
import { dadProbeFrame, naFrame } from '../../src/wire/ndp.ts';
import { decodeFrame, drop, fixChecksum, fixture } from './fixtures/fixtures.ts';

const IP6 = 14; // IPv6 header offset in a frame
const ICMP = IP6 + 40;

/** `frame` with bytes at `offset` replaced. */
function patch(frame: Uint8Array, offset: number, bytes: number[]): Uint8Array {
  frame.set(bytes, offset);
  return frame;
}
/** `frame` with `bytes` appended and the IPv6 payload length grown to match. */
function appendOption(frame: Uint8Array, bytes: number[]): Uint8Array {
  const out = new Uint8Array(frame.length + bytes.length);
  out.set(frame);
  out.set(bytes, frame.length);
  const len = out.length - ICMP;
  return patch(out, IP6 + 4, [len >>> 8, len & 0xff]);
}
const arp = () => fixture('arp-request-kernel');
const ns = () => fixture('ns-multicast-kernel');
const na = () => fixture('na-solicited-kernel');
const mac = parseMAC('02:00:00:00:00:aa')!;

const CASES: [DropReason, string, () => Uint8Array][] = [
  ['eth-too-short', '13 bytes', () => arp().subarray(0, 13)],
  ['eth-too-short', 'empty', () => new Uint8Array(0)],
  ['eth-vlan', '802.1Q tag', () => patch(arp(), 12, [0x81, 0x00])],
  ['eth-vlan', '802.1ad tag', () => patch(arp(), 12, [0x88, 0xa8])],
  ['eth-unsupported-type', 'IPv4', () => patch(arp(), 12, [0x08, 0x00])],
  ['eth-unsupported-type', '802.3 length field', () => patch(arp(), 12, [0x00, 0x1c])],
  ['arp-too-short', '27 bytes of ARP', () => arp().subarray(0, 14 + 27)],
  ['arp-too-short', 'header only', () => arp().subarray(0, 14)],
  ['arp-bad-hardware-type', 'htype 6 (IEEE 802)', () => patch(arp(), 14, [0, 6])],
  ['arp-bad-protocol-type', 'ptype IPv6', () => patch(arp(), 16, [0x86, 0xdd])],
  ['arp-bad-lengths', 'hlen 8', () => patch(arp(), 18, [8])],
  ['arp-bad-lengths', 'plen 16', () => patch(arp(), 19, [16])],
  ['arp-bad-op', 'op 3 (RARP)', () => patch(arp(), 20, [0, 3])],
  ['arp-bad-op', 'op 0x0101', () => patch(arp(), 20, [1, 1])],
  ['ipv6-too-short', '39 bytes of IPv6', () => ns().subarray(0, IP6 + 39)],
  ['ipv6-bad-version', 'version 4', () => patch(ns(), IP6, [0x45])],
  ['ipv6-bad-length', 'payload length one past the frame', () => patch(ns(), IP6 + 4, [0, 33])],
  ['ipv6-bad-length', 'jumbo payload length', () => patch(ns(), IP6 + 4, [0xff, 0xff])],
  ['ipv6-not-icmpv6', 'hop-by-hop extension header', () => patch(ns(), IP6 + 6, [0])],
  ['ipv6-not-icmpv6', 'UDP', () => patch(ns(), IP6 + 6, [17])],
  ['icmpv6-too-short', 'payload length 3', () => patch(ns(), IP6 + 4, [0, 3])],
  ['icmpv6-too-short', 'payload length 0', () => patch(ns(), IP6 + 4, [0, 0])],
  ['icmpv6-bad-checksum', 'checksum byte flipped', () => patch(ns(), ICMP + 2, [ns()[ICMP + 2]! ^ 0x01])],
  ['icmpv6-bad-checksum', 'target changed, checksum not', () => patch(na(), ICMP + 23, [9])],
  ['icmpv6-bad-checksum', 'checksum zeroed', () => patch(na(), ICMP + 2, [0, 0])],
  ['icmpv6-not-ndp', 'echo request', () => fixChecksum(patch(ns(), ICMP, [128]))],
  ['icmpv6-not-ndp', 'router solicitation', () => fixChecksum(patch(ns(), ICMP, [133]))],
  ['icmpv6-not-ndp', 'redirect', () => fixChecksum(patch(ns(), ICMP, [137]))],
  ['ndp-too-short', 'NS of 20 bytes', () => fixChecksum(patch(ns(), IP6 + 4, [0, 20]))],
  ['ndp-bad-code', 'code 1', () => fixChecksum(patch(ns(), ICMP + 1, [1]))],
  ['ndp-bad-hop-limit', 'hop limit 64 (routed)', () => patch(ns(), IP6 + 7, [64])],
  ['ndp-bad-hop-limit', 'hop limit 254', () => patch(na(), IP6 + 7, [254])],
  ['ndp-bad-target', 'NS for ff02::1', () => fixChecksum(patch(ns(), ICMP + 8, [0xff, 0x02]))],
  ['ndp-bad-target', 'NA for ff02::1', () => fixChecksum(patch(na(), ICMP + 8, [0xff, 0x02]))],
  ['ndp-bad-option', 'option length 0', () => fixChecksum(patch(ns(), ICMP + 25, [0]))],
  ['ndp-bad-option', 'option runs past the end', () => fixChecksum(patch(ns(), ICMP + 25, [2]))],
  ['ndp-bad-option', 'a lone trailing byte', () => fixChecksum(appendOption(ns(), [1]))],
  ['ndp-bad-lla-option', 'source link-layer option of 16 bytes', () => fixChecksum(appendOption(patch(ns(), ICMP + 25, [2]), [0, 0, 0, 0, 0, 0, 0, 0]))],
  ['ndp-bad-lla-option', 'target link-layer option of 16 bytes', () => fixChecksum(appendOption(patch(na(), ICMP + 25, [2]), [0, 0, 0, 0, 0, 0, 0, 0]))],
  ['ndp-dad-with-source-lla', 'DAD probe with a source link-layer option', () => fixChecksum(appendOption(dadProbeFrame(mac, parseIP('2001:db8::3')!), [1, 1, 2, 0, 0, 0, 0, 0xaa]))],
  ['ndp-bad-destination', 'DAD probe to ff02::1', () => fixChecksum(patch(dadProbeFrame(mac, parseIP('2001:db8::3')!), IP6 + 24 + 11, [0, 0, 0, 0, 1]))],
  ['ndp-bad-destination', 'DAD probe to the target itself', () => {
    const f = dadProbeFrame(mac, parseIP('2001:db8::3')!);
    return fixChecksum(patch(f, IP6 + 24, [...f.subarray(ICMP + 8, ICMP + 24)]));
  }],
  ['ndp-solicited-to-multicast', 'solicited NA to ff02::1', () => naFrame(mac, mac, { src: parseIP('2001:db8::2')!, dst: parseIP('ff02::1')!, target: parseIP('2001:db8::2')!, solicited: true, override: true })],
  ['ndp-solicited-to-multicast', 'solicited NA to a solicited-node group', () => naFrame(mac, mac, { src: parseIP('2001:db8::2')!, dst: solicitedNodeAddress(parseIP('2001:db8::2')!), target: parseIP('2001:db8::2')!, solicited: true, override: false })],
];

describe('drop reasons', () => {
  test.each(CASES)('%s: %s', (reason, _what, build) => {
    const result = decodeFrame(build());
    expect(result).toEqual({ ok: false, kind: 'drop', reason });
    expect(result).toBe(drop(reason)); // the shared object: dropping allocates nothing
  });

  test('every reason in DROP_REASONS has a frame above, and each is listed once', () => {
    expect(new Set(CASES.map(([r]) => r))).toEqual(new Set(DROP_REASONS));
    expect(new Set(DROP_REASONS).size).toBe(DROP_REASONS.length);
    for (const r of DROP_REASONS) expect(r).toMatch(/^(eth|arp|ipv6|icmpv6|ndp)-[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  test('the unchanged frames decode (so each case above fails only by its change)', () => {
    for (const f of [arp(), ns(), na(), dadProbeFrame(mac, parseIP('2001:db8::3')!)]) expect(decodeFrame(f).ok).toBe(true);
  });
});
