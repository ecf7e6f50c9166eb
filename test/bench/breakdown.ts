/**
 * Where a reply's time goes: the receive worker's per-frame steps measured one by one on the bench's own
 * veth pair, with the product's code — recv() from the filtered packet socket, respond() (decode, decide,
 * encode: pure JavaScript), send() of the reply (which also runs the peer's receive path in softirq) — and
 * the idle costs around them (an empty recv, a poll() that finds data). Runs synchronously in the calling
 * process; sockets are opened inside the namespaces with setns, so nothing else may use the pair meanwhile.
 */
import { inNetns } from '../support/netns.ts';
import { type Libc, libc as loadLibc } from '../../src/runtime/ffi.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { Poller } from '../../src/link/poll.ts';
import { type IP } from '../../src/net/ip.ts';
import { type MAC, parseMAC } from '../../src/net/mac.ts';
import { arpRequestFrame } from '../../src/wire/arp.ts';
import { nsRequestFrame } from '../../src/wire/ndp.ts';
import { type ResponderState, respond, slotMaps } from '../../src/announce/responder.ts';
import { ip } from './frames.ts';

/** Microseconds per operation. */
export interface Breakdown {
  /** recv() of one queued frame from a socket set up like the worker's (filter, ignore-outgoing). */
  recvUs: number;
  /** recv() that finds the queue empty (ends every drain). */
  recvEmptyUs: number;
  /** poll() on a socket with data queued (the worker's wait, when it does not sleep). */
  pollReadyUs: number;
  /** respond() for an ARP request / a Neighbor Solicitation for a VIP: decode, look up, build the reply. */
  respondArpUs: number;
  respondNsUs: number;
  /** send() of the reply, including the peer's receive processing that runs in the sender's softirq. */
  sendUs: number;
  /** recv + respond + send (ARP): the worker's cost per answered request when frames arrive back to back. */
  perArpReplyUs: number;
  /** 1 / perArpReplyUs: answers per second one core could give with nothing else to do. */
  maxArpRepliesPerSecond: number;
}

const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const ETH_P_ALL = 0x0003;

function perOp(n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

function bigBuffer(lib: Libc, sock: PacketSocket, bytes: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, bytes, true);
  if (lib.setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) < 0) throw new Error(`SO_RCVBUFFORCE: errno ${lib.errno()}`);
}

function index(lib: Libc, ns: string, ifname: string): number {
  const i = inNetns(ns, () => lib.if_nametoindex(new TextEncoder().encode(ifname + '\0')));
  if (!i) throw new Error(`no ${ifname} in ${ns}`);
  return i;
}

/** Measures the per-frame costs between the server side (nsA/ifA, macA) and the client side (nsB/ifB, macB). */
export function measureBreakdown(pair: { nsA: string; nsB: string; ifA: string; ifB: string; macA: string; macB: string }, vip4: string, vip6: string, client4: string, client6: string): Breakdown {
  const lib = loadLibc();
  const macA: MAC = parseMAC(pair.macA)!;
  const macB: MAC = parseMAC(pair.macB)!;
  const a = index(lib, pair.nsA, pair.ifA);
  const b = index(lib, pair.nsB, pair.ifB);
  const server = inNetns(pair.nsA, () => PacketSocket.open(lib, { ifindex: a, protocol: ETH_P_ALL, filter: 'arp-ndp', ignoreOutgoing: true, nonBlocking: true }));
  const client = inNetns(pair.nsB, () => PacketSocket.open(lib, { ifindex: b, protocol: 0 }));
  try {
    bigBuffer(lib, server, 256 << 20);
    const v4: IP = ip(vip4);
    const v6: IP = ip(vip6);
    const st: ResponderState = { ifMac: macA, ...slotMaps([
      { key: vip4, ip: v4, mac: macA, mode: 'answer' },
      { key: vip6, ip: v6, mac: macA, mode: 'answer' },
    ]) };
    const arpReq = arpRequestFrame(macB, ip(client4), v4);
    const nsReq = nsRequestFrame(macB, ip(client6), v6);
    const reply = respond(arpReq, st);
    if (reply.kind !== 'reply') throw new Error(`respond() did not answer the ARP request: ${JSON.stringify(reply)}`);

    // Warm both paths up first, so the JIT has compiled what is timed.
    perOp(20_000, () => respond(arpReq, st));
    perOp(20_000, () => respond(nsReq, st));
    const respondArpUs = perOp(200_000, () => respond(arpReq, st));
    const respondNsUs = perOp(200_000, () => respond(nsReq, st));

    // Requests from the client queue up on the server socket (its buffer holds them all); then read them.
    const buf = new Uint8Array(65536);
    const queued = 50_000;
    while (server.tryRecv(buf) >= 0) { /* empty the queue */ }
    for (let i = 0; i < queued; i++) client.send(arpReq);
    const poller = new Poller(lib);
    poller.set([server.fd]);
    const pollReadyUs = perOp(20_000, () => poller.wait(0));
    let got = 0;
    const recvUs = perOp(queued, () => {
      if (server.tryRecv(buf) >= 0) got++;
    });
    if (got < queued * 0.99) throw new Error(`only ${got} of ${queued} queued frames were received`);
    const recvEmptyUs = perOp(50_000, () => server.tryRecv(buf));
    perOp(5_000, () => server.send(reply.frame));
    const sendUs = perOp(50_000, () => server.send(reply.frame));
    const perArpReplyUs = recvUs + respondArpUs + sendUs;
    return { recvUs, recvEmptyUs, pollReadyUs, respondArpUs, respondNsUs, sendUs, perArpReplyUs, maxArpRepliesPerSecond: 1e6 / perArpReplyUs };
  } finally {
    server.close();
    client.close();
  }
}
