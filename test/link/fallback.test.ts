/**
 * Optional socket options and their fallbacks (README "Older kernels and emulators"): the filter that drops
 * our own outgoing frames when PACKET_IGNORE_OUTGOING is missing, checked instruction by instruction and on
 * a veth pair, and what each other optional option does without the kernel's support. The test hook
 * (`unavailable`) makes this kernel refuse them the way Linux < 4.20 or qemu-user does.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { libc, type Libc } from '../../src/runtime/ffi.ts';
import { ARP_NDP_PROGRAM, CONTROL_PROGRAM, DROP_OUTGOING, EthProto, OPTIONAL_SOCKET_OPTIONS, type PacketSocket, REQUEST_PROGRAM, dropOutgoing, packProgram } from '../../src/link/packet.ts';
import { MISSING_OPTIONS_ENV, missingSocketOptions } from '../../src/link/receiver.ts';
import { addAddress, createPair, requireRoot, sh, type Pair } from '../support/netns.ts';
import { arp, inspectFrame, ip4, ip6, mac, solicitedNodeMac, udp4 } from './frames.ts';
import { collectUntil, openIn } from './helpers.ts';
import { PktType, filterArp as arpOp, filterFrame as frame, filterIcmp6 as icmp6, runBpf, wellFormed } from './bpf.ts';

const BCAST = mac('ff:ff:ff:ff:ff:ff');
const ZERO = mac('00:00:00:00:00:00');

describe('the filter that drops outgoing frames (PACKET_IGNORE_OUTGOING missing)', () => {
  const frames: [string, Uint8Array][] = [
    ['arp-request', arpOp(1)], ['arp-reply', arpOp(2)], ['ns', icmp6(135)], ['na', icmp6(136)], ['rs', icmp6(133)],
    ['heartbeat', frame(0x88b5, () => {})], ['ipv4', frame(0x0800, () => {})], ['runt-arp', arpOp(1).subarray(0, 20)],
  ];
  const incoming = [PktType.HOST, PktType.BROADCAST, PktType.MULTICAST, PktType.OTHERHOST];
  const programs = [['arp-ndp', ARP_NDP_PROGRAM], ['control', CONTROL_PROGRAM], ['requests', REQUEST_PROGRAM], ['none', undefined]] as const;

  test('is ld [SKF_AD_OFF + SKF_AD_PKTTYPE]; jeq #PACKET_OUTGOING (4) -> ret #0, in front of the program', () => {
    expect(Array.from(packProgram(DROP_OUTGOING))).toEqual([
      // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, little-endian
      0x20, 0, 0, 0, 0x04, 0xf0, 0xff, 0xff, // ld [0xfffff004]
      0x15, 0, 0, 1, 4, 0, 0, 0, // jeq #4, jt 0 (the ret #0), jf 1 (past it)
      0x06, 0, 0, 0, 0, 0, 0, 0, // ret #0
    ]);
    expect(dropOutgoing(ARP_NDP_PROGRAM)).toEqual([...DROP_OUTGOING, ...ARP_NDP_PROGRAM]);
    expect(dropOutgoing()).toEqual([...DROP_OUTGOING, [0x06, 0, 0, 0x40000]]);
    for (const [, p] of programs) expect(wellFormed(dropOutgoing(p))).toBe(true);
  });

  test('rejects every outgoing frame and decides every incoming one exactly as the program alone', () => {
    for (const [name, p] of programs) {
      const alone = p ?? [[0x06, 0, 0, 0x40000] as const];
      for (const [what, f] of frames) {
        for (const tagged of [false, true]) {
          for (const pktType of incoming) {
            expect({ name, what, tagged, pktType, kept: runBpf(dropOutgoing(p), f, { tagged, pktType }) })
              .toEqual({ name, what, tagged, pktType, kept: runBpf(alone, f, { tagged, pktType }) });
          }
          expect({ name, what, tagged, kept: runBpf(dropOutgoing(p), f, { tagged, pktType: PktType.OUTGOING }) }).toEqual({ name, what, tagged, kept: 0 });
        }
      }
    }
    // The programs alone do let our own frames through: that is what the fallback is for.
    expect(runBpf(REQUEST_PROGRAM, arpOp(1), { pktType: PktType.OUTGOING })).toBeGreaterThan(0);
    expect(runBpf(CONTROL_PROGRAM, arpOp(2), { pktType: PktType.OUTGOING })).toBeGreaterThan(0);
  });
});

describe(`the test hook ${MISSING_OPTIONS_ENV}`, () => {
  test('names optional options, separated by commas; a typo stops the start with the list of names', () => {
    expect(missingSocketOptions({})).toEqual([]);
    expect(missingSocketOptions({ [MISSING_OPTIONS_ENV]: '' })).toEqual([]);
    expect(missingSocketOptions({ [MISSING_OPTIONS_ENV]: 'PACKET_IGNORE_OUTGOING, PACKET_STATISTICS' })).toEqual(['PACKET_IGNORE_OUTGOING', 'PACKET_STATISTICS']);
    expect(missingSocketOptions({ [MISSING_OPTIONS_ENV]: OPTIONAL_SOCKET_OPTIONS.join(',') })).toEqual([...OPTIONAL_SOCKET_OPTIONS]);
    expect(() => missingSocketOptions({ [MISSING_OPTIONS_ENV]: 'SO_ATTACH_FILTER' }))
      .toThrow(`${MISSING_OPTIONS_ENV}: SO_ATTACH_FILTER is not an optional socket option (PACKET_IGNORE_OUTGOING, SO_RCVBUFFORCE, PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS)`);
  });
});

const run = requireRoot('link/fallback');

describe.skipIf(!run)('optional socket options missing, on a veth pair', () => {
  let pair: Pair;
  let lib: Libc;
  const open: PacketSocket[] = [];
  const track = (s: PacketSocket) => (open.push(s), s);

  beforeAll(() => {
    lib = libc();
    pair = createPair('l2fb');
    addAddress(pair.nsA, pair.ifA, '192.0.2.1/24');
    addAddress(pair.nsB, pair.ifB, '192.0.2.2/24');
  });

  afterAll(() => {
    for (const s of open) s.close();
    pair?.destroy();
  });

  let sentinelSeq = 0;
  /** An ARP request from B that ends every list: frames on a veth arrive in order. */
  function sendSentinel(from: PacketSocket): (f: Uint8Array) => boolean {
    const target = `198.51.100.${++sentinelSeq}`;
    const b = mac(pair.macB);
    from.send(arp({ op: 1, srcMac: b, dstMac: BCAST, senderMac: b, senderIp: ip4('192.0.2.250'), targetMac: ZERO, targetIp: ip4(target) }));
    return (f) => inspectFrame(f).type === 0x0806 && inspectFrame(f).target === target;
  }

  test('with every option this kernel has, a socket falls back on nothing', () => {
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', ignoreOutgoing: true, receiveBuffer: 1 << 20 }));
    sock.addMembership(solicitedNodeMac(ip6('2001:db8::77')));
    sock.stats();
    expect(sock.fallbacks).toEqual([]);
    expect(sock.receiveBufferSize()).toBeGreaterThanOrEqual(2 << 20); // root: SO_RCVBUFFORCE
  });

  test('without PACKET_IGNORE_OUTGOING the filter keeps out what this host sends, ours and its kernel\'s, and B\'s frames still arrive', () => {
    const quiet = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true, unavailable: ['PACKET_IGNORE_OUTGOING'] }));
    const unfiltered = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, ignoreOutgoing: true, unavailable: ['PACKET_IGNORE_OUTGOING'] }));
    const loud = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp' }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    for (const s of [quiet, unfiltered]) {
      expect(s.fallbacks).toEqual([{ option: 'PACKET_IGNORE_OUTGOING', error: 'ENOPROTOOPT (Protocol not available)', instead: 'the socket filter drops the frames this host sends (SKF_AD_PKTTYPE = PACKET_OUTGOING)' }]);
    }
    const a = mac(pair.macA);
    const b = mac(pair.macB);
    // A gratuitous ARP as the responder sends it, and an ARP request of A's own kernel (arping from A).
    quiet.send(arp({ op: 2, srcMac: a, dstMac: BCAST, senderMac: a, senderIp: ip4('203.0.113.5'), targetMac: BCAST, targetIp: ip4('203.0.113.5') }));
    sh(['arping', '-c', '1', '-w', '1', '-I', pair.ifA, '192.0.2.99'], { ns: pair.nsA, check: false });
    // From B: a request for A, and a datagram the unfiltered socket takes too.
    sender.send(arp({ op: 1, srcMac: b, dstMac: BCAST, senderMac: b, senderIp: ip4('192.0.2.2'), targetMac: ZERO, targetIp: ip4('192.0.2.1') }));
    sender.send(udp4(b, a, ip4('192.0.2.2'), ip4('192.0.2.1'), 0x4c3f0001));
    const last = sendSentinel(sender);
    const fromA = (f: Uint8Array) => inspectFrame(f).src === pair.macA;
    const label = (f: Uint8Array) => {
      const s = inspectFrame(f);
      if (s.type === 0x0800) return 'udp-from-b';
      if (s.type !== 0x0806) return undefined; // B's kernel may add its own (MLD, RS)
      if (s.target === '203.0.113.5') return 'our-garp';
      if (s.target === '192.0.2.99') return 'kernel-arp';
      if (s.target === '192.0.2.1') return 'request-from-b';
      return last(f) ? 'sentinel' : undefined;
    };
    const names = (frames: Uint8Array[]) => frames.map(label).filter((n) => n !== undefined);
    const all = collectUntil(lib, loud, last);
    expect(all.complete).toBe(true);
    expect(names(all.frames)).toEqual(['our-garp', 'kernel-arp', 'request-from-b', 'sentinel']);
    const q = collectUntil(lib, quiet, last);
    expect(q.complete).toBe(true);
    expect(names(q.frames)).toEqual(['request-from-b', 'sentinel']);
    expect(q.frames.filter(fromA)).toEqual([]);
    const u = collectUntil(lib, unfiltered, last);
    expect(u.complete).toBe(true);
    expect(names(u.frames)).toEqual(['request-from-b', 'udp-from-b', 'sentinel']);
    expect(u.frames.filter(fromA)).toEqual([]);
  });

  test('without SO_RCVBUFFORCE the buffer comes from SO_RCVBUF: a fallback only when net.core.rmem_max makes it smaller, naming both sizes', () => {
    const rmemMax = Number(sh(['sysctl', '-n', 'net.core.rmem_max'], { ns: pair.nsA }).stdout.trim());
    const fits = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', receiveBuffer: rmemMax, unavailable: ['SO_RCVBUFFORCE'] }));
    expect(fits.receiveBufferSize()).toBe(2 * rmemMax); // the kernel doubles it for its bookkeeping
    expect(fits.fallbacks).toEqual([]);
    const asked = 2 * rmemMax;
    const capped = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', receiveBuffer: asked, unavailable: ['SO_RCVBUFFORCE'] }));
    expect(capped.receiveBufferSize()).toBe(2 * rmemMax);
    expect(capped.fallbacks).toEqual([{
      option: 'SO_RCVBUFFORCE',
      error: 'ENOPROTOOPT (Protocol not available)',
      instead: `SO_RCVBUF, capped by net.core.rmem_max: a ${Math.round(2 * rmemMax / 1024)} KiB receive queue instead of ${Math.round(2 * asked / 1024)} KiB, less headroom under a flood; grant CAP_NET_ADMIN or raise net.core.rmem_max to ${asked}`,
    }]);
  });

  test('without PACKET_STATISTICS drops read as zero, and the fallback is recorded once', () => {
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', unavailable: ['PACKET_STATISTICS'] }));
    expect(sock.fallbacks).toEqual([]); // found out at the first read
    expect(sock.stats()).toEqual({ packets: 0, drops: 0 });
    expect(sock.stats()).toEqual({ packets: 0, drops: 0 });
    expect(sock.fallbacks).toEqual([{ option: 'PACKET_STATISTICS', error: 'ENOPROTOOPT (Protocol not available)', instead: expect.stringContaining('l2lb_socket_drops_total stays 0') }]);
  });

  test('without PACKET_ADD_MEMBERSHIP joining is a recorded no-op, asked once, and the device list stays as it was', () => {
    const group = '33:33:ff:34:56:78';
    const groups = () => sh(['ip', 'maddr', 'show', 'dev', pair.ifA], { ns: pair.nsA }).stdout;
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', unavailable: ['PACKET_ADD_MEMBERSHIP'] }));
    sock.addMembership(solicitedNodeMac(ip6('2001:db8::5:1234:5678')));
    sock.addMembership(solicitedNodeMac(ip6('2001:db8::5:1234:9999')));
    sock.dropMembership(solicitedNodeMac(ip6('2001:db8::5:1234:5678')));
    expect(groups()).not.toContain(group);
    expect(sock.fallbacks).toEqual([{ option: 'PACKET_ADD_MEMBERSHIP', error: 'ENOPROTOOPT (Protocol not available)', instead: expect.stringContaining('only where the interface passes all multicast') }]);
    expect(() => sock.addMembership(new Uint8Array(5))).toThrow(RangeError); // a bad MAC is still a bug
  });
});
