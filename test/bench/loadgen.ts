/**
 * The bench's load generator, run inside the client namespace (`ip netns exec B bun test/bench/loadgen.ts
 * '<json>'`): it sends raw ARP requests / Neighbor Solicitations from a packet socket and takes every
 * timestamp itself, in this one thread, so both targets of a comparison pay the same client-side costs.
 * Prints one JSON object ({@link LatencyResult} or {@link FloodResult}) on stdout.
 *
 * - `latency`: one request at a time, alternating between the targets, reply awaited in poll(2).
 * - `flood`: requests at a fixed rate paced by a busy loop on hrtime, replies counted as they arrive.
 */
import { readFileSync } from 'node:fs';
import { type Libc, loadLibc } from '../../src/runtime/ffi.ts';
import { PacketSocket } from '../../src/link/packet.ts';
import { Poller } from '../../src/link/poll.ts';
import { LinkError } from '../../src/link/errors.ts';
import { readInterface } from '../../src/link/iface.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { type Probe, ip, probeFor, quickMatch, verifyReply } from './frames.ts';
import { type CpuUse, type MachineUse, cpuBetween, cpuSnapshot, machineBetween, machineSnapshot, rssKiB } from './proc.ts';
import { type Summary, summarize } from './stats.ts';

/** Options of a latency run. */
export interface LatencyArgs {
  mode: 'latency';
  ifname: string;
  /** Our own addresses: the sender of every request. */
  src4: string;
  src6: string;
  /** Targets compared with each other, per protocol: requests alternate between them. */
  groups: { label: string; ip: string }[][];
  /** Measured requests per target. */
  n: number;
  /** Unrecorded requests per target first (caches, page faults, JIT). */
  warmup: number;
  /** How long to wait for one reply before counting the request as unanswered. */
  timeoutMs: number;
  /** The MAC every reply must carry for the target. */
  expectMac: string;
  /** Also return every sample as [µs since the run started, latency µs] (for looking at the tail). */
  raw?: boolean;
}

/** Latency of one target. */
export interface TargetLatency {
  label: string;
  ip: string;
  protocol: 'arp' | 'ndp';
  sent: number;
  answered: number;
  /** Valid replies that mapped the target to another MAC than expected. */
  wrongMac: number;
  /** Request-to-reply time in microseconds (answered requests only). */
  us: Summary;
  /** With `raw`: [start of the request in µs since the run started, latency in µs] per answered request. */
  samples?: [number, number][];
}

/** Output of a latency run. */
export interface LatencyResult {
  targets: TargetLatency[];
}

/** Options of a flood run. */
export interface FloodArgs {
  mode: 'flood';
  ifname: string;
  src4: string;
  src6: string;
  target: string;
  /** Requests per second to offer. */
  rate: number;
  seconds: number;
  /** Frames sent back to back at most before the loop drains replies again. */
  batch: number;
  /** l2lb's pid: its CPU time is sampled right at the start and end of the flood. */
  pid?: number;
}

/** Output of a flood run. */
export interface FloodResult {
  target: string;
  protocol: 'arp' | 'ndp';
  rateWanted: number;
  seconds: number;
  /** Frames handed to the kernel successfully. */
  sent: number;
  /** send() failures (ENOBUFS: the peer's backlog was full). */
  sendErrors: number;
  /** sent / seconds. */
  rateAchieved: number;
  /** Replies that matched the target, including those arriving in the grace period after the flood. */
  answered: number;
  /** Frames our own socket dropped (receive buffer full): replies we could not count. */
  clientDrops: number;
  /** Frames the client veth received during the flood, from its interface counter (a cross-check). */
  vethRx: number;
  /** CPU use of the l2lb process during the flood. */
  cpu?: CpuUse;
  /** CPU use of this generator during the flood (it should have a core to itself). */
  selfCpu: CpuUse;
  /** The whole machine's CPU use during the flood: what else competed for the two cores. */
  machine: MachineUse;
  /** l2lb's VmRSS right after the flood, KiB. */
  rssKiB?: number;
}

const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const ETH_P_ALL = 0x0003;

function openSocket(libc: Libc, ifname: string): { sock: PacketSocket; mac: Uint8Array } {
  const facts = readInterface(ifname);
  if (!facts) throw new Error(`no interface ${ifname} in this namespace`);
  const mac = parseMAC(facts.mac);
  if (!mac) throw new Error(`${ifname} has no MAC`);
  // The product's own filter (ARP, NS, NA) keeps unrelated traffic out; our own frames stay out too.
  const sock = PacketSocket.open(libc, { ifindex: facts.index, protocol: ETH_P_ALL, filter: 'arp-ndp', ignoreOutgoing: true, nonBlocking: true });
  // A large buffer so replies that arrive while the flood loop is busy sending wait for us instead of
  // being dropped by our side and blamed on l2lb (root may exceed rmem_max with SO_RCVBUFFORCE).
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, 64 << 20, true);
  if (libc.setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) < 0) throw new Error(`SO_RCVBUFFORCE: errno ${libc.errno()}`);
  return { sock, mac };
}

function drainAll(sock: PacketSocket, buf: Uint8Array): void {
  while (sock.tryRecv(buf) >= 0) {
    // stale frames from an earlier request
  }
}

/** Runs the alternating one-at-a-time requests. */
export function latency(libc: Libc, a: LatencyArgs): LatencyResult {
  const { sock, mac } = openSocket(libc, a.ifname);
  const poller = new Poller(libc);
  poller.set([sock.fd]);
  const buf = new Uint8Array(2048);
  const src4 = ip(a.src4);
  const src6 = ip(a.src6);
  const out: TargetLatency[] = [];
  try {
    for (const group of a.groups) {
      const probes = group.map((t) => {
        const target = ip(t.ip);
        return { t, p: probeFor(mac, target.family === 4 ? src4 : src6, target), requester: target.family === 4 ? src4 : src6 };
      });
      const samples = probes.map(() => [] as number[]);
      const raw = probes.map(() => [] as [number, number][]);
      const runStart = process.hrtime.bigint();
      const res = probes.map(({ t, p }): TargetLatency => ({ label: t.label, ip: t.ip, protocol: p.protocol, sent: 0, answered: 0, wrongMac: 0, us: summarize([]) }));
      const total = (a.warmup + a.n) * probes.length;
      for (let i = 0; i < total; i++) {
        // Strict alternation (A B A B ...), so drift and noise land on both targets alike.
        const k = i % probes.length;
        const { p, requester } = probes[k]!;
        const measured = i >= a.warmup * probes.length;
        drainAll(sock, buf);
        const timeoutNs = BigInt(a.timeoutMs) * 1_000_000n;
        const t0 = process.hrtime.bigint();
        sock.send(p.frame);
        const deadline = t0 + timeoutNs;
        let got: bigint | undefined;
        let answeredMac: string | undefined;
        for (;;) {
          const n = sock.tryRecv(buf);
          if (n >= 0) {
            const t1 = process.hrtime.bigint();
            // The cheap check first; the full decode runs after the timestamp, so it costs nothing measured.
            if (!quickMatch(p, buf, n)) continue;
            answeredMac = verifyReply(p, buf.subarray(0, n), requester);
            if (answeredMac === undefined) continue;
            got = t1;
            break;
          }
          const left = deadline - process.hrtime.bigint();
          if (left <= 0n) break;
          poller.wait(Math.max(1, Math.ceil(Number(left) / 1e6)));
        }
        if (!measured) continue;
        const r = res[k]!;
        r.sent++;
        if (got === undefined) continue;
        r.answered++;
        if (answeredMac !== a.expectMac) r.wrongMac++;
        samples[k]!.push(Number(got - t0) / 1000);
        if (a.raw) raw[k]!.push([Number(t0 - runStart) / 1000, Number(got - t0) / 1000]);
      }
      res.forEach((r, k) => {
        r.us = summarize(samples[k]!);
        if (a.raw) r.samples = raw[k];
      });
      out.push(...res);
    }
  } finally {
    sock.close();
  }
  return { targets: out };
}

function vethRxPackets(ifname: string): number {
  return Number(readFileSync(`/sys/class/net/${ifname}/statistics/rx_packets`, 'utf8').trim());
}

/** Floods requests for one target at a fixed rate and counts the replies. */
export function flood(libc: Libc, a: FloodArgs): FloodResult {
  const { sock, mac } = openSocket(libc, a.ifname);
  const buf = new Uint8Array(2048);
  const target = ip(a.target);
  const p: Probe = probeFor(mac, target.family === 4 ? ip(a.src4) : ip(a.src6), target);
  const poller = new Poller(libc);
  poller.set([sock.fd]);
  let sent = 0;
  let sendErrors = 0;
  let answered = 0;
  const frame = p.frame;
  const count = (): void => {
    for (;;) {
      const n = sock.tryRecv(buf);
      if (n < 0) return;
      if (quickMatch(p, buf, n)) answered++;
    }
  };
  try {
    drainAll(sock, buf);
    sock.stats(); // reset the kernel's counters
    const rx0 = vethRxPackets(a.ifname);
    const cpu0 = a.pid ? cpuSnapshot(a.pid) : undefined;
    const self0 = cpuSnapshot(process.pid);
    const m0 = machineSnapshot();
    const start = process.hrtime.bigint();
    const durationNs = a.seconds * 1e9;
    const perNs = a.rate / 1e9;
    for (;;) {
      const elapsed = Number(process.hrtime.bigint() - start);
      if (elapsed >= durationNs) break;
      // Frames due by now; when we fall behind we catch up in bursts of at most `batch`.
      const due = Math.floor(elapsed * perNs);
      let k = 0;
      while (sent + sendErrors < due && k < a.batch) {
        try {
          sock.send(frame);
          sent++;
        } catch (err) {
          if (!(err instanceof LinkError)) throw err;
          sendErrors++;
        }
        k++;
      }
      count();
    }
    const end = process.hrtime.bigint();
    const cpu1 = a.pid ? cpuSnapshot(a.pid) : undefined;
    const self1 = cpuSnapshot(process.pid);
    const m1 = machineSnapshot();
    const rss = a.pid ? rssKiB(a.pid) : undefined;
    // Grace period: replies to the last frames still in flight or queued at l2lb.
    const graceEnd = end + 300_000_000n;
    for (;;) {
      count();
      const left = graceEnd - process.hrtime.bigint();
      if (left <= 0n) break;
      poller.wait(Math.max(1, Math.ceil(Number(left) / 1e6)));
    }
    const st = sock.stats();
    const seconds = Number(end - start) / 1e9;
    return {
      target: a.target,
      protocol: p.protocol,
      rateWanted: a.rate,
      seconds,
      sent,
      sendErrors,
      rateAchieved: sent / seconds,
      answered,
      clientDrops: st.drops,
      vethRx: vethRxPackets(a.ifname) - rx0,
      cpu: cpu0 && cpu1 ? cpuBetween(cpu0, cpu1) : undefined,
      selfCpu: cpuBetween(self0, self1),
      machine: machineBetween(m0, m1),
      rssKiB: rss,
    };
  } finally {
    sock.close();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: loadgen.ts '<json options>'");
  const opts = JSON.parse(arg) as LatencyArgs | FloodArgs;
  const libc = await loadLibc();
  const result = opts.mode === 'latency' ? latency(libc, opts) : flood(libc, opts);
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (import.meta.main) await main();
