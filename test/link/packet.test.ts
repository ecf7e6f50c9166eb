/**
 * PacketSocket on a veth pair between two namespaces: the ARP/NDP filter, sending, outgoing-frame
 * suppression, multicast membership and link-down errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { libc, type Libc } from '../../src/runtime/ffi.ts';
import { LinkError } from '../../src/link/errors.ts';
import { EthProto, PacketSocket } from '../../src/link/packet.ts';
import { Poller, PollEvents } from '../../src/link/poll.ts';
import { addAddress, createPair, inNetns, requireRoot, sh, type Pair } from '../support/netns.ts';
import { arp, hex6, icmp6, inspectFrame, ip4, ip6, ipv6, mac, marker, neighborSolicitation, solicitedNodeMac, udp4 } from './frames.ts';
import { collectFor, collectUntil, ifindexIn, openIn } from './helpers.ts';

const run = requireRoot('link/packet');
const BCAST = mac('ff:ff:ff:ff:ff:ff');
const ZERO = mac('00:00:00:00:00:00');

describe.skipIf(!run)('PacketSocket on a veth pair', () => {
  let pair: Pair;
  let lib: Libc;
  const open: PacketSocket[] = [];
  const track = (s: PacketSocket) => (open.push(s), s);

  beforeAll(() => {
    lib = libc();
    pair = createPair('l2pk');
    addAddress(pair.nsA, pair.ifA, '192.0.2.1/24');
    addAddress(pair.nsA, pair.ifA, '2001:db8::1/64');
    addAddress(pair.nsB, pair.ifB, '192.0.2.2/24');
    addAddress(pair.nsB, pair.ifB, '2001:db8::2/64');
  });

  afterAll(() => {
    for (const s of open) s.close();
    pair?.destroy();
  });

  /** An ARP request from B for an address nobody has: the in-order sentinel for collectUntil. */
  let sentinelSeq = 0;
  function sendSentinel(from: PacketSocket, srcMac: string): (f: Uint8Array) => boolean {
    const target = `198.51.100.${++sentinelSeq}`;
    from.send(arp({ op: 1, srcMac: mac(srcMac), dstMac: BCAST, senderMac: mac(srcMac), senderIp: ip4('192.0.2.250'), targetMac: ZERO, targetIp: ip4(target) }));
    return (f) => inspectFrame(f).type === 0x0806 && inspectFrame(f).target === target;
  }

  test('ARP requests from arping arrive through the arp-ndp filter', () => {
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    expect(sock.stats()).toEqual({ packets: 0, drops: 0 });
    sh(['arping', '-c', '1', '-w', '2', '-I', pair.ifB, '192.0.2.1'], { ns: pair.nsB });
    const isRequest = (f: Uint8Array) => {
      const s = inspectFrame(f);
      return s.type === 0x0806 && s.kind === 1 && s.src === pair.macB && s.target === '192.0.2.1';
    };
    const got = collectUntil(lib, sock, isRequest);
    expect(got.complete).toBe(true);
    expect(sock.stats().packets).toBeGreaterThanOrEqual(1);
    sock.close();
  });

  test('Neighbor Solicitations from ndisc6 arrive through the arp-ndp filter', () => {
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    sh(['ndisc6', '-1', '-r', '1', '-w', '1000', '2001:db8::1', pair.ifB], { ns: pair.nsB });
    const want = hex6(ip6('2001:db8::1'));
    const got = collectUntil(lib, sock, (f) => {
      const s = inspectFrame(f);
      return s.type === 0x86dd && s.kind === 135 && s.target === want && s.src === pair.macB;
    });
    expect(got.complete).toBe(true);
    sock.close();
  });

  test('real IPv4 UDP traffic reaches the interface but not the filtered socket', () => {
    const filtered = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    const control = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    // A static neighbour entry, so the datagram goes out without an ARP exchange first.
    sh(['ip', 'neigh', 'replace', '192.0.2.1', 'lladdr', pair.macA, 'dev', pair.ifB, 'nud', 'permanent'], { ns: pair.nsB });
    sh(['bash', '-c', 'echo l2lb-test > /dev/udp/192.0.2.1/9'], { ns: pair.nsB });
    const last = sendSentinel(sender, pair.macB);
    const isUdp = (f: Uint8Array) => {
      const s = inspectFrame(f);
      return s.type === 0x0800 && s.kind === 17 && s.src === pair.macB;
    };
    const seenByControl = collectUntil(lib, control, last);
    expect(seenByControl.complete).toBe(true);
    expect(seenByControl.frames.some(isUdp)).toBe(true);
    const seenByFiltered = collectUntil(lib, filtered, last);
    expect(seenByFiltered.complete).toBe(true);
    expect(seenByFiltered.frames.filter((f) => inspectFrame(f).type === 0x0800)).toEqual([]);
  });

  test('the filter passes ARP and ICMPv6 135/136 and nothing else', () => {
    const filtered = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    const control = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, ignoreOutgoing: true }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    const a = mac(pair.macA);
    const b = mac(pair.macB);
    const src6 = ip6('2001:db8::2');
    const dst6 = ip6('2001:db8::1');
    const sent = new Map<number, string>();
    let m = 0x4c320000;
    for (const type of [128, 129, 133, 134, 135, 136, 137, 143]) {
      sent.set(++m, `icmp6-${type}`);
      sender.send(icmp6(b, a, src6, dst6, type, m));
    }
    sent.set(++m, 'udp6');
    const udpBody = new Uint8Array(24);
    new DataView(udpBody.buffer).setUint32(4, m);
    sender.send(ipv6({ srcMac: b, dstMac: a, src: src6, dst: dst6, next: 17, body: udpBody }));
    sent.set(++m, 'udp4');
    sender.send(udp4(b, a, ip4('192.0.2.2'), ip4('192.0.2.1'), m));
    sender.send(arp({ op: 2, srcMac: b, dstMac: a, senderMac: b, senderIp: ip4('192.0.2.2'), targetMac: a, targetIp: ip4('192.0.2.1') }));
    const last = sendSentinel(sender, pair.macB);

    // Label only the frames this test sent: the kernel in B may add its own (MLD, RS, ...).
    const label = (f: Uint8Array): string | undefined => {
      const s = inspectFrame(f);
      if (s.type !== 0x0806) return sent.get(marker(f) ?? -1);
      if (s.kind === 2 && s.target === '192.0.2.1') return 'arp-2';
      return last(f) ? 'arp-1' : undefined;
    };
    const names = (frames: Uint8Array[]) => frames.map(label).filter((n): n is string => n !== undefined);
    const all = collectUntil(lib, control, last);
    expect(all.complete).toBe(true);
    expect(names(all.frames)).toEqual([...sent.values(), 'arp-2', 'arp-1']);
    const passed = collectUntil(lib, filtered, last);
    expect(passed.complete).toBe(true);
    expect(names(passed.frames)).toEqual(['icmp6-135', 'icmp6-136', 'arp-2', 'arp-1']);
  });

  test('the control and request lanes split those frames in the kernel: replies, NAs and heartbeats; requests, NSs and malformed ARP', () => {
    const control = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'control', ignoreOutgoing: true }));
    const requests = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'requests', ignoreOutgoing: true }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    const a = mac(pair.macA);
    const b = mac(pair.macB);
    const src6 = ip6('2001:db8::2');
    const dst6 = ip6('2001:db8::1');
    const sent = new Map<number, string>();
    let m = 0x4c330000;
    for (const type of [128, 135, 136, 137]) {
      sent.set(++m, `icmp6-${type}`);
      sender.send(icmp6(b, a, src6, dst6, type, m));
    }
    sent.set(++m, 'udp4');
    sender.send(udp4(b, a, ip4('192.0.2.2'), ip4('192.0.2.1'), m));
    const arpTo = (op: number, target: string) => arp({ op, srcMac: b, dstMac: a, senderMac: b, senderIp: ip4('192.0.2.2'), targetMac: a, targetIp: ip4(target) });
    sender.send(arpTo(2, '192.0.2.21'));
    sender.send(arpTo(3, '192.0.2.23'));
    // An ARP frame cut before its operation field: the request lane takes it so the responder counts it.
    const runt = arpTo(1, '192.0.2.24').slice(0, 20);
    sender.send(runt);
    const heartbeat = new Uint8Array(60);
    heartbeat.set(a, 0);
    heartbeat.set(b, 6);
    heartbeat.set([0x88, 0xb5, 0x4c, 0x32], 12);
    sender.send(heartbeat);
    // Sentinels: a reply ends the control lane's list, a request the other's.
    sender.send(arpTo(2, '192.0.2.99'));
    const last = sendSentinel(sender, pair.macB);
    const label = (f: Uint8Array): string | undefined => {
      if (f[12] === 0x88 && f[13] === 0xb5) return f[14] === 0x4c && f[15] === 0x32 ? 'heartbeat' : undefined;
      if (f.length < 22 && f[12] === 0x08 && f[13] === 0x06) return 'arp-runt';
      const s = inspectFrame(f);
      if (s.type !== 0x0806) return sent.get(marker(f) ?? -1);
      if (s.target === '192.0.2.21') return 'arp-2';
      if (s.target === '192.0.2.23') return 'arp-3';
      if (s.target === '192.0.2.99') return 'arp-2-end';
      return last(f) ? 'arp-1-end' : undefined;
    };
    const names = (frames: Uint8Array[]) => frames.map(label).filter((n): n is string => n !== undefined);
    const c = collectUntil(lib, control, (f) => label(f) === 'arp-2-end');
    expect(c.complete).toBe(true);
    expect(names(c.frames)).toEqual(['icmp6-136', 'arp-2', 'heartbeat', 'arp-2-end']);
    const r = collectUntil(lib, requests, last);
    expect(r.complete).toBe(true);
    expect(names(r.frames)).toEqual(['icmp6-135', 'arp-3', 'arp-runt', 'arp-1-end']);
  });

  test('VLAN-tagged requests are rejected by the filter (the kernel strips the tag before we see the frame)', () => {
    const filtered = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    const control = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, ignoreOutgoing: true }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    const b = mac(pair.macB);
    const plain = arp({ op: 1, srcMac: b, dstMac: BCAST, senderMac: b, senderIp: ip4('192.0.2.2'), targetMac: ZERO, targetIp: ip4('192.0.2.77') });
    // The same request with an 802.1Q tag for VLAN 10 between the MACs and the EtherType.
    const tagged = new Uint8Array(plain.length + 4);
    tagged.set(plain.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 0x0a], 12);
    tagged.set(plain.subarray(12), 16);
    sender.send(tagged);
    const last = sendSentinel(sender, pair.macB);
    const is77 = (f: Uint8Array) => inspectFrame(f).type === 0x0806 && inspectFrame(f).target === '192.0.2.77';
    const all = collectUntil(lib, control, last);
    expect(all.complete).toBe(true);
    expect(all.frames.filter(is77)).toHaveLength(1); // arrives, with the tag stripped into metadata
    const passed = collectUntil(lib, filtered, last);
    expect(passed.complete).toBe(true);
    expect(passed.frames.filter(is77)).toEqual([]);
  });

  test('frames we send arrive in B, and ignoreOutgoing keeps them from our own socket', () => {
    const quiet = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    const loud = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp' }));
    const capture = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.ALL }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    const a = mac(pair.macA);
    // A gratuitous ARP as the responder sends it.
    const garp = arp({ op: 2, srcMac: a, dstMac: BCAST, senderMac: a, senderIp: ip4('203.0.113.5'), targetMac: BCAST, targetIp: ip4('203.0.113.5') });
    quiet.send(garp);
    const ours = (f: Uint8Array) => inspectFrame(f).type === 0x0806 && inspectFrame(f).target === '203.0.113.5';
    const inB = collectUntil(lib, capture, ours);
    expect(inB.complete).toBe(true);
    expect(Array.from(inB.frames.at(-1)!.subarray(0, 42))).toEqual(Array.from(garp.subarray(0, 42)));
    // Without PACKET_IGNORE_OUTGOING a socket sees the host's own transmissions...
    expect(collectUntil(lib, loud, ours, 1000).complete).toBe(true);
    // ...with it, not (the sentinel from B arrives after the loop-back copy would have).
    const last = sendSentinel(sender, pair.macB);
    const back = collectUntil(lib, quiet, last);
    expect(back.complete).toBe(true);
    expect(back.frames.filter(ours)).toEqual([]);
  });

  test('addMembership/dropMembership put the group on the device list; close() takes it off', () => {
    // On a NIC this list is what programs the hardware multicast filter.
    const vip = ip6('2001:db8::5:1234:5678');
    const group = '33:33:ff:34:56:78';
    const groups = () => sh(['ip', 'maddr', 'show', 'dev', pair.ifA], { ns: pair.nsA }).stdout;
    expect(groups()).not.toContain(group);
    const sock = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp' }));
    sock.addMembership(solicitedNodeMac(vip));
    expect(groups()).toContain(`link  ${group}`);
    sock.dropMembership(solicitedNodeMac(vip));
    expect(groups()).not.toContain(group);
    sock.addMembership(solicitedNodeMac(vip));
    expect(groups()).toContain(`link  ${group}`);
    expect(() => sock.addMembership(new Uint8Array(5))).toThrow(RangeError);
    sock.close();
    expect(groups()).not.toContain(group);
    expect(() => sock.addMembership(solicitedNodeMac(vip))).toThrow(LinkError);
  });

  test('a joined solicited-node group is delivered by a device that filters multicast (macvlan)', () => {
    // veth does not filter multicast at all, so there membership changes nothing. macvlan filters
    // by a 256-bucket hash salted with the device's kernel address: an unrelated group may collide
    // by chance. Re-create the macvlan until the group is filtered before joining (no collision).
    const mv = `${pair.prefix}-m`;
    const onVeth = track(openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
    const sender = track(openIn(lib, pair.nsB, pair.ifB, { protocol: EthProto.NONE }));
    const b = mac(pair.macB);
    const vip = ip6('2001:db8::5:1234:5678');
    let round = 0;
    const solicit = () => {
      // A distinct source address per round tells the rounds apart.
      sender.send(neighborSolicitation(b, ip6(`2001:db8::2:${++round}`), vip));
      const r = round;
      return (f: Uint8Array) => f.length >= 38 && f[37] === r && inspectFrame(f).kind === 135;
    };
    try {
      let onMacvlan: PacketSocket | undefined;
      for (let attempt = 0; attempt < 8 && !onMacvlan; attempt++) {
        sh(['ip', 'link', 'del', mv], { ns: pair.nsA, check: false });
        sh(['ip', 'link', 'add', mv, 'link', pair.ifA, 'address', '02:00:00:00:0a:02', 'type', 'macvlan', 'mode', 'bridge'], { ns: pair.nsA });
        sh(['ip', 'link', 'set', mv, 'up'], { ns: pair.nsA });
        const candidate = track(openIn(lib, pair.nsA, mv, { protocol: EthProto.ALL, filter: 'arp-ndp', ignoreOutgoing: true }));
        const isOurs = solicit();
        expect(collectUntil(lib, onVeth, isOurs).complete).toBe(true); // it is on the wire
        if (collectFor(lib, candidate, 200).some(isOurs)) candidate.close();
        else onMacvlan = candidate;
      }
      expect(onMacvlan).toBeDefined();
      // Multicast to all-nodes passes any macvlan: proves frames reach this socket at all.
      sender.send(icmp6(b, mac('33:33:00:00:00:01'), ip6('fe80::2'), ip6('ff02::1'), 136, 1));
      expect(collectUntil(lib, onMacvlan!, (f) => inspectFrame(f).kind === 136).complete).toBe(true);
      onMacvlan!.addMembership(solicitedNodeMac(vip));
      expect(collectUntil(lib, onMacvlan!, solicit()).complete).toBe(true);
      expect(collectUntil(lib, onMacvlan!, solicit()).complete).toBe(true);
    } finally {
      sh(['ip', 'link', 'del', mv], { ns: pair.nsA, check: false });
    }
  });

  test('a link going down wakes poll() with POLLERR and recv() throws ENETDOWN; a deleted one fails send()', () => {
    // A second veth pair inside A (this kernel has no dummy driver).
    const dummy = `${pair.prefix}-d`;
    sh(['ip', 'link', 'add', dummy, 'type', 'veth', 'peer', 'name', `${pair.prefix}-e`], { ns: pair.nsA });
    sh(['ip', 'link', 'set', `${pair.prefix}-e`, 'up'], { ns: pair.nsA });
    sh(['ip', 'link', 'set', dummy, 'up'], { ns: pair.nsA });
    try {
      const sock = track(openIn(lib, pair.nsA, dummy, { protocol: EthProto.ALL, filter: 'arp-ndp' }));
      const poller = new Poller(lib);
      poller.set([sock.fd]);
      expect(poller.wait(0)).toEqual([]);
      sh(['ip', 'link', 'set', dummy, 'down'], { ns: pair.nsA });
      expect(poller.wait(1000)).toEqual([sock.fd]);
      expect(poller.revents(sock.fd) & PollEvents.POLLERR).toBe(PollEvents.POLLERR);
      const err = (() => {
        try {
          sock.recv(new Uint8Array(64));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(LinkError);
      expect((err as LinkError).code).toBe('ENETDOWN');
      expect((err as LinkError).message).toBe('recv failed: ENETDOWN (Network is down)');
      // The error is reported once; afterwards the socket is just idle.
      expect(sock.recv(new Uint8Array(64))).toBe(-1);
      expect(() => sock.send(new Uint8Array(60))).toThrow('send failed: ENETDOWN (Network is down)');
      sh(['ip', 'link', 'del', dummy], { ns: pair.nsA });
      expect(() => sock.send(new Uint8Array(60))).toThrow('send failed: ENXIO (No such device or address)');
    } finally {
      sh(['ip', 'link', 'del', dummy], { ns: pair.nsA, check: false });
    }
  });

  test('open() validates and reports bind errors; close() is idempotent and later use throws EBADF', () => {
    expect(() => PacketSocket.open(lib, { ifindex: 0, protocol: 3 })).toThrow(RangeError);
    expect(() => PacketSocket.open(lib, { ifindex: 1, protocol: 0x10000 })).toThrow(RangeError);
    const missing = inNetns(pair.nsA, () => {
      try {
        PacketSocket.open(lib, { ifindex: 9999, protocol: 3 });
      } catch (e) {
        return e;
      }
    });
    expect(missing).toBeInstanceOf(LinkError);
    expect((missing as LinkError).message).toBe('bind(ifindex 9999) failed: ENODEV (No such device)');
    const sock = openIn(lib, pair.nsA, pair.ifA, { protocol: EthProto.NONE });
    expect(sock.ifindex).toBe(ifindexIn(lib, pair.nsA, pair.ifA));
    sock.close();
    sock.close();
    expect(sock.isClosed).toBe(true);
    expect(() => sock.send(new Uint8Array(60))).toThrow('send failed: EBADF (Bad file descriptor)');
  });
});
