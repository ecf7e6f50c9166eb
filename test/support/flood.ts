/**
 * Sends malformed ARP/NDP frames out of an interface as fast as it can: `bun test/support/flood.ts IFNAME COUNT`.
 * Every frame passes the responder's socket filter (ARP ethertype, or IPv6 + ICMPv6 type 135/136) so that it
 * reaches the decoder, and every frame is invalid in some way. Prints `sent N` when done.
 */
import { loadLibc } from '../../src/runtime/ffi.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { readInterface } from '../../src/link/iface.ts';

const [ifname, countText] = process.argv.slice(2);
const count = Number(countText ?? 10000);
const facts = readInterface(ifname!);
if (!facts) throw new Error(`no interface ${ifname}`);
const libc = await loadLibc();
const sock = PacketSocket.open(libc, { ifindex: facts.index, protocol: 0 });

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
const src = [0x02, 0, 0, 0, 0xee, 0x01];

function eth(dst: number[], type: number, payload: number[]): Uint8Array {
  return new Uint8Array([...dst, ...src, type >> 8, type & 0xff, ...payload]);
}
const bcast = [255, 255, 255, 255, 255, 255];
const allNodes = [0x33, 0x33, 0, 0, 0, 1];

function malformed(i: number): Uint8Array {
  const junk = (n: number) => Array.from({ length: n }, rand);
  switch (i % 6) {
    case 0: return eth(bcast, 0x0806, junk(rand() % 27)); // ARP too short
    case 1: return eth(bcast, 0x0806, [0, 9, 8, 0, 6, 4, 0, 1, ...junk(20)]); // bad hardware type
    case 2: return eth(bcast, 0x0806, [0, 1, 8, 0, 6, 4, 0, 7, ...junk(20)]); // bad op
    case 3: { // NS with a wrong checksum
      const ip = [0x60, 0, 0, 0, 0, 24, 58, 255, ...junk(16), 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x10];
      return eth(allNodes, 0x86dd, [...ip, 135, 0, 0xde, 0xad, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, ...junk(12)]);
    }
    case 4: { // NS with hop limit 64 (checksum irrelevant: dropped either way)
      const ip = [0x60, 0, 0, 0, 0, 24, 58, 64, ...junk(32)];
      return eth(allNodes, 0x86dd, [...ip, 135, 0, 0, 0, 0, 0, 0, 0, ...junk(16)]);
    }
    default: { // IPv6 header claiming more payload than there is
      const ip = [0x60, 0, 0, 0, 0x05, 0xdc, 58, 255, ...junk(32)];
      return eth(allNodes, 0x86dd, [...ip, 136, 0, ...junk(rand() % 10)]);
    }
  }
}

let sent = 0;
for (let i = 0; i < count; i++) {
  try {
    sock.send(malformed(i));
    sent++;
  } catch {
    // ENOBUFS under load: the point is pressure, not exact counts
  }
}
sock.close();
console.log(`sent ${sent}`);
