/**
 * rtnetlink over the libc FFI: a dump of all interface addresses, and a non-blocking subscription
 * to link and address changes. Only the fields l2lb uses are parsed.
 */
import type { Libc } from '../runtime/ffi.ts';
import { Errno, LinkError, linkError } from './errors.ts';

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const IFLA_IFNAME = 3;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const AF_INET = 2;
const AF_INET6 = 10;

/** Multicast groups for {@link NetlinkMonitor.open}. */
export const RtnlGroups = {
  LINK: 0x1,
  IPV4_IFADDR: 0x10,
  IPV6_IFADDR: 0x100,
} as const;

/** One interface address as the kernel reports it. */
export interface KernelAddress {
  ifindex: number;
  family: 4 | 6;
  ip: string;
  prefix: number;
  scope: 'link' | 'global' | 'host';
}

/** A change notification: which interface, and whether a link or an address changed. */
export interface NetlinkEvent {
  kind: 'link' | 'addr';
  deleted: boolean;
  ifindex: number;
  /** Interface name (link events carry it; address events do not). */
  name?: string;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text form (zero-run compression, lowercase, no leading zeros). */
export function formatIPv6(b: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

function scopeName(scope: number): 'link' | 'global' | 'host' {
  // RT_SCOPE_HOST 254, RT_SCOPE_LINK 253; universe (0) and site (200) both count as global here.
  if (scope === 254) return 'host';
  if (scope === 253) return 'link';
  return 'global';
}

/** Walks the rtattrs in `[start, end)` of `buf`, calling `fn(type, payload)`. */
function attrs(buf: Uint8Array, start: number, end: number, fn: (type: number, payload: Uint8Array) => void): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = start;
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    const type = dv.getUint16(off + 2, true) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (len < 4 || off + len > end) return;
    fn(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
}

/** Calls `fn(type, start, end)` for each complete netlink message in `buf[0, n)`. */
function messages(buf: Uint8Array, n: number, fn: (type: number, start: number, end: number) => void): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 16 <= n) {
    const len = dv.getUint32(off, true);
    if (len < 16 || off + len > n) return;
    fn(dv.getUint16(off + 4, true), off, off + len);
    off += align4(len);
  }
}

function parseAddr(buf: Uint8Array, start: number, end: number): KernelAddress | undefined {
  if (end - start < 24) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
  const family = dv.getUint8(start + 16);
  const prefix = dv.getUint8(start + 17);
  const scope = dv.getUint8(start + 19);
  const ifindex = dv.getUint32(start + 20, true);
  let local: Uint8Array | undefined;
  let address: Uint8Array | undefined;
  attrs(buf, start + 24, end, (type, payload) => {
    if (type === IFA_LOCAL) local = payload;
    else if (type === IFA_ADDRESS) address = payload;
  });
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const raw = local ?? address;
  if (family === AF_INET && raw?.length === 4) {
    return { ifindex, family: 4, ip: formatIPv4(raw), prefix, scope: scopeName(scope) };
  }
  if (family === AF_INET6 && raw?.length === 16) {
    return { ifindex, family: 6, ip: formatIPv6(raw), prefix, scope: scopeName(scope) };
  }
  return undefined;
}

function parseLinkName(buf: Uint8Array, start: number, end: number): string | undefined {
  let name: string | undefined;
  attrs(buf, start + 32, end, (type, payload) => {
    if (type !== IFLA_IFNAME) return;
    const nul = payload.indexOf(0);
    name = new TextDecoder().decode(nul >= 0 ? payload.subarray(0, nul) : payload);
  });
  return name;
}

/** All IPv4 and IPv6 addresses of all interfaces (RTM_GETADDR dump), in kernel order. */
export function dumpAddresses(libc: Libc): KernelAddress[] {
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw linkError('socket(AF_NETLINK)', libc.errno());
  try {
    const req = new Uint8Array(24); // nlmsghdr + ifaddrmsg with family AF_UNSPEC: every family
    const dv = new DataView(req.buffer);
    dv.setUint32(0, req.length, true);
    dv.setUint16(4, RTM_GETADDR, true);
    dv.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
    dv.setUint32(8, 1, true);
    if (libc.send(fd, req, req.length, 0) < 0) throw linkError('send(RTM_GETADDR)', libc.errno());
    const out: KernelAddress[] = [];
    const buf = new Uint8Array(32768);
    for (;;) {
      const n = libc.recv(fd, buf, buf.length, 0);
      if (n < 0) {
        const errno = libc.errno();
        if (errno === Errno.EINTR) continue;
        throw linkError('recv(RTM_GETADDR)', errno);
      }
      if (n === 0) return out;
      let done = false;
      messages(buf, n, (type, start, end) => {
        if (type === NLMSG_DONE) done = true;
        else if (type === NLMSG_ERROR) {
          const err = -new DataView(buf.buffer).getInt32(start + 16, true);
          if (err !== 0) throw new LinkError('RTM_GETADDR', err);
        } else if (type === RTM_NEWADDR) {
          const a = parseAddr(buf, start, end);
          if (a) out.push(a);
        }
      });
      if (done) return out;
    }
  } finally {
    libc.close(fd);
  }
}

/**
 * A non-blocking rtnetlink subscription. Put {@link fd} into a Poller (in a Worker) or call
 * {@link read} on a short timer; a read that returns `overflow` lost events and must resync.
 */
export class NetlinkMonitor {
  /** The netlink socket, readable when events are queued. */
  readonly fd: number;
  private readonly libc: Libc;
  private readonly buf = new Uint8Array(65536);
  private closed = false;

  private constructor(libc: Libc, fd: number) {
    this.libc = libc;
    this.fd = fd;
  }

  /** Subscribes to `groups` (default: links, IPv4 and IPv6 addresses). Unprivileged. */
  static open(libc: Libc, groups: number = RtnlGroups.LINK | RtnlGroups.IPV4_IFADDR | RtnlGroups.IPV6_IFADDR): NetlinkMonitor {
    const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw linkError('socket(AF_NETLINK)', libc.errno());
    const sa = new Uint8Array(12); // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }
    const dv = new DataView(sa.buffer);
    dv.setUint16(0, AF_NETLINK, true);
    dv.setUint32(8, groups, true);
    if (libc.bind(fd, sa, sa.length) < 0) {
      const errno = libc.errno();
      libc.close(fd);
      throw linkError('bind(AF_NETLINK)', errno);
    }
    return new NetlinkMonitor(libc, fd);
  }

  /** Drains every queued notification without waiting. */
  read(): { events: NetlinkEvent[]; overflow: boolean } {
    const events: NetlinkEvent[] = [];
    let overflow = false;
    if (this.closed) return { events, overflow };
    const dv = new DataView(this.buf.buffer);
    for (;;) {
      const n = this.libc.recv(this.fd, this.buf, this.buf.length, 0);
      if (n < 0) {
        const errno = this.libc.errno();
        if (errno === Errno.EAGAIN) break;
        if (errno === Errno.EINTR) continue;
        // ENOBUFS: the kernel dropped notifications because we read too slowly.
        if (errno === Errno.ENOBUFS) {
          overflow = true;
          continue;
        }
        throw linkError('recv(AF_NETLINK)', errno);
      }
      if (n === 0) break;
      messages(this.buf, n, (type, start, end) => {
        if (type === RTM_NEWLINK || type === RTM_DELLINK) {
          if (end - start < 32) return;
          events.push({
            kind: 'link',
            deleted: type === RTM_DELLINK,
            ifindex: dv.getInt32(start + 20, true), // ifinfomsg.ifi_index
            name: parseLinkName(this.buf, start, end),
          });
        } else if (type === RTM_NEWADDR || type === RTM_DELADDR) {
          if (end - start < 24) return;
          events.push({ kind: 'addr', deleted: type === RTM_DELADDR, ifindex: dv.getUint32(start + 20, true) });
        }
      });
    }
    return { events, overflow };
  }

  /** Closes the subscription (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
