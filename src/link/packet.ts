/**
 * AF_PACKET raw sockets: whole Ethernet frames in and out of one interface.
 *
 * Which socket options l2lb needs, and what it does without the optional ones (README "Older kernels and
 * emulators"):
 * - required: `socket(AF_PACKET)`, `SO_ATTACH_FILTER` (the lanes and the VLAN check are filters) and `bind`;
 *   a socket that cannot have them is not opened.
 * - `PACKET_IGNORE_OUTGOING` (Linux 4.20+; qemu-user does not translate it): the filter drops outgoing
 *   frames instead ({@link DROP_OUTGOING}).
 * - `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN): `SO_RCVBUF` instead, which `net.core.rmem_max` caps.
 * - `PACKET_ADD_MEMBERSHIP` (qemu-user): nothing can stand in; NS to a solicited-node group reach the socket
 *   only where the interface passes all multicast (veth, bridges, promiscuous mode).
 * - `PACKET_STATISTICS` (qemu-user): kernel queue drops are not counted.
 * Each fallback is kept in {@link PacketSocket.fallbacks} for the log and `/v1/status`.
 */
import type { Libc } from '../runtime/ffi.ts';
import { Errno, LinkError, errnoMessage, errnoName, linkError } from './errors.ts';

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
const PACKET_MR_ALLMULTI = 2;
const MSG_DONTWAIT = 0x40;
const ENOPROTOOPT = 92;
const EOPNOTSUPP = 95;

/** The socket options l2lb can do without (see the module comment), by their C names. */
export const OPTIONAL_SOCKET_OPTIONS = ['PACKET_IGNORE_OUTGOING', 'SO_RCVBUFFORCE', 'PACKET_ADD_MEMBERSHIP', 'PACKET_STATISTICS'] as const;
export type OptionalSocketOption = (typeof OPTIONAL_SOCKET_OPTIONS)[number];

/** An optional socket option the kernel refused, and what the socket does instead. */
export interface SocketFallback {
  option: OptionalSocketOption;
  /** `ENOPROTOOPT (Protocol not available)`. */
  error: string;
  /** A sentence: what l2lb does instead, and what it costs. */
  instead: string;
}

/** What each fallback does instead (SO_RCVBUFFORCE's names the sizes, see {@link PacketSocket.open}). */
const INSTEAD: Record<Exclude<OptionalSocketOption, 'SO_RCVBUFFORCE'>, string> = {
  PACKET_IGNORE_OUTGOING: 'the socket filter drops the frames this host sends (SKF_AD_PKTTYPE = PACKET_OUTGOING)',
  PACKET_ADD_MEMBERSHIP: 'none: Neighbor Solicitations to the solicited-node group of an IPv6 VIP (and heartbeats) arrive only where the interface passes all multicast (veth, bridges, promiscuous mode)',
  PACKET_STATISTICS: 'none: frames the kernel drops from a full receive queue are not counted (l2lb_socket_drops_total stays 0)',
};

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
  /**
   * Do not receive the frames this host sends: PACKET_IGNORE_OUTGOING (Linux 4.20+), else the filter drops
   * them ({@link DROP_OUTGOING}, recorded in {@link PacketSocket.fallbacks}).
   */
  ignoreOutgoing?: boolean;
  /**
   * Optional options to treat as missing (ENOPROTOOPT) without asking the kernel. A test hook: it forces the
   * fallbacks on a kernel that has every option (`L2LBTEST_MISSING_SOCKET_OPTIONS`, see `link/receiver.ts`).
   */
  unavailable?: readonly OptionalSocketOption[];
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
/** SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT: the kernel's ancillary "frame had a VLAN tag" bit (Linux 3.8+). */
const AD_VLAN_TAG_PRESENT = (0xfffff000 + 48) >>> 0;
/** SKF_AD_OFF + SKF_AD_PKTTYPE: the frame's `skb->pkt_type` (PACKET_HOST, ..., PACKET_OUTGOING). */
const AD_PKTTYPE = (0xfffff000 + 4) >>> 0;
/** `pkt_type` of the copy a packet socket gets of a frame this host sends (ours, and the kernel's own). */
const PACKET_OUTGOING = 4;
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

/**
 * Put in front of a program when PACKET_IGNORE_OUTGOING is missing: rejects the copies of frames this host
 * sends, which every packet socket on the interface otherwise receives (our own gratuitous ARP would come
 * back as a request to count, or as another host announcing a VIP). Jumps are relative, so the program
 * behind it is unchanged.
 */
export const DROP_OUTGOING: readonly Insn[] = [
  /* 0 */ [LDW_ABS, 0, 0, AD_PKTTYPE],
  /* 1 */ [JEQ_K, 0, 1, PACKET_OUTGOING], // outgoing -> reject (2), else the program (3)
  /* 2 */ [RET_K, 0, 0, 0],
];

/** Every frame, whole: the program behind {@link DROP_OUTGOING} on a socket that has no filter of its own. */
const ACCEPT_ALL: readonly Insn[] = [[RET_K, 0, 0, 0x40000]];

/** `program` (or every frame) with the frames this host sends rejected first. */
export function dropOutgoing(program: readonly Insn[] = ACCEPT_ALL): Insn[] {
  return [...DROP_OUTGOING, ...program];
}

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

/** The errno of an option the kernel (or an emulator) does not have, as opposed to a call that failed. */
function missing(errno: number): boolean {
  return errno === ENOPROTOOPT || errno === EOPNOTSUPP;
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
  /** Optional options the kernel refused, and what this socket does instead (empty: none). */
  readonly fallbacks: SocketFallback[] = [];
  private readonly libc: Libc;
  private readonly unavailable: ReadonlySet<OptionalSocketOption>;
  private closed = false;
  /** PACKET_STATISTICS is missing: {@link stats} reports zeros. */
  private noStats = false;
  /** PACKET_ADD_MEMBERSHIP is missing: memberships are not asked for again. */
  private noMembership = false;

  private constructor(libc: Libc, fd: number, ifindex: number, unavailable: readonly OptionalSocketOption[] = []) {
    this.libc = libc;
    this.fd = fd;
    this.ifindex = ifindex;
    this.unavailable = new Set(unavailable);
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
    const sock = new PacketSocket(libc, fd, opts.ifindex, opts.unavailable);
    try {
      let program: readonly Insn[] | undefined;
      if (opts.filter !== undefined) {
        program = Object.hasOwn(PROGRAMS, opts.filter) ? PROGRAMS[opts.filter] : undefined;
        if (!program) throw new RangeError(`unknown filter ${String(opts.filter)}`);
      }
      if (opts.ignoreOutgoing) {
        // Any refusal falls back: the filter does the same job on every kernel l2lb runs on.
        const errno = sock.trySetInt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
        if (errno !== 0) {
          program = dropOutgoing(program);
          sock.fallback('PACKET_IGNORE_OUTGOING', errno, INSTEAD.PACKET_IGNORE_OUTGOING);
        }
      }
      if (program) sock.attachFilter(program);
      if (opts.receiveBuffer !== undefined) sock.setReceiveBuffer(opts.receiveBuffer);
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

  /**
   * Joins a link-layer multicast group (e.g. 33:33:ff:xx:xx:xx for a solicited-node address), or with `all`
   * every group (PACKET_MR_ALLMULTI: the interface's allmulti count, undone when the socket closes).
   */
  addMembership(mac: Uint8Array | 'all'): void {
    this.membership(PACKET_ADD_MEMBERSHIP, mac, 'setsockopt(PACKET_ADD_MEMBERSHIP)');
  }

  /** Leaves a group joined with {@link addMembership} (`all`: every multicast group, PACKET_MR_ALLMULTI). */
  dropMembership(mac: Uint8Array | 'all'): void {
    this.membership(PACKET_DROP_MEMBERSHIP, mac, 'setsockopt(PACKET_DROP_MEMBERSHIP)');
  }

  /**
   * Received and dropped frame counts since the previous call (PACKET_STATISTICS); zeros where the option
   * is missing (recorded in {@link fallbacks} the first time).
   */
  stats(): PacketStats {
    this.assertOpen('getsockopt(PACKET_STATISTICS)');
    if (this.noStats) return { packets: 0, drops: 0 };
    const out = new Uint8Array(8); // struct tpacket_stats { u32 tp_packets; u32 tp_drops; }
    const len = int32(8);
    const errno = this.tryOption('PACKET_STATISTICS', () => this.libc.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, out, len));
    if (errno !== 0) {
      if (!missing(errno)) throw linkError('getsockopt(PACKET_STATISTICS)', errno);
      this.noStats = true;
      this.fallback('PACKET_STATISTICS', errno, INSTEAD.PACKET_STATISTICS);
      return { packets: 0, drops: 0 };
    }
    const dv = new DataView(out.buffer);
    return { packets: dv.getUint32(0, true), drops: dv.getUint32(4, true) };
  }

  /** The receive queue's size in bytes as the kernel reports it (twice what was asked: it counts overhead). */
  receiveBufferSize(): number {
    this.assertOpen('getsockopt(SO_RCVBUF)');
    const out = new Uint8Array(4);
    const len = int32(4);
    if (this.libc.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, out, len) < 0) throw linkError('getsockopt(SO_RCVBUF)', this.libc.errno());
    return new DataView(out.buffer).getInt32(0, true);
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

  /**
   * Runs the libc call of an option; returns 0 or its errno. An option the test hook marks missing fails
   * with ENOPROTOOPT without reaching the kernel.
   */
  private tryOption(option: string, call: () => number): number {
    if (this.unavailable.has(option as OptionalSocketOption)) return ENOPROTOOPT;
    return call() < 0 ? this.libc.errno() : 0;
  }

  /** Sets an int option; returns 0 or the errno (see {@link tryOption}). */
  private trySetInt(level: number, name: number, value: number, option: string): number {
    const v = int32(value);
    return this.tryOption(option, () => this.libc.setsockopt(this.fd, level, name, v, v.length));
  }

  private fallback(option: OptionalSocketOption, errno: number, instead: string): void {
    this.fallbacks.push({ option, error: `${errnoName(errno)} (${errnoMessage(errno)})`, instead });
  }

  /**
   * SO_RCVBUFFORCE, else SO_RCVBUF, which `net.core.rmem_max` caps; recorded as a fallback only when the
   * queue came out smaller than asked (an administrator may have raised rmem_max).
   */
  private setReceiveBuffer(bytes: number): void {
    const forced = this.trySetInt(SOL_SOCKET, SO_RCVBUFFORCE, bytes, 'SO_RCVBUFFORCE');
    if (forced === 0) return;
    const plain = this.trySetInt(SOL_SOCKET, SO_RCVBUF, bytes, 'SO_RCVBUF');
    const got = this.receiveBufferSize();
    // The kernel doubles what it is given (bookkeeping overhead) and reports the doubled size.
    if (got >= 2 * bytes) return;
    const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
    const how = plain === 0 ? 'SO_RCVBUF, capped by net.core.rmem_max' : `the default size (SO_RCVBUF failed too: ${errnoName(plain)})`;
    this.fallback('SO_RCVBUFFORCE', forced,
      `${how}: a ${kib(got)} receive queue instead of ${kib(2 * bytes)}, less headroom under a flood; grant CAP_NET_ADMIN or raise net.core.rmem_max to ${bytes}`);
  }

  private membership(name: number, mac: Uint8Array | 'all', op: string): void {
    this.assertOpen(op);
    const mreq = new Uint8Array(16); // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 addr[8]; }
    const dv = new DataView(mreq.buffer);
    dv.setInt32(0, this.ifindex, true);
    dv.setUint16(4, mac === 'all' ? PACKET_MR_ALLMULTI : PACKET_MR_MULTICAST, true);
    if (mac !== 'all') {
      dv.setUint16(6, 6, true);
      mreq.set(parseMac(mac), 8);
    }
    if (this.noMembership) return;
    const errno = this.tryOption('PACKET_ADD_MEMBERSHIP', () => this.libc.setsockopt(this.fd, SOL_PACKET, name, mreq, mreq.length));
    if (errno !== 0) {
      if (!missing(errno)) throw linkError(op, errno);
      this.noMembership = true;
      this.fallback('PACKET_ADD_MEMBERSHIP', errno, INSTEAD.PACKET_ADD_MEMBERSHIP);
    }
  }

  private assertOpen(op: string): void {
    // Never hand a closed fd number to libc: it may already belong to another file.
    if (this.closed) throw new LinkError(op, Errno.EBADF);
  }
}
