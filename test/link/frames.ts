/**
 * Just enough frame building and inspection for the link-layer tests (the real codecs live in
 * src/wire; these stay independent so a codec bug cannot hide a socket bug).
 */

/** `02:00:..` -> bytes. */
export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => Number.parseInt(h, 16)));
}

/** `192.0.2.1` -> bytes. */
export function ip4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Fully written IPv6 (`2001:db8:0:0:0:0:0:1` or with `::`) -> bytes. */
export function ip6(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    const v = Number.parseInt(w, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** Solicited-node multicast MAC 33:33:ff:xx:xx:xx for an IPv6 address. */
export function solicitedNodeMac(addr: Uint8Array): Uint8Array {
  return Uint8Array.from([0x33, 0x33, 0xff, addr[13]!, addr[14]!, addr[15]!]);
}

/** Solicited-node multicast address ff02::1:ffxx:xxxx. */
export function solicitedNodeIp(addr: Uint8Array): Uint8Array {
  const out = ip6('ff02::1:ff00:0');
  out.set(addr.subarray(13), 13);
  return out;
}

function ether(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(Math.max(60, 14 + payload.length));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

/** An ARP request or reply. */
export function arp(opts: {
  op: number;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  senderMac: Uint8Array;
  senderIp: Uint8Array;
  targetMac: Uint8Array;
  targetIp: Uint8Array;
}): Uint8Array {
  const p = new Uint8Array(28);
  p.set([0, 1, 8, 0, 6, 4, 0, opts.op]);
  p.set(opts.senderMac, 8);
  p.set(opts.senderIp, 14);
  p.set(opts.targetMac, 18);
  p.set(opts.targetIp, 24);
  return ether(opts.dstMac, opts.srcMac, 0x0806, p);
}

function checksum6(src: Uint8Array, dst: Uint8Array, next: number, body: Uint8Array): number {
  let sum = 0;
  const add = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  };
  add(src);
  add(dst);
  sum += body.length + next;
  add(body);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv6 packet in an Ethernet frame; ICMPv6 (58) bodies get their checksum filled in. */
export function ipv6(opts: {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  src: Uint8Array;
  dst: Uint8Array;
  next: number;
  body: Uint8Array;
  hopLimit?: number;
}): Uint8Array {
  const body = opts.body.slice();
  if (opts.next === 58) {
    body[2] = 0;
    body[3] = 0;
    const c = checksum6(opts.src, opts.dst, 58, body);
    body[2] = c >> 8;
    body[3] = c & 0xff;
  }
  const p = new Uint8Array(40 + body.length);
  p[0] = 0x60;
  p[4] = body.length >> 8;
  p[5] = body.length & 0xff;
  p[6] = opts.next;
  p[7] = opts.hopLimit ?? 255;
  p.set(opts.src, 8);
  p.set(opts.dst, 24);
  p.set(body, 40);
  return ether(opts.dstMac, opts.srcMac, 0x86dd, p);
}

/** A Neighbor Solicitation for `target` with a source link-layer option, to its solicited-node group. */
export function neighborSolicitation(srcMac: Uint8Array, src: Uint8Array, target: Uint8Array): Uint8Array {
  const body = new Uint8Array(32);
  body[0] = 135;
  body.set(target, 8);
  body[24] = 1; // source link-layer address option
  body[25] = 1;
  body.set(srcMac, 26);
  return ipv6({ srcMac, dstMac: solicitedNodeMac(target), src, dst: solicitedNodeIp(target), next: 58, body });
}

/** An ICMPv6 message of any type with a recognisable 4-byte marker after the header. */
export function icmp6(srcMac: Uint8Array, dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array, type: number, marker: number): Uint8Array {
  const body = new Uint8Array(24);
  body[0] = type;
  new DataView(body.buffer).setUint32(4, marker);
  return ipv6({ srcMac, dstMac, src, dst, next: 58, body });
}

/** A UDP datagram over IPv4 (checksum 0, which IPv4 allows) to port 9 with a marker. */
export function udp4(srcMac: Uint8Array, dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array, marker: number): Uint8Array {
  const p = new Uint8Array(32);
  p.set([0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0]);
  p.set(src, 12);
  p.set(dst, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set([0x30, 0x39, 0, 9, 0, 12, 0, 0], 20);
  new DataView(p.buffer).setUint32(28, marker);
  return ether(dstMac, srcMac, 0x0800, p);
}

/** Summary of a received frame for assertions. */
export interface Seen {
  dst: string;
  src: string;
  type: number;
  /** ARP op, ICMPv6 type or IP protocol, whichever applies. */
  kind?: number;
  /** ARP target IP / NS target, dotted or hex. */
  target?: string;
  bytes: Uint8Array;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function macText(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Decodes the parts of a frame the tests look at. */
export function inspectFrame(frame: Uint8Array): Seen {
  const type = (frame[12]! << 8) | frame[13]!;
  const seen: Seen = { dst: macText(frame.subarray(0, 6)), src: macText(frame.subarray(6, 12)), type, bytes: frame };
  if (type === 0x0806) {
    seen.kind = frame[21];
    seen.target = Array.from(frame.subarray(38, 42)).join('.');
  } else if (type === 0x86dd) {
    if (frame[20] === 58) {
      seen.kind = frame[54];
      seen.target = hex(frame.subarray(62, 78));
    } else seen.kind = frame[20];
  } else if (type === 0x0800) seen.kind = frame[23];
  return seen;
}

/** The 4-byte marker of frames built by {@link icmp6} (offset 58) or {@link udp4} (offset 42). */
export function marker(frame: Uint8Array): number | undefined {
  const type = (frame[12]! << 8) | frame[13]!;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (type === 0x86dd && frame.length >= 62) return dv.getUint32(58);
  if (type === 0x0800 && frame.length >= 46) return dv.getUint32(42);
  return undefined;
}

/** The hex form used in {@link Seen.target} for an IPv6 address. */
export function hex6(addr: Uint8Array): string {
  return hex(addr);
}
