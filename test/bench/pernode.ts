/**
 * Per-node mode bench (issue 9, "Benchmark"), on the namespaces of test/support/gateway.ts with `perNode`:
 * an instance of the compiled binary on every node, default health, membership and restartGrace settings.
 *
 * 1. node failure: the bridge port of the node serving the address goes down; time to the new owner's first
 *    gratuitous ARP at the client (tcpdump timestamps; Ethernet source = the new node's MAC) and to the
 *    client's first UDP answer from the new node (a datagram every 10 ms); and the disagreement window:
 *    the spread of the times at which the surviving instances moved the address (their logs);
 * 2. instance SIGKILL on a healthy node (restarted 1 s later, like a crash loop): addresses moved and the
 *    longest gap in a client's UDP answers through that node;
 * 3. rolling restart of every instance (SIGTERM, restart, wait until ready and agreed), one by one:
 *    addresses moved and the longest gap in UDP answers through every node;
 * 4. soak: `--nodes` instances (default 20) on one segment for `--soak` seconds (default 60; 600 is the
 *    issue's 10 minutes), a busy loop on every core for the second half: heartbeats/s, probes/s, CPU and
 *    RSS per instance, false moves and disagreements.
 *
 * Run as root: `node_modules/.bin/bun test/bench/pernode.ts [--runs=20] [--kills=10] [--rounds=3]
 * [--nodes=20] [--soak=60] [--only=node,kill,rolling,soak]`. Prints a table and writes
 * test/bench/pernode-results.json (a partial run writes pernode-results-<scenarios>.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, waitFor } from '../support/netns.ts';
import { ROOT } from '../support/l2lb.ts';
import { type ArpCapture, Gateway, isGratuitous } from '../support/gateway.ts';
import { cpuBetween, cpuSnapshot, rssKiB } from './proc.ts';
import { fmt, metric, ms, pidOf } from './measure.ts';

const PREFIX = 'l2pbench';
const KEY = 'pernode-bench-shared-secret';
const VIPS = ['192.0.2.200', '192.0.2.201', '192.0.2.202', '192.0.2.203', '192.0.2.204', '192.0.2.205', '192.0.2.206', '192.0.2.207'];
/** The client's datagram period (ms): the resolution of the "first answer" and gap figures. */
const REQUEST_MS = 10;
/** Default Lease timings. */
const LEASE = { leaseDuration: '5s', renewDeadline: '3s', retryPeriod: '1s' };

/**
 * The echoes of the UDP flows as the client's kernel receives them (tcpdump timestamps on the client's
 * interface), by client port. Gaps are computed only once an echo later than the window has been read:
 * lines still in the pipe at the window's end would otherwise count as a gap at its end (the harness
 * blocks in synchronous `curl` calls for a few hundred ms while it polls the instances).
 */
/** The longest time between events of one client port in [from, to], over every port (from `from`, to `to`). */
function longestGap(events: readonly { t: number; port: number }[], from: number, to: number): number {
  const byPort = new Map<number, number[]>();
  for (const e of events) {
    if (e.t < from - 1_000 || e.t > to) continue;
    let list = byPort.get(e.port);
    if (!list) byPort.set(e.port, (list = []));
    list.push(e.t);
  }
  let gap = 0;
  for (const times of byPort.values()) {
    let last = times.filter((t) => t < from).at(-1) ?? from;
    for (const t of times) {
      if (t < from) continue;
      gap = Math.max(gap, t - last);
      last = t;
    }
    gap = Math.max(gap, to - last);
  }
  return gap;
}

class EchoCapture {
  readonly echoes: { t: number; node: string; port: number }[] = [];
  /** Requests the client sent, by time and client port. */
  readonly requests: { t: number; port: number }[] = [];
  private constructor(private readonly proc: Bun.Subprocess<'ignore', 'pipe', 'pipe'>) {}

  static async start(gw: Gateway): Promise<EchoCapture> {
    const proc = Bun.spawn({ cmd: ['ip', 'netns', 'exec', gw.client.ns, 'tcpdump', '-i', 'eth0', '-n', '-tt', '-l', '--immediate-mode', 'udp and port 7000'], stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const cap = new EchoCapture(proc);
    const byIp = new Map(gw.nodes.map((n) => [n.ip, n.node]));
    let err = '';
    void (async () => {
      const dec = new TextDecoder();
      for await (const c of proc.stderr) err += dec.decode(c);
    })();
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      for await (const c of proc.stdout) {
        buf += dec.decode(c, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.7000 > [\d.]+\.(\d+):/.exec(line);
          if (m) cap.echoes.push({ t: Number(m[1]) * 1000, node: byIp.get(m[2]!) ?? m[2]!, port: Number(m[3]) });
          const q = /^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.7000:/.exec(line);
          if (q) cap.requests.push({ t: Number(q[1]) * 1000, port: Number(q[2]) });
        }
      }
    })();
    await waitFor('tcpdump listening', () => err.includes('listening on') || proc.exitCode !== null, 5_000, 20);
    return cap;
  }

  /** The first echo from `node` at or after `from`. */
  firstFrom(node: string, from: number): { t: number } | undefined {
    return this.echoes.find((e) => e.t >= from && e.node === node);
  }

  /** The longest time without an echo in [from, to], over every flow, once the capture has read past `to`. */
  async gap(from: number, to: number): Promise<number> {
    await waitFor('the capture read past the window', () => this.echoes.some((e) => e.t > to) || undefined, 5_000, 20);
    return this.maxGap(from, to);
  }

  /**
   * Requests sent in [from, to] that got no echo: per flow, requests in the window minus echoes from
   * `from` to 200 ms after `to` (an answer takes well under a millisecond here). Unlike a gap, this does
   * not move with the scheduling of the client process: a lost answer is lost.
   */
  async lost(from: number, to: number): Promise<number> {
    await waitFor('the capture read past the window', () => this.echoes.some((e) => e.t > to + 200) || undefined, 5_000, 20);
    let lost = 0;
    for (const port of new Set(this.requests.filter((r) => r.t >= from && r.t <= to).map((r) => r.port))) {
      const sent = this.requests.filter((r) => r.port === port && r.t >= from && r.t <= to).length;
      const got = this.echoes.filter((e) => e.port === port && e.t >= from && e.t <= to + 200).length;
      lost += Math.max(0, sent - got);
    }
    return lost;
  }

  /** The longest time the client sent no request in [from, to], over every flow: the sender's own pauses. */
  requestGap(from: number, to: number): number {
    return longestGap(this.requests, from, to);
  }

  /** The longest time without an echo in [from, to], over every flow (client port) that had echoes then. */
  private maxGap(from: number, to: number): number {
    return longestGap(this.echoes, from, to);
  }

  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill();
  }
}

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number (got ${a})`);
  return v;
}

/** What every running instance says serves each address, once they all agree (undefined while not). */
function agreedOwners(gw: Gateway, vips: readonly string[]): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const ip of vips) {
    const seen = gw.replicas.filter((r) => r.running).map((r) => gw.servingNode(r.index, ip));
    if (seen.length === 0 || seen.some((n) => n === undefined || n !== seen[0])) return undefined;
    out.set(ip, seen[0]!);
  }
  return out;
}

function agreed(gw: Gateway, vips: readonly string[], timeoutMs = 20_000): Promise<Map<string, string>> {
  return waitFor('every instance agrees on every address', () => agreedOwners(gw, vips), timeoutMs, 50);
}

/** Addresses whose node differs between two views. */
function moved(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string[] {
  return [...a].filter(([ip, n]) => b.get(ip) !== n).map(([ip]) => ip);
}

/** The times (epoch ms) at which each running instance but `except` logged moving `ip`, at or after `from`. */
function moveTimes(gw: Gateway, ip: string, from: number, except: number): number[] {
  const out: number[] = [];
  for (const r of gw.replicas) {
    if (!r.running || r.index === except) continue;
    for (const line of r.running.logs().split('\n')) {
      if (!line.includes('"address moved"') || !line.includes(`"address":"${ip}"`)) continue;
      const t = Date.parse(JSON.parse(line).time);
      if (t >= from) {
        out.push(t);
        break;
      }
    }
  }
  return out;
}

// -------------------------------------------------------------------------------------------- scenario 1

async function nodeFailure(gw: Gateway, cap: ArpCapture, flow: EchoCapture, vip: string, runs: number) {
  const garp: number[] = [];
  const answer: number[] = [];
  const windows: number[] = [];
  const moves: string[] = [];
  for (let i = 0; i < runs; i++) {
    const owners = await agreed(gw, VIPS.slice(0, 6));
    const serving = gw.node(owners.get(vip)!);
    const victim = gw.nodes.indexOf(serving);
    await waitFor(`answers from ${serving.node}`, () => flow.firstFrom(serving.node, Date.now() - 100), 5_000, 10);
    // A random phase against the probe rounds and heartbeats, as a real failure has.
    await Bun.sleep(Math.random() * 100);
    const t0 = Date.now();
    gw.setLink(serving, false);
    try {
      const g = await waitFor('a gratuitous ARP from the new owner', () =>
        cap.about(vip, t0).find((f) => isGratuitous(f) && f.ethSrc === f.senderMac && f.senderMac !== serving.mac), 5_000, 5);
      const to = gw.nodeByMac(g.senderMac)!;
      const a = await waitFor(`an answer from ${to.node}`, () => flow.firstFrom(to.node, t0), 5_000, 5);
      // Every surviving instance has moved it: the spread of their decisions.
      const times = await waitFor('every other instance moved it', () => {
        const t = moveTimes(gw, vip, t0, victim);
        return t.length === gw.replicas.length - 1 ? t : undefined;
      }, 5_000, 20);
      garp.push(g.at - t0);
      answer.push(a.t - t0);
      windows.push(Math.max(...times) - Math.min(...times));
      moves.push(`${serving.node}->${to.node}`);
      process.stdout.write(`  node failure ${i + 1}/${runs}: ${serving.node} -> ${to.node}: gratuitous ARP ${(g.at - t0).toFixed(0)} ms, first answer ${a.t - t0} ms, instances decided within ${windows.at(-1)} ms\n`);
    } finally {
      gw.setLink(serving, true);
    }
    await agreed(gw, VIPS.slice(0, 6));
    await Bun.sleep(500);
  }
  return { garp: ms(garp), answer: ms(answer), disagreementWindow: ms(windows), moves };
}

// -------------------------------------------------------------------------------------------- scenario 2

async function instanceKill(gw: Gateway, flow: EchoCapture, vip: string, runs: number) {
  const gaps: number[] = [];
  const movedDuring: number[] = [];
  const movedAfter: number[] = [];
  const lostCounts: number[] = [];
  const sendGaps: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = await agreed(gw, VIPS.slice(0, 6));
    const node = before.get(vip)!;
    const idx = gw.nodes.indexOf(gw.node(node));
    await waitFor(`answers from ${node}`, () => flow.firstFrom(node, Date.now() - 100), 5_000, 10);
    const t0 = Date.now();
    await gw.stopReplica(idx, 'SIGKILL');
    await Bun.sleep(1_000);
    const during = agreedOwners(gw, VIPS.slice(0, 6));
    await gw.startReplica(idx);
    const after = await agreed(gw, VIPS.slice(0, 6));
    await Bun.sleep(200);
    const t1 = Date.now();
    gaps.push(await flow.gap(t0, t1));
    lostCounts.push(await flow.lost(t0, t1));
    sendGaps.push(flow.requestGap(t0, t1));
    movedDuring.push(during ? moved(before, during).length : NaN);
    movedAfter.push(moved(before, after).length);
    process.stdout.write(`  instance SIGKILL ${i + 1}/${runs} on ${node}: moved ${movedDuring.at(-1)} during the restart, ${movedAfter.at(-1)} after; longest gap ${gaps.at(-1)!.toFixed(0)} ms (the client's own longest pause in sending ${sendGaps.at(-1)!.toFixed(0)} ms), answers lost ${lostCounts.at(-1)}\n`);
  }
  return { gapMs: ms(gaps), sendGapMs: ms(sendGaps), movedDuring, movedAfter, lost: lostCounts };
}

// -------------------------------------------------------------------------------------------- scenario 3

async function rollingRestart(gw: Gateway, echoes: EchoCapture, rounds: number) {
  const gaps: number[] = [];
  const movedCounts: number[] = [];
  const durations: number[] = [];
  const lostCounts: number[] = [];
  const sendGaps: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const before = await agreed(gw, VIPS.slice(0, 6));
    const t0 = Date.now();
    let movedHere = 0;
    for (const r of gw.replicas) {
      await gw.stopReplica(r.index, 'SIGTERM');
      await Bun.sleep(500);
      const during = agreedOwners(gw, VIPS.slice(0, 6));
      if (during) movedHere = Math.max(movedHere, moved(before, during).length);
      await gw.startReplica(r.index);
      movedHere = Math.max(movedHere, moved(before, await agreed(gw, VIPS.slice(0, 6))).length);
    }
    const end = Date.now();
    durations.push(end - t0);
    gaps.push(await echoes.gap(t0, end));
    lostCounts.push(await echoes.lost(t0, end));
    sendGaps.push(echoes.requestGap(t0, end));
    movedCounts.push(movedHere);
    process.stdout.write(`  rolling restart ${k + 1}/${rounds}: ${gw.replicas.length} instances in ${end - t0} ms, moved ${movedHere}, longest gap ${gaps.at(-1)!.toFixed(0)} ms (the client's own longest pause in sending ${sendGaps.at(-1)!.toFixed(0)} ms), answers lost ${lostCounts.at(-1)}\n`);
  }
  return { gapMs: ms(gaps), sendGapMs: ms(sendGaps), moved: movedCounts, durationMs: ms(durations), lost: lostCounts };
}

// -------------------------------------------------------------------------------------------- scenario 4

async function soak(nodes: number, soakS: number, busy: boolean) {
  const gw = await Gateway.create({
    prefix: 'l2psoak', nodes, perNode: true, lease: LEASE, service: false, config: { membership: { key: KEY } },
  }, async (g) => {
    for (const [i, ip] of VIPS.entries()) await g.createService(`soak${i}`, ip);
  });
  try {
    const running = gw.replicas;
    await agreed(gw, VIPS, 60_000);
    await waitFor('every instance hears every other', () => running.every((r) => metric(r, 'l2lb_members') >= nodes), 30_000, 500);
    await Bun.sleep(2_000);
    const pids = running.map(pidOf);
    const hb0 = running.map((r) => metric(r, 'l2lb_heartbeats_sent_total'));
    const sent0 = running.map((r) => metric(r, 'l2lb_frames_sent_total'));
    const fo0 = running.map((r) => metric(r, 'l2lb_failovers_total'));
    const dis0 = running.map((r) => metric(r, 'l2lb_instance_disagreements_total'));
    const pc0 = running.map((r) => metric(r, 'l2lb_probe_changes_total'));
    const owners0 = await agreed(gw, VIPS);
    const cpu0 = pids.map(cpuSnapshot);
    const t0 = Date.now();
    const loops: Bun.Subprocess[] = [];
    let busyFromS: number | undefined;
    let cpuQuiet: ReturnType<typeof cpuSnapshot>[] | undefined;
    try {
      const half = soakS * 500;
      await Bun.sleep(half);
      cpuQuiet = pids.map(cpuSnapshot);
      if (busy) {
        busyFromS = (Date.now() - t0) / 1000;
        const cores = Number(sh(['nproc']).stdout.trim()) || 2;
        for (let i = 0; i < cores; i++) loops.push(Bun.spawn({ cmd: ['bash', '-c', 'while :; do :; done'], stdout: 'ignore', stderr: 'ignore' }));
        process.stdout.write(`  busy loops on ${cores} cores from ${busyFromS.toFixed(0)} s\n`);
      }
      await Bun.sleep(Math.max(0, soakS * 1000 - (Date.now() - t0)));
    } finally {
      for (const l of loops) l.kill('SIGKILL');
    }
    const windowS = (Date.now() - t0) / 1000;
    const quietS = soakS / 2;
    const owners1 = await agreed(gw, VIPS);
    const logMoves = running.map((r) => r.running!.logs().split('\n').filter((l) => l.includes('"address moved"') && Date.parse(JSON.parse(l).time) >= t0).length);
    return {
      nodes, soakS: windowS, busyFromS, addresses: VIPS.length,
      movedOverall: moved(owners0, owners1).length,
      instances: running.map((r, k) => ({
        instance: r.name,
        heartbeatsSentPerS: (metric(r, 'l2lb_heartbeats_sent_total') - hb0[k]!) / windowS,
        framesSentPerS: (metric(r, 'l2lb_frames_sent_total') - sent0[k]!) / windowS,
        cpuPercentQuiet: cpuBetween(cpu0[k]!, cpuQuiet![k]!).runPercent,
        cpuPercentAll: cpuBetween(cpu0[k]!, cpuSnapshot(pids[k]!)).runPercent,
        rssMiB: rssKiB(pids[k]!) / 1024,
        members: metric(r, 'l2lb_members'),
        failovers: metric(r, 'l2lb_failovers_total') - fo0[k]!,
        movesLogged: logMoves[k]!,
        disagreements: metric(r, 'l2lb_instance_disagreements_total') - dis0[k]!,
        probeChanges: metric(r, 'l2lb_probe_changes_total') - pc0[k]!,
      })),
      quietS,
    };
  } finally {
    await gw.destroy();
  }
}

// ------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('per-node bench: skipped, needs root (network namespaces)');
    return;
  }
  const runs = arg('runs', 20);
  const kills = arg('kills', 10);
  const rounds = arg('rounds', 3);
  const soakNodes = arg('nodes', 20);
  const soakS = arg('soak', 60);
  const busy = arg('busy', 1) === 1;
  const all = ['node', 'kill', 'rolling', 'soak'];
  const only = process.argv.find((x) => x.startsWith('--only='))?.slice(7).split(',') ?? all;
  const started = new Date();
  let gw: Gateway | undefined;
  const onSignal = () => {
    void gw?.destroy().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const out: Record<string, unknown> = { date: started.toISOString(), command: `node_modules/.bin/bun test/bench/pernode.ts ${process.argv.slice(2).join(' ')}`.trim() };
  try {
    let s1, s2, s3, baselineGap;
    if (only.some((s) => s !== 'soak')) {
      gw = await Gateway.create({ prefix: PREFIX, nodes: 3, perNode: true, lease: LEASE, service: false, config: { membership: { key: KEY } } }, async (g) => {
        for (const [i, ip] of VIPS.slice(0, 6).entries()) await g.createService(`web${i}`, ip);
      });
      // Each node learns the client's MAC now, so its first answer after a failover waits for no ARP of its own.
      for (const n of gw.nodes) sh(['ping', '-c', '1', '-W', '1', gw.client.ip], { ns: n.ns, check: false });
      const cap = await gw.capture();
      const owners = await agreed(gw, VIPS.slice(0, 6));
      const vip = VIPS[0]!;
      const echoes = await EchoCapture.start(gw);
      await gw.flow(vip, REQUEST_MS, 'udp');
      if (only.includes('node')) {
        console.log(`1. node failure (link down), ${runs} runs`);
        s1 = await nodeFailure(gw, cap, echoes, vip, runs);
      }
      // The same flows with nothing happening, in the same run: the floor of the gap figures below.
      let baseline;
      if (only.includes('kill') || only.includes('rolling')) {
        const quiet: number[] = [];
        const quietLost: number[] = [];
        for (let k = 0; k < 5; k++) {
          const b0 = Date.now();
          await Bun.sleep(4_000);
          const b1 = Date.now();
          quiet.push(await echoes.gap(b0, b1));
          quietLost.push(await echoes.lost(b0, b1));
        }
        out.quietLost = quietLost;
        baseline = ms(quiet);
        console.log(`   baseline: longest UDP answer gap over 5 quiet 4 s windows ${fmt(baseline)}`);
        baselineGap = baseline;
      }
      if (only.includes('kill')) {
        console.log(`2. instance SIGKILL on a healthy node, restarted after 1 s, ${kills} runs`);
        s2 = await instanceKill(gw, echoes, vip, kills);
      }
      if (only.includes('rolling')) {
        console.log(`3. rolling restart of all ${gw.replicas.length} instances, ${rounds} rounds`);
        const now = await agreed(gw, VIPS.slice(0, 6));
        const perNode = new Map<string, string>();
        for (const [ip, n] of now) if (!perNode.has(n)) perNode.set(n, ip);
        for (const ip of perNode.values()) if (ip !== vip) await gw.flow(ip, REQUEST_MS, 'udp');
        s3 = await rollingRestart(gw, echoes, rounds);
      }
      echoes.stop();
      out.spread = [...owners.values()].reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
      await gw.destroy();
      gw = undefined;
    }
    let s4;
    if (only.includes('soak')) {
      console.log(`4. ${soakNodes} instances on one segment, ${soakS} s soak${busy ? ', busy loops for the second half' : ''}`);
      s4 = await soak(soakNodes, soakS, busy);
    }

    console.log('\nscenario                                       runs    min    p50    p95    max (ms)   target');
    if (s1) {
      const met = s1.answer.summary.p50 <= 250 && s1.answer.summary.p95 <= 400 ? 'met' : 'MISSED';
      console.log(`node failure -> new owner's gratuitous ARP     ${fmt(s1.garp)}`);
      console.log(`node failure -> first answer from new node     ${fmt(s1.answer)}   p50 <= 250, p95 <= 400: ${met}`);
      console.log(`node failure: instances' decisions spread over ${fmt(s1.disagreementWindow)}   (the disagreement window)`);
    }
    if (baselineGap) console.log(`nothing happening: longest UDP answer gap     ${fmt(baselineGap)}   (the floor, same run)`);
    if (s2) {
      console.log(`instance SIGKILL: longest UDP answer gap       ${fmt(s2.gapMs)}   <= 20: ${s2.gapMs.summary.max <= 20 ? 'met' : 'MISSED'}`);
      console.log(`  the client's own longest pause in sending   ${fmt(s2.sendGapMs)}`);
      console.log(`  answers lost per restart: ${s2.lost.join(',')} (nothing happening: ${(out.quietLost as number[] | undefined)?.join(',') ?? '-'} per 4 s)`);
      console.log(`  addresses moved during / after each restart: ${s2.movedDuring.join(',')} / ${s2.movedAfter.join(',')}   0: ${[...s2.movedDuring, ...s2.movedAfter].every((x) => x === 0) ? 'met' : 'MISSED'}`);
    }
    if (s3) {
      console.log(`rolling restart: longest UDP answer gap        ${fmt(s3.gapMs)}   <= 20: ${s3.gapMs.summary.max <= 20 ? 'met' : 'MISSED'}`);
      console.log(`  the client's own longest pause in sending   ${fmt(s3.sendGapMs)}`);
      console.log(`  answers lost per round: ${s3.lost.join(',')}`);
      console.log(`  addresses moved per round: ${s3.moved.join(',')}   0: ${s3.moved.every((x) => x === 0) ? 'met' : 'MISSED'}; a round took ${fmt(s3.durationMs)}`);
    }
    if (s4) {
      console.log(`\n${s4.nodes} instances, ${s4.addresses} addresses, soak ${s4.soakS.toFixed(0)} s${s4.busyFromS !== undefined ? `, busy loops from ${s4.busyFromS.toFixed(0)} s` : ''}; addresses moved over the soak: ${s4.movedOverall}`);
      console.log('instance  heartbeats/s  frames sent/s  CPU % (quiet)  CPU % (all)  RSS MiB  members  failovers  moves logged  disagreements  probe changes');
      for (const r of s4.instances) {
        console.log(`${r.instance.padEnd(9)} ${r.heartbeatsSentPerS.toFixed(1).padStart(12)} ${r.framesSentPerS.toFixed(1).padStart(14)} ${r.cpuPercentQuiet.toFixed(2).padStart(14)} ${r.cpuPercentAll.toFixed(2).padStart(12)} ${r.rssMiB.toFixed(1).padStart(8)} ${String(r.members).padStart(8)} ${String(r.failovers).padStart(10)} ${String(r.movesLogged).padStart(13)} ${String(r.disagreements).padStart(14)} ${String(r.probeChanges).padStart(14)}`);
      }
    }
    Object.assign(out, { settings: { lease: LEASE, requestPeriodMs: REQUEST_MS, health: 'defaults', membership: 'defaults + key', restartGrace: 'default (5 s)' }, nodeFailure: s1, quietGapMs: baselineGap, instanceKill: s2, rollingRestart: s3, soak: s4 });
    if (out.spread instanceof Map) out.spread = Object.fromEntries(out.spread);
    const name = only.length === all.length ? 'pernode-results.json' : `pernode-results-${only.join('+')}.json`;
    writeFileSync(join(ROOT, 'test/bench', name), JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote test/bench/${name}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await gw?.destroy();
  }
}

await main();
