/**
 * Runtime smoke test of the link layer: opens a filtered PacketSocket on <ifname>, sends an ARP
 * request for <targetIPv4> from the interface's own MAC and first IPv4 address, and waits up to
 * 2 s for the reply. Prints one JSON line. Runs unchanged under `deno run -A`, `bun` and a
 * `bun build --compile` binary. Usage: deno-smoke.ts <ifname> [targetIPv4]
 */
import { libc } from '../../src/runtime/ffi.ts';
import { readInterface } from '../../src/link/iface.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { Poller } from '../../src/link/poll.ts';

const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
const args = deno ? deno.args : process.argv.slice(2);
const [ifname = '', target = '192.0.2.2'] = args;

const lib = libc();
const facts = readInterface(ifname);
if (!facts) throw new Error(`no interface ${ifname}`);
const own = facts.addresses.find((a) => a.family === 4);
if (!own) throw new Error(`${ifname} has no IPv4 address`);

// errno must survive the trip back from C: an unknown address family is EAFNOSUPPORT (97).
const bad = lib.socket(999, 3, 0);
const errno = lib.errno();
// And keep doing so while the engine allocates and collects (Deno once clobbered it, see ffi.ts).
let errnoWrong = 0;
const scratch = new Uint8Array(8);
for (let i = 0; i < 20_000; i++) {
  if (lib.socket(999, 3, 0) !== -1 || lib.errno() !== 97) errnoWrong++;
  if (i % 100 === 0) void Array.from({ length: 200 }, (_, j) => ({ j, s: `x${j}` }));
  if (lib.read(-1, scratch, 8) !== -1 || lib.errno() !== 9) errnoWrong++;
}

const mac = Uint8Array.from(facts.mac.split(':').map((h) => Number.parseInt(h, 16)));
const ip = (s: string) => Uint8Array.from(s.split('.').map(Number));
const frame = new Uint8Array(60);
frame.fill(0xff, 0, 6);
frame.set(mac, 6);
frame.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
frame.set(mac, 22);
frame.set(ip(own.ip), 28);
frame.set(ip(target), 38);

const sock = PacketSocket.open(lib, { ifindex: facts.index, protocol: 0x0003, filter: 'arp-ndp', ignoreOutgoing: true, nonBlocking: true });
const poller = new Poller(lib);
poller.set([sock.fd]);
sock.send(frame);
const buf = new Uint8Array(1514);
const deadline = Date.now() + 2000;
let reply: { from: string; senderIp: string } | undefined;
while (!reply && Date.now() < deadline) {
  poller.wait(deadline - Date.now());
  for (let n = sock.recv(buf); n >= 0 && !reply; n = sock.recv(buf)) {
    const isReply = buf[12] === 0x08 && buf[13] === 0x06 && buf[21] === 2;
    const senderIp = Array.from(buf.subarray(28, 32)).join('.');
    if (isReply && senderIp === target) {
      reply = { from: Array.from(buf.subarray(22, 28), (b) => b.toString(16).padStart(2, '0')).join(':'), senderIp };
    }
  }
}
sock.close();
console.log(JSON.stringify({ runtime: lib.runtime, ifindex: facts.index, mac: facts.mac, source: own.ip, sent: frame.length, reply: reply ?? null, badSocket: bad, errno, errnoWrong }));
