/**
 * Performance bench of l2lb's ARP/NDP responder against the Linux kernel on the same veth pair:
 * `node_modules/.bin/bun test/bench/run.ts` (or `npm run bench`), as root. About 35 s.
 *
 * Namespace A runs the compiled l2lb answering 192.0.2.10 / 2001:db8::10 (configured on no interface), and
 * A's kernel answers 192.0.2.1 / 2001:db8::1 configured on the same veth: the baseline of the same run.
 * Namespace B is the client: test/bench/loadgen.ts sends from a packet socket there and takes the times.
 *
 * Measures: request-to-reply latency (l2lb vs kernel, ARP and NDP), answered rate under floods, l2lb's CPU
 * and drops per step, startup to ready, RSS. Prints a table and writes test/bench/results.json.
 *
 * Options: --quick (short steps, for trying the bench out), --rates=20000,50000 (ARP flood steps),
 * --seconds=3 (per step), --n=2000 (latency samples per target), --source (run `bun src/main.ts` instead of
 * dist/l2lb: the same code without `--compile`), --no-pin (do not hold the generator to the last core),
 * --l2lb-rcvbuf=BYTES (experiment: enlarge the running l2lb's socket receive buffer from outside, see rcvbuf.ts),
 * --floor (adds a third ARP latency target, 192.0.2.11, answered by the minimal C responder floor.c; needs cc).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { type Pair, createPair, isRoot, sh, spawnIn, waitFor } from '../support/netns.ts';
import { type Running, BINARY, BUN, ROOT, ensureBinary, startL2lb } from '../support/l2lb.ts';
import type { FloodArgs, FloodResult, LatencyArgs, LatencyResult } from './loadgen.ts';
import type { StartupArgs, StartupResult } from './startup.ts';
import { type MachineUse, type ThreadUse, findPids, machineBetween, machineSnapshot, rssKiB } from './proc.ts';
import { median } from './stats.ts';
import { measureBreakdown } from './breakdown.ts';
import { forceReceiveBuffer } from './rcvbuf.ts';
import { metricSum } from '../support/metrics.ts';

const PREFIX = 'l2bench';
const VIP4 = '192.0.2.10';
const VIP6 = '2001:db8::10';
const KERNEL4 = '192.0.2.1';
const KERNEL6 = '2001:db8::1';
const FLOOR4 = '192.0.2.11';
const FLOOR_SOURCE = join(ROOT, 'test/bench/floor.c');
const CLIENT4 = '192.0.2.2';
const CLIENT6 = '2001:db8::2';
const STARTUP_PORT = 19569;
const LOADGEN = join(ROOT, 'test/bench/loadgen.ts');
const STARTUP = join(ROOT, 'test/bench/startup.ts');
const RESULTS = join(ROOT, 'test/bench/results.json');

/** Bench parameters (command-line overridable). */
interface Params {
  n: number;
  warmup: number;
  seconds: number;
  arpRates: number[];
  nsRate: number;
  kernelRate: number;
  startups: number;
  /** The l2lb command (config arguments are appended). */
  command: string[];
  /** Command prefix that pins the load generator to one core (empty: not pinned). */
  pin: string[];
  /** Experiment: SO_RCVBUFFORCE for l2lb's packet socket, set from outside (undefined: l2lb's own). */
  l2lbRcvbuf?: number;
  /** Measure the C floor responder too. */
  floor: boolean;
}

function params(argv: string[]): Params {
  const quick = argv.includes('--quick');
  const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const p: Params = {
    n: quick ? 300 : 2000,
    warmup: quick ? 50 : 200,
    seconds: quick ? 1 : 3,
    arpRates: quick ? [20_000, 80_000] : [20_000, 50_000, 80_000, 120_000],
    nsRate: 50_000,
    kernelRate: 120_000,
    startups: quick ? 2 : 5,
    command: argv.includes('--source') ? [BUN, join(ROOT, 'src/main.ts')] : [BINARY],
    // The generator busy-loops: held to the last core, it cannot land on l2lb's core and steal its time.
    pin: argv.includes('--no-pin') ? [] : ['taskset', '-c', String(cpus().length - 1)],
    floor: argv.includes('--floor'),
  };
  if (opt('n')) p.n = Number(opt('n'));
  if (opt('seconds')) p.seconds = Number(opt('seconds'));
  if (opt('l2lb-rcvbuf')) p.l2lbRcvbuf = Number(opt('l2lb-rcvbuf'));
  if (opt('rates')) p.arpRates = opt('rates')!.split(',').map(Number);
  if (!(p.n > 0) || !(p.seconds > 0) || p.arpRates.some((r) => !(r > 0))) throw new Error('bad --n, --seconds or --rates');
  p.kernelRate = Math.max(...p.arpRates);
  return p;
}

/** One flood step as reported. */
interface Step {
  responder: 'l2lb' | 'kernel';
  protocol: 'arp' | 'ndp';
  target: string;
  rateWanted: number;
  rateAchieved: number;
  seconds: number;
  sent: number;
  sendErrors: number;
  answered: number;
  answeredPerSecond: number;
  lossPercent: number;
  clientDrops: number;
  l2lbCpuPercent?: number;
  /** The busiest l2lb thread (the receive worker under load). */
  l2lbBusiestThread?: ThreadUse;
  /** Every l2lb thread that ran during the step, busiest first. */
  l2lbThreads: ThreadUse[];
  /** CPU time of the busiest l2lb thread per frame it received, µs (compare with the breakdown). */
  workerUsPerFrame?: number;
  /** The generator's busiest thread: it must not be the bottleneck. */
  generatorThread?: ThreadUse;
  /** Whole-machine CPU over the step (percent of one core; 200 = both cores busy). */
  machine: MachineUse;
  /** Machine busy minus l2lb and the generator: other processes (and softirq outside them). */
  othersPercent: number;
  /** Machine busy % measured just before the step (the bench waits up to 5 s for a quiet machine). */
  busyBeforePercent: number;
  /** l2lb's own counters over the step (from /metrics). */
  l2lb: {
    framesReceived: number;
    replies: number;
    framesSent: number;
    sendErrors: number;
    /** Frames we sent that l2lb never read: lost in its socket queue (or never delivered). */
    notReceived: number;
  };
  rssKiB?: number;
}

let child: Subprocess | undefined;

/** Runs a bench helper script in `ns` and parses the JSON line it prints. */
async function runHelper<T>(ns: string, script: string, args: unknown, prefix: string[] = []): Promise<T> {
  const proc = spawnIn(ns, [...prefix, BUN, script, JSON.stringify(args)]);
  child = proc;
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream<Uint8Array>).text(),
    new Response(proc.stderr as ReadableStream<Uint8Array>).text(),
    proc.exited,
  ]);
  child = undefined;
  if (code !== 0) throw new Error(`${script} failed (exit ${code}):\n${err.trim()}`);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

/** /metrics once l2lb's counters stopped moving (the worker posts them every 250 ms at most). */
async function settledMetrics(l2: Running): Promise<string> {
  let prev = l2.api('GET', '/metrics').text;
  return await waitFor('l2lb counters to settle', async () => {
    await Bun.sleep(300);
    const now = l2.api('GET', '/metrics').text;
    const same = now.split('\n').filter((l) => l.startsWith('l2lb_frames_')).join() === prev.split('\n').filter((l) => l.startsWith('l2lb_frames_')).join();
    prev = now;
    return same && now;
  }, 5000, 0);
}

/**
 * Waits (up to `maxMs`) until the machine is quiet — below `limit` % busy (of one core) over half a
 * second — since other work on a shared 2-core machine steals exactly the CPU a flood step measures.
 * Returns the last figure seen.
 */
async function quiet(limit = 25, maxMs = 5000): Promise<number> {
  const end = Date.now() + maxMs;
  for (;;) {
    const a = machineSnapshot();
    await Bun.sleep(500);
    const busy = machineBetween(a, machineSnapshot()).busyPercent;
    if (busy < limit || Date.now() >= end) return busy;
  }
}

async function floodStep(pair: Pair, l2: Running, pid: number, p: Params, responder: 'l2lb' | 'kernel', target: string, rate: number): Promise<Step> {
  const before = await settledMetrics(l2);
  const busyBeforePercent = await quiet();
  const args: FloodArgs = { mode: 'flood', ifname: pair.ifB, src4: CLIENT4, src6: CLIENT6, target, rate, seconds: p.seconds, batch: 32, pid };
  const r = await runHelper<FloodResult>(pair.nsB, LOADGEN, args, p.pin);
  const after = await settledMetrics(l2);
  const d = (name: string, labels: Record<string, string>) => metricSum(after, name, labels) - metricSum(before, name, labels);
  const iface = { interface: pair.ifA };
  const framesReceived = d('l2lb_frames_received_total', iface);
  const top = r.cpu?.threads[0];
  const workerUsPerFrame = top && framesReceived > 0 ? (top.runPercent / 100) * r.seconds * 1e6 / framesReceived : undefined;
  return {
    responder,
    protocol: r.protocol,
    target,
    rateWanted: rate,
    rateAchieved: Math.round(r.rateAchieved),
    seconds: r.seconds,
    sent: r.sent,
    sendErrors: r.sendErrors,
    answered: r.answered,
    answeredPerSecond: Math.round(r.answered / r.seconds),
    lossPercent: r.sent ? ((r.sent - r.answered) / r.sent) * 100 : NaN,
    clientDrops: r.clientDrops,
    l2lbCpuPercent: r.cpu?.percent,
    l2lbBusiestThread: top,
    l2lbThreads: r.cpu?.threads ?? [],
    workerUsPerFrame,
    generatorThread: r.selfCpu.threads[0],
    machine: r.machine,
    othersPercent: r.machine.busyPercent - (r.cpu?.runPercent ?? 0) - r.selfCpu.runPercent,
    busyBeforePercent,
    l2lb: {
      framesReceived,
      replies: d('l2lb_replies_total', { vip: target }),
      framesSent: d('l2lb_frames_sent_total', iface),
      sendErrors: d('l2lb_send_errors_total', iface),
      notReceived: r.sent - framesReceived,
    },
    rssKiB: r.rssKiB,
  };
}

/** The l2lb process started by startL2lb: the one whose argv names our config file (`ip netns exec` execs it). */
function l2lbPid(dir: string): number {
  const pids = findPids(join(dir, 'l2lb.json'));
  if (pids.length !== 1) throw new Error(`expected one l2lb process for ${dir}, found ${pids.length}`);
  return pids[0]!;
}

function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    kernel: sh(['uname', '-r']).stdout.trim(),
    bun: Bun.version,
    l2lb: sh([BINARY, '--version'], { check: false }).stdout.trim(),
    memTotalMiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) / 1024),
  };
}

const f0 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(0));
const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  if (!isRoot) {
    console.error('the bench needs root (network namespaces, packet sockets): run it with sudo');
    return 2;
  }
  const p = params(process.argv.slice(2));
  const t0 = Date.now();
  if (p.command[0] === BINARY) ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-bench-'));
  let pair: Pair | undefined;
  let l2: Running | undefined;
  const cleanup = () => {
    child?.kill('SIGKILL');
    // Everything we started names our temp dir in its argv: l2lb, and the startup helper with its l2lb.
    for (const pid of findPids(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    pair?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: cleaning up`);
      cleanup();
      process.exit(130);
    });
  }
  try {
    const log = (s: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
    pair = createPair(PREFIX);
    const { nsA, nsB, ifA, ifB } = pair;
    sh(['ip', 'addr', 'add', `${KERNEL4}/24`, 'dev', ifA], { ns: nsA });
    sh(['ip', 'addr', 'add', `${KERNEL6}/64`, 'dev', ifA, 'nodad'], { ns: nsA });
    sh(['ip', 'addr', 'add', `${CLIENT4}/24`, 'dev', ifB], { ns: nsB });
    sh(['ip', 'addr', 'add', `${CLIENT6}/64`, 'dev', ifB, 'nodad'], { ns: nsB });
    const config = {
      interfaces: [ifA],
      vips: [{ ip: VIP4, interface: ifA }, { ip: VIP6, interface: ifA }],
      // replyLimit 0: the floods come from one requester and measure what the responder can answer, so
      // the per-requester limit (which would answer 100/s of them) is off; flood.ts measures it on.
      announce: { probeCount: 0, replyLimit: 0 },
      // Info, not the e2e helper's debug: the bench measures the responder, not the logger.
      log: { level: 'info', format: 'json' },
    };

    // 1. Startup to ready, before the long-running instance exists (same namespace, own port and state).
    log(`startup: ${p.startups} starts`);
    const startupDir = join(dir, 'startup');
    mkdirSync(startupDir);
    const startupCfg = join(startupDir, 'l2lb.json');
    writeFileSync(startupCfg, JSON.stringify({ ...config, api: { listen: `127.0.0.1:${STARTUP_PORT}` }, stateFile: join(startupDir, 'state.json') }));
    const startupArgs: StartupArgs = { command: [...p.command, '--config', startupCfg], port: STARTUP_PORT, runs: p.startups, pollMs: 2, timeoutMs: 15000 };
    const startup = await runHelper<StartupResult>(nsA, STARTUP, startupArgs);

    // 2. The instance under test.
    log('starting l2lb');
    l2 = await startL2lb(nsA, config, { dir, command: p.command });
    const running = l2;
    await waitFor('VIPs active', () => {
      const vips = running.api('GET', '/v1/vips').json?.vips as { state: string }[] | undefined;
      return vips?.length === 2 && vips.every((v) => v.state === 'active');
    }, 5000);
    const pid = l2lbPid(dir);
    let rcvbuf: number | undefined;
    if (p.l2lbRcvbuf) {
      const ifindex = Number(sh(['cat', `/sys/class/net/${ifA}/ifindex`], { ns: nsA }).stdout.trim());
      rcvbuf = forceReceiveBuffer(pid, ifindex, p.l2lbRcvbuf);
      log(`EXPERIMENT: l2lb's packet socket receive buffer set to ${rcvbuf} bytes from outside`);
    }
    await Bun.sleep(1000);
    const rssIdle = rssKiB(pid);

    // 3. Latency, l2lb and kernel alternating (and the C floor, when asked for).
    let floor: Subprocess | undefined;
    if (p.floor) {
      const exe = join(dir, 'floor');
      sh(['cc', '-O2', '-o', exe, FLOOR_SOURCE]);
      floor = spawnIn(nsA, [exe, ifA, FLOOR4]);
      await Bun.sleep(200);
      if (floor.exitCode !== null) throw new Error(`floor responder exited: ${await new Response(floor.stderr as ReadableStream<Uint8Array>).text()}`);
    }
    log(`latency: ${p.n} requests per target, alternating`);
    const latArgs: LatencyArgs = {
      mode: 'latency', ifname: ifB, src4: CLIENT4, src6: CLIENT6, n: p.n, warmup: p.warmup, timeoutMs: 200, expectMac: pair.macA,
      groups: [
        [{ label: 'l2lb', ip: VIP4 }, { label: 'kernel', ip: KERNEL4 }, ...(floor ? [{ label: 'C floor', ip: FLOOR4 }] : [])],
        [{ label: 'l2lb', ip: VIP6 }, { label: 'kernel', ip: KERNEL6 }],
      ],
    };
    const latencyBusyBefore = await quiet();
    const latency = await runHelper<LatencyResult>(nsB, LOADGEN, latArgs, p.pin);
    floor?.kill('SIGKILL');

    // 4. Throughput.
    const steps: Step[] = [];
    for (const rate of p.arpRates) {
      log(`flood: ARP for ${VIP4} at ${rate}/s for ${p.seconds} s`);
      steps.push(await floodStep(pair, l2, pid, p, 'l2lb', VIP4, rate));
    }
    log(`flood: NS for ${VIP6} at ${p.nsRate}/s`);
    steps.push(await floodStep(pair, l2, pid, p, 'l2lb', VIP6, p.nsRate));
    log(`flood: ARP for the kernel's ${KERNEL4} at ${p.kernelRate}/s (control: what the client can send and count)`);
    steps.push(await floodStep(pair, l2, pid, p, 'kernel', KERNEL4, p.kernelRate));
    const rssEnd = rssKiB(pid);
    const rssMaxDuringFloods = Math.max(...steps.map((s) => s.rssKiB ?? 0));

    // 5. Per-frame cost breakdown, with l2lb stopped so it does not answer the frames involved.
    await l2.stop('SIGKILL');
    l2 = undefined;
    log('cost breakdown: recv, respond, send');
    const breakdown = measureBreakdown(pair, VIP4, VIP6, CLIENT4, CLIENT6);
    log('done');

    // Report.
    const lat = latency.targets;
    const ratio = (proto: string) => {
      const a = lat.find((t) => t.protocol === proto && t.label === 'l2lb');
      const b = lat.find((t) => t.protocol === proto && t.label === 'kernel');
      return a && b ? a.us.p50 / b.us.p50 : NaN;
    };
    const results = {
      date: new Date().toISOString(),
      command: ['node_modules/.bin/bun test/bench/run.ts', ...process.argv.slice(2)].join(' '),
      l2lbCommand: p.command.map((a) => a.replace(ROOT + '/', '')).join(' '),
      machine: machine(),
      params: p,
      experimentL2lbRcvbuf: rcvbuf,
      latency: {
        targets: lat,
        p50RatioL2lbToKernel: { arp: ratio('arp'), ndp: ratio('ndp') },
        busyBeforePercent: latencyBusyBefore,
      },
      throughput: steps,
      breakdown,
      startup: { ...startup, medianMs: median(startup.readyMs) },
      rss: { idleKiB: rssIdle, maxDuringFloodsKiB: rssMaxDuringFloods, afterFloodsKiB: rssEnd },
      benchSeconds: (Date.now() - t0) / 1000,
    };
    writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');

    const out: string[] = [];
    out.push(`l2lb responder bench — ${results.date}`, JSON.stringify(results.machine), `l2lb: ${results.l2lbCommand}; generator pinned: ${p.pin.length ? p.pin.join(' ') : 'no'}`);
    if (rcvbuf) out.push(`EXPERIMENT: l2lb's socket receive buffer forced to ${rcvbuf} bytes (not the product's own setting)`);
    out.push('');
    out.push(`Latency (request sent in B -> reply received in B, µs; ${p.n} per target, interleaved)`);
    out.push(table(['target', 'proto', 'answered', 'wrong MAC', 'p50', 'p90', 'p99', 'max'], lat.map((t) => [
      `${t.label} ${t.ip}`, t.protocol, `${t.answered}/${t.sent}`, String(t.wrongMac), f1(t.us.p50), f1(t.us.p90), f1(t.us.p99), f1(t.us.max),
    ])));
    out.push(`p50 ratio l2lb/kernel: ARP ${f2(results.latency.p50RatioL2lbToKernel.arp)}x, NDP ${f2(results.latency.p50RatioL2lbToKernel.ndp)}x`);
    const floorLat = lat.find((t) => t.label === 'C floor');
    const l2lbArp = lat.find((t) => t.label === 'l2lb' && t.protocol === 'arp');
    if (floorLat && l2lbArp) out.push(`p50 ratio l2lb/C floor (ARP): ${f2(l2lbArp.us.p50 / floorLat.us.p50)}x`);
    out.push('');
    out.push(`Throughput (${p.seconds} s per step; loss = sent - answered; CPU in % of one core over the step)`);
    out.push(table(['responder', 'proto', 'wanted/s', 'sent/s', 'answered/s', 'sent', 'answered', 'loss %', 'l2lb CPU %', 'l2lb rcvd', 'not read', 'l2lb replies'], steps.map((s) => [
      `${s.responder} ${s.target}`, s.protocol, f0(s.rateWanted), f0(s.rateAchieved), f0(s.answeredPerSecond), String(s.sent), String(s.answered),
      f2(s.lossPercent), f1(s.l2lbCpuPercent), String(s.l2lb.framesReceived), String(s.l2lb.notReceived), String(s.l2lb.replies),
    ])));
    out.push('not read = sent - l2lb_frames_received_total: frames dropped before l2lb read them (its socket queue was full)');
    out.push('');
    out.push('Threads during each step (run/wait = on a CPU / runnable but waiting for one, % of the step; preempted = involuntary switches)');
    out.push(table(['responder', 'proto', 'wanted/s', 'busiest l2lb thread', 'run %', 'wait %', 'preempted', 'generator run %', 'gen. wait %', 'machine busy %', 'others %', 'steal %'], steps.map((s) => [
      `${s.responder} ${s.target}`, s.protocol, f0(s.rateWanted), s.l2lbBusiestThread ? `${s.l2lbBusiestThread.comm} ${s.l2lbBusiestThread.tid}` : '-',
      f1(s.l2lbBusiestThread?.runPercent), f1(s.l2lbBusiestThread?.waitPercent), String(s.l2lbBusiestThread?.involuntarySwitches ?? '-'),
      f1(s.generatorThread?.runPercent), f1(s.generatorThread?.waitPercent),
      f1(s.machine.busyPercent), f1(s.othersPercent), f1(s.machine.stealPercent),
    ])));
    out.push('others = machine busy - l2lb - generator: other processes on this shared machine; steps with others > 15 % are disturbed');
    out.push('');
    out.push('Per-frame cost breakdown (µs per operation, measured alone on the same veth pair with the product code)');
    out.push(table(['recv', 'recv (empty)', 'poll (ready)', 'respond ARP', 'respond NS', 'send', 'recv+respond+send ARP', 'max ARP answers/s on one core'], [[
      f2(breakdown.recvUs), f2(breakdown.recvEmptyUs), f2(breakdown.pollReadyUs), f2(breakdown.respondArpUs), f2(breakdown.respondNsUs), f2(breakdown.sendUs),
      f2(breakdown.perArpReplyUs), f0(breakdown.maxArpRepliesPerSecond),
    ]]));
    out.push(`Worker CPU per received frame in the floods: ${steps.map((s) => `${s.protocol} ${f0(s.rateWanted)}/s ${f1(s.workerUsPerFrame)} µs`).join(', ')}`);
    out.push('');
    out.push(`Startup to ready (spawn -> first 200 on /readyz): median ${f0(results.startup.medianMs)} ms of ${startup.readyMs.length} (${startup.readyMs.map(f0).join(', ')} ms)`);
    out.push(`RSS: idle ${f1(rssIdle / 1024)} MiB, max at end of a flood step ${f1(rssMaxDuringFloods / 1024)} MiB, after all floods ${f1(rssEnd / 1024)} MiB`);
    out.push(`bench took ${f0(results.benchSeconds)} s; figures in ${RESULTS}`);
    console.log(out.join('\n'));
    return 0;
  } finally {
    if (l2) await l2.stop('SIGKILL').catch(() => undefined);
    cleanup();
  }
}

if (import.meta.main) process.exit(await main());
