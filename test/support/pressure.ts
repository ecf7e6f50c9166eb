/**
 * Floods for the flood test and bench: a paced sender inside the client namespace sends ARP requests or
 * Neighbor Solicitations built with the product's own encoders at a fixed rate — from one requester (a host
 * in a loop, a frame replayed by a bridging loop) or from thousands (a scan, a spoofing attacker). Beside it,
 * a poller inside a replica's namespace times the admin API every 10 ms, and a watcher reads the Lease's
 * renewTime from the API server stand-in.
 *
 * The sender paces on the clock: every millisecond it sends what is due (100 frames at 100,000/s) and sleeps.
 * trafgen (netsniff-ng) was tried first: asked for 50,000/s, it lost 24 % at l2lb's socket while l2lb's
 * worker slept in poll() 75 % of the time and its queue hit the 8 MiB cap every ~700 ms, so it sends in
 * bursts too large for any queue; this sender at the same rate lost nothing.
 *
 * The frames go by unicast to the replica's MAC: on this 2-core machine a broadcast flood would be copied
 * to every namespace on the bridge and the test would measure the machine's bridge, not l2lb. The replica
 * does the same work either way (each frame reaches its request lane once).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IP, parseIP } from '../../src/net/ip.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { arpRequestFrame } from '../../src/wire/arp.ts';
import { nsRequestFrame } from '../../src/wire/ndp.ts';
import type { StandIn } from './kube/standin.ts';
import { type Gateway, HTTP_PORT, type Replica } from './gateway.ts';
import { BUN, ROOT } from './l2lb.ts';
import { metricSum } from './metrics.ts';
import { sh } from './netns.ts';

/** What to flood with. */
export interface FloodSpec {
  /** The address asked for: IPv4 floods ARP requests, IPv6 floods NS. */
  target: string;
  /** Ethernet destination: the replica's MAC. */
  to: string;
  /** Distinct requesters (MAC and address), cycled through; 1 = one host asking in a loop. */
  requesters: number;
  /** Frames per second. */
  rate: number;
  /** How long. */
  seconds: number;
  /** Pin the sender to this CPU (taskset), so the flood and its kernel work stay off the other core. */
  cpu?: number;
}

/** The frames of a flood: one per requester, sent round robin. */
export function floodFrames(spec: FloodSpec): Uint8Array[] {
  const target = parseIP(spec.target);
  if (!target) throw new Error(`bad target ${spec.target}`);
  const to = parseMAC(spec.to);
  if (!to) throw new Error(`bad MAC ${spec.to}`);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < spec.requesters; i++) {
    const mac = parseMAC(`02:fe:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`)!;
    const source: IP = target.family === 4
      ? parseIP(`198.51.100.${1 + (i % 250)}`)!
      : parseIP(`2001:db8::fe:${(i + 1).toString(16)}`)!;
    const frame = target.family === 4 ? arpRequestFrame(mac, source, target) : nsRequestFrame(mac, source, target);
    frame.set(to, 0);
    frames.push(frame);
  }
  return frames;
}

/** The sender: frames from a file (u16 length, bytes), paced on hrtime; prints `<sent> <send errors>`. */
const SENDER = `
import { readFileSync } from 'node:fs';
import { loadLibc } from '${ROOT}/src/runtime/ffi.ts';
import { PacketSocket } from '${ROOT}/src/link/packet.ts';
import { readInterface } from '${ROOT}/src/link/iface.ts';
const [file, ifname, rate, seconds] = [process.env.FLOOD_FILE, process.env.FLOOD_IF, Number(process.env.FLOOD_RATE), Number(process.env.FLOOD_SECONDS)];
const bytes = readFileSync(file);
const frames = [];
for (let o = 0; o < bytes.length;) { const n = bytes.readUInt16LE(o); frames.push(new Uint8Array(bytes.subarray(o + 2, o + 2 + n))); o += 2 + n; }
const libc = await loadLibc();
const sock = PacketSocket.open(libc, { ifindex: readInterface(ifname).index, protocol: 0 });
const total = Math.round(rate * seconds);
const perNs = rate / 1e9;
let sent = 0, errors = 0;
const start = process.hrtime.bigint();
while (sent + errors < total) {
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - start) * perNs));
  for (let k = 0; sent + errors < due && k < 256; k++) {
    try { sock.send(frames[(sent + errors) % frames.length]); sent++; } catch { errors++; }
  }
  // Caught up: sleep a millisecond rather than spin, leaving the core to the kernel's share of the flood.
  if (sent + errors >= due) Bun.sleepSync(1);
}
process.stdout.write(sent + ' ' + errors + '\\n');
process.exit(0);
`;

/** A running flood. */
export class Flood {
  private constructor(private readonly proc: Bun.Subprocess<'ignore', 'pipe', 'pipe'>, private readonly dir: string) {}

  /** Starts sending `spec` from `iface` in `ns`; {@link done} resolves when the count is sent. */
  static start(ns: string, iface: string, spec: FloodSpec): Flood {
    const dir = mkdtempSync(join(tmpdir(), 'l2lb-flood-'));
    const file = join(dir, 'frames.bin');
    const frames = floodFrames(spec);
    const out = new Uint8Array(frames.reduce((n, f) => n + 2 + f.length, 0));
    let o = 0;
    for (const f of frames) {
      out[o] = f.length & 0xff;
      out[o + 1] = f.length >> 8;
      out.set(f, o + 2);
      o += 2 + f.length;
    }
    writeFileSync(file, out);
    const script = join(dir, 'send.ts');
    writeFileSync(script, SENDER);
    const cmd = [...(spec.cpu === undefined ? [] : ['taskset', '-c', String(spec.cpu)]), BUN, script];
    const proc = Bun.spawn({
      cmd: ['ip', 'netns', 'exec', ns, ...cmd],
      env: { ...process.env, FLOOD_FILE: file, FLOOD_IF: iface, FLOOD_RATE: String(spec.rate), FLOOD_SECONDS: String(spec.seconds) },
      stdin: 'ignore', stdout: 'pipe', stderr: 'pipe',
    });
    return new Flood(proc, dir);
  }

  /** Waits for the end of the flood: frames sent (and send errors); throws with the sender's output if it failed. */
  async done(): Promise<{ sent: number; errors: number }> {
    const code = await this.proc.exited;
    const out = await new Response(this.proc.stdout).text();
    const err = await new Response(this.proc.stderr).text();
    rmSync(this.dir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`flood sender exited ${code}: ${err.slice(-2000)}`);
    const [sent, errors] = out.trim().split(' ').map(Number);
    return { sent: sent!, errors: errors! };
  }
}

/** Polls `url` every `everyMs` from inside a namespace, one keep-alive connection, printing `<epoch ms> <ms> <status>` per request. */
const POLLER = `
const [url, token, every] = [process.env.POLL_URL, process.env.POLL_TOKEN, Number(process.env.POLL_EVERY)];
let stop = false;
process.stdin.on?.('close', () => { stop = true; });
void (async () => { for await (const _ of Bun.stdin.stream()) {} stop = true; })();
while (!stop) {
  const t0 = performance.now();
  let status = 0;
  try {
    const r = await fetch(url, { headers: { authorization: 'Bearer ' + token }, signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    status = r.status;
  } catch {}
  const ms = performance.now() - t0;
  process.stdout.write(Date.now() + ' ' + ms.toFixed(3) + ' ' + status + '\\n');
  const left = every - ms;
  if (left > 0) await Bun.sleep(left);
}
process.exit(0);
`;

/** One timed request of the {@link ApiPoller}. */
export interface Poll {
  at: number;
  ms: number;
  status: number;
}

/** Times an admin API endpoint from inside a namespace (no process per request, unlike `Running.api`). */
export class ApiPoller {
  readonly polls: Poll[] = [];
  private constructor(private readonly proc: Bun.Subprocess<'pipe', 'pipe', 'pipe'>) {}

  static start(ns: string, url: string, token: string, everyMs = 10): ApiPoller {
    const proc = Bun.spawn({
      cmd: ['ip', 'netns', 'exec', ns, BUN, '-e', POLLER],
      env: { ...process.env, POLL_URL: url, POLL_TOKEN: token, POLL_EVERY: String(everyMs) },
      stdin: 'pipe', stdout: 'pipe', stderr: 'pipe',
    });
    const p = new ApiPoller(proc);
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of proc.stdout) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const [at, ms, status] = buf.slice(0, i).split(' ').map(Number);
          buf = buf.slice(i + 1);
          p.polls.push({ at: at!, ms: ms!, status: status! });
        }
      }
    })();
    return p;
  }

  /** The polls in [from, to]. */
  between(from: number, to: number): Poll[] {
    return this.polls.filter((p) => p.at >= from && p.at <= to);
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 2_000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

/** Reads the Lease's holder and renewTime every `everyMs` (through the stand-in's control socket, off the flooded bridge). */
export class LeaseWatch {
  readonly seen: { at: number; holder?: string; renewTime?: string }[] = [];
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly api: StandIn, private readonly ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'l2lb-system', name: 'l2lb' }) {}

  start(everyMs = 50): this {
    this.timer = setInterval(() => {
      void this.api.get(this.ref).then((l) => {
        const spec = (l as { spec?: { holderIdentity?: string; renewTime?: string } } | undefined)?.spec;
        this.seen.push({ at: Date.now(), holder: spec?.holderIdentity, renewTime: spec?.renewTime });
      }).catch(() => {});
    }, everyMs);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Holders seen in [from, to]. */
  holders(from: number, to: number): string[] {
    return [...new Set(this.seen.filter((s) => s.at >= from && s.at <= to).map((s) => s.holder ?? ''))];
  }

  /**
   * The gaps between successive renewals (ms, from renewTime) within [from, to]: the retry period when
   * all is well, longer when a renewal was late.
   */
  renewGaps(from: number, to: number): number[] {
    const times = [...new Set(this.seen.map((s) => s.renewTime).filter((t): t is string => !!t))]
      .map((t) => Date.parse(t)).filter((t) => t >= from - 5_000 && t <= to).sort((a, b) => a - b);
    const gaps: number[] = [];
    for (let i = 1; i < times.length; i++) if (times[i]! >= from) gaps.push(times[i]! - times[i - 1]!);
    return gaps;
  }
}

/** What a flood did to a replica and to what depends on it. */
export interface FloodReport {
  spec: FloodSpec;
  /** When the flood started and ended (epoch ms). */
  from: number;
  to: number;
  /** Frames the sender sent. */
  sent: number;
  /** The flooded replica's counters over the flood. */
  received: number;
  requestDrops: number;
  controlDrops: number;
  replies: number;
  limited: number;
  probeMisses: number;
  probeChanges: number;
  failovers: number;
  /** Takeovers counted by the other replicas (a stalled leader would cause them). */
  takeovers: number;
  /** The admin API of the flooded replica, timed every 10 ms (ms). */
  api: { n: number; p50: number; p99: number; max: number; failed: number };
  /** Lease holders seen and the gaps between its renewals (ms). */
  holders: string[];
  renewGaps: number[];
  /** A client resolving the Service address and reaching its node through it, every 500 ms. */
  answers: { asked: number; ok: number };
}

/** The p-quantile (nearest rank) of unsorted samples. */
function quantile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(p * s.length))) - 1]!;
}

/**
 * Floods `target` (a replica) from the client while `poller` times its API and `lease` watches the Lease;
 * checks with `answer` every 500 ms that a client still resolves and reaches the Service address.
 */
export async function underFlood(gw: Gateway, target: Replica, spec: Omit<FloodSpec, 'to'>, tools: { poller: ApiPoller; lease: LeaseWatch; answer: () => boolean }): Promise<FloodReport> {
  const others = gw.replicas.filter((r) => r !== target && r.running);
  const text = (r: Replica) => r.running!.api('GET', '/metrics').text;
  const before = text(target);
  const othersBefore = others.map(text);
  const full: FloodSpec = { ...spec, to: target.mac };
  const from = Date.now();
  const flood = Flood.start(gw.client.ns, 'eth0', full);
  const answers = { asked: 0, ok: 0 };
  let running = true;
  const done = flood.done().finally(() => { running = false; });
  while (running) {
    answers.asked++;
    if (tools.answer()) answers.ok++;
    await Promise.race([done.catch(() => {}), Bun.sleep(500)]);
  }
  const { sent } = await done;
  const to = Date.now();
  // The worker posts its counters every 250 ms.
  await Bun.sleep(600);
  const after = text(target);
  const d = (name: string, labels: Record<string, string> = {}) => metricSum(after, name, labels) - metricSum(before, name, labels);
  const polls = tools.poller.between(from, to);
  const ms = polls.map((p) => p.ms);
  return {
    spec: full, from, to, sent,
    received: d('l2lb_frames_received_total'),
    requestDrops: d('l2lb_socket_drops_total', { lane: 'requests' }),
    controlDrops: d('l2lb_socket_drops_total', { lane: 'control' }),
    replies: d('l2lb_replies_total'),
    limited: d('l2lb_replies_limited_total'),
    probeMisses: d('l2lb_probe_misses_total'),
    probeChanges: d('l2lb_probe_changes_total'),
    failovers: d('l2lb_failovers_total'),
    takeovers: others.reduce((sum, r, i) => sum + metricSum(text(r), 'l2lb_takeovers_total') - metricSum(othersBefore[i]!, 'l2lb_takeovers_total'), 0),
    api: { n: polls.length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: Math.max(...ms), failed: polls.filter((p) => p.status !== 200).length },
    holders: tools.lease.holders(from, to),
    renewGaps: tools.lease.renewGaps(from, to),
    answers,
  };
}

/**
 * A client's check that `ip` resolves and answers: its neighbour entry flushed, then HTTP through it within
 * 3 s, as a client would wait — Linux sends a solicitation a second, and under a flood one may be among the
 * requests the kernel drops on l2lb's full request lane.
 */
export function answersThrough(gw: Gateway, ip: string): () => boolean {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return () => {
    sh(['ip', 'neigh', 'flush', 'dev', 'eth0'], { ns: gw.client.ns, check: false });
    return sh(['curl', '-s', '-m', '3', `http://${host}:${HTTP_PORT}/`], { ns: gw.client.ns, check: false }).code === 0;
  };
}

/** One line per report, for logs and the bench's table. */
export function describeFlood(r: FloodReport): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const kind = parseIP(r.spec.target)?.family === 4 ? 'ARP' : 'NS';
  return `${kind} ${r.spec.rate}/s × ${r.spec.seconds} s from ${r.spec.requesters} requester(s): received ${r.received}, ` +
    `request-lane drops ${r.requestDrops}, control-lane drops ${r.controlDrops}, replies ${r.replies}, limited ${r.limited}; ` +
    `API p50/p99/max ${f(r.api.p50)}/${f(r.api.p99)}/${f(r.api.max)} ms (${r.api.n} polls, ${r.api.failed} failed); ` +
    `Lease holders ${r.holders.join(',')}, renew gaps max ${r.renewGaps.length ? Math.max(...r.renewGaps) : '-'} ms; ` +
    `probe misses ${r.probeMisses}, probe changes ${r.probeChanges}, failovers ${r.failovers}, takeovers elsewhere ${r.takeovers}; ` +
    `answers ${r.answers.ok}/${r.answers.asked}`;
}
