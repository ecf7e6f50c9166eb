/**
 * Socket helpers shared by the link-layer tests.
 */
import type { Libc } from '../../src/runtime/ffi.ts';
import { PacketSocket, type PacketSocketOptions } from '../../src/link/packet.ts';
import { Poller } from '../../src/link/poll.ts';
import { inNetns } from '../support/netns.ts';

/** ifindex of `name` as seen from namespace `ns`. */
export function ifindexIn(lib: Libc, ns: string, name: string): number {
  const idx = inNetns(ns, () => lib.if_nametoindex(new TextEncoder().encode(`${name}\0`)));
  if (!idx) throw new Error(`no interface ${name} in ${ns}`);
  return idx;
}

/** Opens a non-blocking PacketSocket on `ifname` inside `ns`. */
export function openIn(lib: Libc, ns: string, ifname: string, opts: Omit<PacketSocketOptions, 'ifindex'>): PacketSocket {
  const ifindex = ifindexIn(lib, ns, ifname);
  return inNetns(ns, () => PacketSocket.open(lib, { nonBlocking: true, ...opts, ifindex }));
}

/**
 * Reads frames until `isLast` matches one (returned too) or `timeoutMs` passes. Frames on a veth
 * arrive in order, so a sentinel sent last proves every earlier frame has been delivered or dropped.
 */
export function collectUntil(
  lib: Libc,
  sock: PacketSocket,
  isLast: (frame: Uint8Array) => boolean,
  timeoutMs = 2000,
): { frames: Uint8Array[]; complete: boolean } {
  const poller = new Poller(lib);
  poller.set([sock.fd]);
  const frames: Uint8Array[] = [];
  const buf = new Uint8Array(2048);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let n = sock.tryRecv(buf); n >= 0; n = sock.tryRecv(buf)) {
      const f = buf.slice(0, n);
      frames.push(f);
      if (isLast(f)) return { frames, complete: true };
    }
    const left = deadline - Date.now();
    if (left <= 0) return { frames, complete: false };
    poller.wait(left);
  }
}

/** Reads whatever is queued within `ms` (for "nothing arrives" checks that have no sentinel). */
export function collectFor(lib: Libc, sock: PacketSocket, ms: number): Uint8Array[] {
  return collectUntil(lib, sock, () => false, ms).frames;
}
