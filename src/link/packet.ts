/**
 * AF_PACKET raw sockets: whole Ethernet frames in and out of one interface.
 */
import type { Libc } from '../runtime/ffi.ts';
import { Errno, LinkError, linkError } from './errors.ts';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_DROP_MEMBERSHIP = 2;
const PACKET_STATISTICS = 6;
const PACKET_IGNORE_OUTGOING = 23;
const PACKET_MR_MULTICAST = 0;
const MSG_DONTWAIT = 0x40;

/** EtherType values for {@link PacketSocketOptions.protocol}. */
export const EthProto = {
  /** Every protocol (what a filtered ARP+NDP socket binds to). */
  ALL: 0x0003,
  ARP: 0x0806,
  IPV6: 0x86dd,
  /** Send only: the socket never receives. */
  NONE: 0,
} as const;

/** Options for {@link PacketSocket.open}. */
export interface PacketSocketOptions {
  /** Interface to bind to (from `if_nametoindex` or sysfs). */
  ifindex: number;
  /** EtherType to receive, e.g. 0x0003 ETH_P_ALL, 0x0806, 0x86dd; 0 = send only. */
  protocol: number;
  /**
   * Classic BPF in the kernel, all untagged only. `arp-ndp`: ARP, ICMPv6 NS/NA and heartbeats. It splits
   * into two lanes with their own queues (see {@link CONTROL_PROGRAM}): `control`, what says who is alive
   * and who has an address (heartbeats, ARP replies, NAs), and `requests`, what asks (ARP other than
   * replies, NS), the part a flood fills.
   */
  filter?: 'arp-ndp' | 'control' | 'requests';
  /** PACKET_IGNORE_OUTGOING: do not receive the frames this host sends (Linux 4.20+). */
  ignoreOutgoing?: boolean;
  /** O_NONBLOCK: recv() returns -1 instead of waiting. */
  nonBlocking?: boolean;
  /**
   * Receive buffer in bytes. The default (~208 KiB, about 256 small frames) overflows during a few ms of
   * scheduling delay under a flood; SO_RCVBUFFORCE is tried first (needs CAP_NET_ADMIN), then SO_RCVBUF,
   * which the kernel caps at net.core.rmem_max.
   */
  receiveBuffer?: number;
}

/** Kernel counters of a packet socket since the previous read (reading resets them). */
export interface PacketStats {
  /** Frames that passed the filter. */
  packets: number;
  /** Frames dropped because the receive buffer was full. */
  drops: number;
}

/** One classic BPF instruction: `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`. */
type Insn = [code: number, jt: number, jf: number, k: number];

const LDH_ABS = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LDB_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
const LDW_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
/** SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT: the kernel's ancillary "frame had a VLAN tag" bit. */
const AD_VLAN_TAG_PRESENT = (0xfffff000 + 48) >>> 0;
const LD_LEN = 0x80; // BPF_LD | BPF_W | BPF_LEN
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/**
 * Untagged ARP, NS/NA or l2lb heartbeat (EtherType 0x88b5), nothing else. The kernel strips a VLAN tag into
 * metadata before packet sockets see the frame, so a request from VLAN 10 on a trunk would look like an
 * untagged one: the first check rejects any frame that carried a tag, or we would answer for the wrong
 * network. Neighbor Discovery never carries extension headers (RFC 4861 requires hop limit 255 and no
 * fragmentation), so ICMPv6 follows the 40-byte IPv6 header directly. Out-of-bounds loads reject, so runt
 * frames never pass.
 */
export const ARP_NDP_PROGRAM: readonly Insn[] = [
  /*  0 */ [LDW_ABS, 0, 0, AD_VLAN_TAG_PRESENT],
  /*  1 */ [JEQ_K, 0, 10, 0], // tagged -> reject (12)
  /*  2 */ [LDH_ABS, 0, 0, 12], // EtherType
  /*  3 */ [JEQ_K, 7, 0, 0x0806], // ARP -> accept (11)
  /*  4 */ [JEQ_K, 6, 0, 0x88b5], // heartbeat -> accept (11)
  /*  5 */ [JEQ_K, 0, 6, 0x86dd], // not IPv6 -> reject (12)
  /*  6 */ [LDB_ABS, 0, 0, 14 + 6], // IPv6 next header
  /*  7 */ [JEQ_K, 0, 4, 58], // not ICMPv6 -> reject (12)
  /*  8 */ [LDB_ABS, 0, 0, 14 + 40], // ICMPv6 type
  /*  9 */ [JEQ_K, 1, 0, 135], // Neighbor Solicitation -> accept (11)
  /* 10 */ [JEQ_K, 0, 1, 136], // Neighbor Advertisement -> accept (11), else reject (12)
  /* 11 */ [RET_K, 0, 0, 0x40000], // whole frame
  /* 12 */ [RET_K, 0, 0, 0],
];

/**
 * The control lane: untagged heartbeats, ARP replies and Neighbor Advertisements. A flood of requests
 * fills the other lane's queue, never this one, so node probe answers and heartbeats still arrive.
 */
export const CONTROL_PROGRAM: readonly Insn[] = [
  /*  0 */ [LDW_ABS, 0, 0, AD_VLAN_TAG_PRESENT],
  /*  1 */ [JEQ_K, 0, 11, 0], // tagged -> reject (13)
  /*  2 */ [LDH_ABS, 0, 0, 12], // EtherType
  /*  3 */ [JEQ_K, 8, 0, 0x88b5], // heartbeat -> accept (12)
  /*  4 */ [JEQ_K, 0, 2, 0x0806], // not ARP -> (7)
  /*  5 */ [LDH_ABS, 0, 0, 14 + 6], // ARP operation
  /*  6 */ [JEQ_K, 5, 6, 2], // reply -> accept (12), else reject (13)
  /*  7 */ [JEQ_K, 0, 5, 0x86dd], // not IPv6 -> reject (13)
  /*  8 */ [LDB_ABS, 0, 0, 14 + 6], // IPv6 next header
  /*  9 */ [JEQ_K, 0, 3, 58], // not ICMPv6 -> reject (13)
  /* 10 */ [LDB_ABS, 0, 0, 14 + 40], // ICMPv6 type
  /* 11 */ [JEQ_K, 0, 1, 136], // Neighbor Advertisement -> accept (12), else reject (13)
  /* 12 */ [RET_K, 0, 0, 0x40000],
  /* 13 */ [RET_K, 0, 0, 0],
];

/**
 * The request lane: untagged NS, and ARP other than replies; an ARP frame too short to hold an operation
 * passes too, so the responder counts it as malformed instead of the kernel dropping it unseen.
 */
export const REQUEST_PROGRAM: readonly Insn[] = [
  /*  0 */ [LDW_ABS, 0, 0, AD_VLAN_TAG_PRESENT],
  /*  1 */ [JEQ_K, 0, 12, 0], // tagged -> reject (14)
  /*  2 */ [LDH_ABS, 0, 0, 12], // EtherType
  /*  3 */ [JEQ_K, 0, 4, 0x0806], // not ARP -> (8)
  /*  4 */ [LD_LEN, 0, 0, 0],
  /*  5 */ [JGE_K, 0, 7, 14 + 8], // no operation field -> accept (13)
  /*  6 */ [LDH_ABS, 0, 0, 14 + 6], // ARP operation
  /*  7 */ [JEQ_K, 6, 5, 2], // reply -> reject (14), else accept (13)
  /*  8 */ [JEQ_K, 0, 5, 0x86dd], // not IPv6 -> reject (14)
  /*  9 */ [LDB_ABS, 0, 0, 14 + 6], // IPv6 next header
  /* 10 */ [JEQ_K, 0, 3, 58], // not ICMPv6 -> reject (14)
  /* 11 */ [LDB_ABS, 0, 0, 14 + 40], // ICMPv6 type
  /* 12 */ [JEQ_K, 0, 1, 135], // Neighbor Solicitation -> accept (13), else reject (14)
  /* 13 */ [RET_K, 0, 0, 0x40000],
  /* 14 */ [RET_K, 0, 0, 0],
];

const PROGRAMS = { 'arp-ndp': ARP_NDP_PROGRAM, control: CONTROL_PROGRAM, requests: REQUEST_PROGRAM } as const;

/** Packs BPF instructions into the `struct sock_filter[]` memory layout (little-endian hosts). */
export function packProgram(program: readonly Insn[]): Uint8Array {
  // An explicit ArrayBuffer stays off the engines' moving heaps: its address goes into sock_fprog.
  const out = new Uint8Array(new ArrayBuffer(program.length * 8));
  const dv = new DataView(out.buffer);
  program.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    dv.setUint8(i * 8 + 2, jt);
    dv.setUint8(i * 8 + 3, jf);
    dv.setUint32(i * 8 + 4, k, true);
  });
  return out;
}

function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

function parseMac(mac: Uint8Array): Uint8Array {
  if (mac.length !== 6) throw new RangeError(`MAC address must be 6 bytes, got ${mac.length}`);
  return mac;
}

/** An AF_PACKET SOCK_RAW socket bound to one interface. */
export class PacketSocket {
  /** The socket's file descriptor (valid until {@link close}). */
  readonly fd: number;
  /** The interface it is bound to. */
  readonly ifindex: number;
  private readonly libc: Libc;
  private closed = false;

  private constructor(libc: Libc, fd: number, ifindex: number) {
    this.libc = libc;
    this.fd = fd;
    this.ifindex = ifindex;
  }

  /**
   * Checks that this process may open packet sockets at all (CAP_NET_RAW), before any interface is
   * involved, so a missing capability stops startup instead of surfacing later as a link that never opens.
   * Throws {@link PermissionError}.
   */
  static checkAccess(libc: Libc): void {
    const fd = libc.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw linkError('socket(AF_PACKET)', libc.errno());
    libc.close(fd);
  }

  /**
   * Opens and binds a packet socket. Throws {@link PermissionError} without CAP_NET_RAW and
   * {@link LinkError} otherwise (ENODEV for an unknown ifindex). The socket is created with
   * protocol 0, which receives nothing, so the filter is in place before bind() starts delivery:
   * no unfiltered frame can be queued.
   */
  static open(libc: Libc, opts: PacketSocketOptions): PacketSocket {
    if (!Number.isInteger(opts.ifindex) || opts.ifindex <= 0) {
      throw new RangeError(`ifindex must be a positive integer, got ${opts.ifindex}`);
    }
    if (!Number.isInteger(opts.protocol) || opts.protocol < 0 || opts.protocol > 0xffff) {
      throw new RangeError(`protocol must be an EtherType (0..0xffff), got ${opts.protocol}`);
    }
    const type = SOCK_RAW | SOCK_CLOEXEC | (opts.nonBlocking ? SOCK_NONBLOCK : 0);
    const fd = libc.socket(AF_PACKET, type, 0);
    if (fd < 0) throw linkError('socket(AF_PACKET)', libc.errno());
    const sock = new PacketSocket(libc, fd, opts.ifindex);
    try {
      if (opts.filter !== undefined) {
        const program = Object.hasOwn(PROGRAMS, opts.filter) ? PROGRAMS[opts.filter] : undefined;
        if (!program) throw new RangeError(`unknown filter ${String(opts.filter)}`);
        sock.attachFilter(program);
      }
      if (opts.ignoreOutgoing) sock.setInt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'setsockopt(PACKET_IGNORE_OUTGOING)');
      if (opts.receiveBuffer !== undefined) {
        try {
          sock.setInt(SOL_SOCKET, SO_RCVBUFFORCE, opts.receiveBuffer, 'setsockopt(SO_RCVBUFFORCE)');
        } catch {
          sock.setInt(SOL_SOCKET, SO_RCVBUF, opts.receiveBuffer, 'setsockopt(SO_RCVBUF)');
        }
      }
      // Protocol 0 queues nothing, so this finds nothing today; it stays as the guarantee should a
      // kernel ever deliver to an unbound socket.
      sock.drain();
      const sll = new Uint8Array(20); // struct sockaddr_ll
      const dv = new DataView(sll.buffer);
      dv.setUint16(0, AF_PACKET, true);
      dv.setUint16(2, htons(opts.protocol), true); // sll_protocol, network byte order
      dv.setInt32(4, opts.ifindex, true);
      if (libc.bind(fd, sll, sll.length) < 0) throw linkError(`bind(ifindex ${opts.ifindex})`, libc.errno());
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** Sends one whole Ethernet frame. Throws {@link LinkError} (ENETDOWN, ENXIO, ENOBUFS, ...). */
  send(frame: Uint8Array): void {
    this.assertOpen('send');
    for (;;) {
      const n = this.libc.send(this.fd, frame, frame.length, 0);
      if (n >= 0) return;
      const errno = this.libc.errno();
      if (errno !== Errno.EINTR) throw linkError('send', errno);
    }
  }

  /**
   * Receives one frame into `buf` (longer frames are truncated to it). Returns its length, or -1
   * when nothing is queued on a non-blocking socket. Throws {@link LinkError} on real errors:
   * ENETDOWN means the link went down or vanished; the caller should reopen once it is back.
   */
  recv(buf: Uint8Array): number {
    return this.receive(buf, 0);
  }

  /** Like {@link recv} but never waits, whatever the socket mode. */
  tryRecv(buf: Uint8Array): number {
    return this.receive(buf, MSG_DONTWAIT);
  }

  /** Joins a link-layer multicast group (e.g. 33:33:ff:xx:xx:xx for a solicited-node address). */
  addMembership(mac: Uint8Array): void {
    this.membership(PACKET_ADD_MEMBERSHIP, mac, 'setsockopt(PACKET_ADD_MEMBERSHIP)');
  }

  /** Leaves a group joined with {@link addMembership}. */
  dropMembership(mac: Uint8Array): void {
    this.membership(PACKET_DROP_MEMBERSHIP, mac, 'setsockopt(PACKET_DROP_MEMBERSHIP)');
  }

  /** Received and dropped frame counts since the previous call (PACKET_STATISTICS). */
  stats(): PacketStats {
    this.assertOpen('getsockopt(PACKET_STATISTICS)');
    const out = new Uint8Array(8); // struct tpacket_stats { u32 tp_packets; u32 tp_drops; }
    const len = int32(8);
    if (this.libc.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, out, len) < 0) {
      throw linkError('getsockopt(PACKET_STATISTICS)', this.libc.errno());
    }
    const dv = new DataView(out.buffer);
    return { packets: dv.getUint32(0, true), drops: dv.getUint32(4, true) };
  }

  /** Closes the socket; later calls are no-ops. Memberships end with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }

  /** Whether {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private receive(buf: Uint8Array, flags: number): number {
    this.assertOpen('recv');
    for (;;) {
      const n = this.libc.recv(this.fd, buf, buf.length, flags);
      if (n >= 0) return n;
      const errno = this.libc.errno();
      if (errno === Errno.EAGAIN) return -1;
      if (errno !== Errno.EINTR) throw linkError('recv', errno);
    }
  }

  private drain(): void {
    const scratch = new Uint8Array(64);
    while (this.libc.recv(this.fd, scratch, scratch.length, MSG_DONTWAIT) >= 0) {
      // discard
    }
  }

  private attachFilter(program: readonly Insn[]): void {
    const insns = packProgram(program);
    const fprog = new Uint8Array(16); // struct sock_fprog { u16 len; (pad) struct sock_filter *filter; }
    const dv = new DataView(fprog.buffer);
    dv.setUint16(0, program.length, true);
    dv.setBigUint64(8, this.libc.addressOf(insns), true);
    const rc = this.libc.setsockopt(this.fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, fprog.length);
    const errno = rc < 0 ? this.libc.errno() : 0;
    void insns.length; // keeps the program reachable until the kernel has copied it
    if (rc < 0) throw linkError('setsockopt(SO_ATTACH_FILTER)', errno);
  }

  private setInt(level: number, name: number, value: number, op: string): void {
    const v = int32(value);
    if (this.libc.setsockopt(this.fd, level, name, v, v.length) < 0) throw linkError(op, this.libc.errno());
  }

  private membership(name: number, mac: Uint8Array, op: string): void {
    this.assertOpen(op);
    const mreq = new Uint8Array(16); // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 addr[8]; }
    const dv = new DataView(mreq.buffer);
    dv.setInt32(0, this.ifindex, true);
    dv.setUint16(4, PACKET_MR_MULTICAST, true);
    dv.setUint16(6, 6, true);
    mreq.set(parseMac(mac), 8);
    if (this.libc.setsockopt(this.fd, SOL_PACKET, name, mreq, mreq.length) < 0) {
      throw linkError(op, this.libc.errno());
    }
  }

  private assertOpen(op: string): void {
    // Never hand a closed fd number to libc: it may already belong to another file.
    if (this.closed) throw new LinkError(op, Errno.EBADF);
  }
}
