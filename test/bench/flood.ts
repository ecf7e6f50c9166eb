/**
 * Flood bench (issue 11, "Benchmark"), on the namespaces of test/support/gateway.ts: the gateway model, two
 * replicas of the compiled binary, two nodes, the API server stand-in with the product's default Lease
 * timings (5 s / 3 s / 1 s), dual stack. A paced sender in the client namespace floods the leader
 * (test/support/pressure.ts) while its admin API is polled every 10 ms from inside its namespace and the
 * Lease is read every 50 ms; a client resolves and reaches the Service address every 500 ms.
 *
 * Steps (each `--seconds`, default 10): a quiet baseline; ARP from one requester in a loop; ARP from 2,048
 * requesters at each `--rates` (default 50000,100000); NS from 2,048 requesters at 100,000/s; and the
 * baseline for the answering itself, in the same run: the same 2,048-requester ARP flood at the leader
 * host's own address, which its kernel answers (its replies counted from the interface's tx counter).
 *
 * Per step: frames received, replies, limited, dropped by the kernel on each lane, answered %, worker and
 * process CPU, admin API p50/p99/max, Lease holder and the longest gap between renewals, node probe misses
 * and state changes, takeovers by the standby, client answers.
 *
 * Run as root: `node_modules/.bin/bun test/bench/flood.ts [--seconds=10] [--rates=50000,100000]`. Prints a
 * table and writes test/bench/flood-results.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../support/netns.ts';
import { ROOT } from '../support/l2lb.ts';
import { GATEWAY_VIP, GATEWAY_VIP6, Gateway } from '../support/gateway.ts';
import { ApiPoller, type FloodReport, LeaseWatch, answersThrough, describeFlood, underFlood } from '../support/pressure.ts';
import { cpuBetween, cpuSnapshot } from './proc.ts';
import { pidOf } from './measure.ts';

const arg = (name: string, dflt: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const SECONDS = Number(arg('seconds', '10'));
const RATES = arg('rates', '50000,100000').split(',').map(Number);
const LEASE = { leaseDuration: '5s', renewDeadline: '3s', retryPeriod: '1s' };

interface Step {
  name: string;
  responder: 'l2lb' | 'kernel';
  report?: FloodReport;
  /** Kernel step: replies the leader host's kernel sent (tx packets). */
  kernelReplies?: number;
  answeredPercent?: number;
  cpu: { process: number; worker: number; workerWaiting: number };
  api: { p50: number; p99: number; max: number; failed: number };
  renewGapMax: number;
  holders: string[];
}

const txPackets = (ns: string) => Number(sh(['cat', '/sys/class/net/eth0/statistics/tx_packets'], { ns }).stdout.trim());

async function main(): Promise<void> {
  const gw = await Gateway.create({ prefix: 'l2fbench', nodes: 2, replicas: 2, lease: LEASE, ipv6: true }, async (g) => {
    await g.createService('web6', GATEWAY_VIP6, { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
  });
  const steps: Step[] = [];
  try {
    const leader = await gw.leader(15_000);
    for (const ip of [GATEWAY_VIP, GATEWAY_VIP6]) {
      const ok = answersThrough(gw, ip);
      for (let i = 0; i < 100 && !ok(); i++) await Bun.sleep(100);
    }
    const poller = ApiPoller.start(leader.ns, `http://127.0.0.1:${leader.running!.port}/healthz`, leader.running!.token);
    const lease = new LeaseWatch(gw.api).start();
    const pid = pidOf(leader);
    await Bun.sleep(2_000);
    const worker = (c: ReturnType<typeof cpuBetween>) => c.threads.filter((t) => t.comm === 'Worker').reduce((s, t) => s + t.runPercent, 0);
    // Runnable but not running: the worker waiting for a CPU (the machine's other work, softirqs).
    const waiting = (c: ReturnType<typeof cpuBetween>) => c.threads.filter((t) => t.comm === 'Worker').reduce((s, t) => s + t.waitPercent, 0);
    const apiOf = (from: number, to: number) => {
      const ms = poller.between(from, to).map((p) => p.ms).sort((a, b) => a - b);
      const q = (p: number) => ms[Math.min(ms.length, Math.max(1, Math.ceil(p * ms.length))) - 1] ?? NaN;
      return { p50: q(0.5), p99: q(0.99), max: ms.at(-1) ?? NaN, failed: poller.between(from, to).filter((p) => p.status !== 200).length };
    };
    const gapMax = (from: number, to: number) => Math.max(0, ...lease.renewGaps(from, to));

    // Quiet baseline.
    {
      const c0 = cpuSnapshot(pid);
      const from = Date.now();
      await Bun.sleep(SECONDS * 1000);
      const to = Date.now();
      const c = cpuBetween(c0, cpuSnapshot(pid));
      steps.push({ name: 'no flood', responder: 'l2lb', cpu: { process: c.runPercent, worker: worker(c), workerWaiting: waiting(c) }, api: apiOf(from, to), renewGapMax: gapMax(from, to), holders: lease.holders(from, to) });
      console.log(`no flood: API p50/p99 ${steps[0]!.api.p50.toFixed(1)}/${steps[0]!.api.p99.toFixed(1)} ms`);
    }
    const flood = async (name: string, target: string, requesters: number, rate: number) => {
      const c0 = cpuSnapshot(pid);
      const r = await underFlood(gw, leader, { target, requesters, rate, seconds: SECONDS, cpu: 1 }, { poller, lease, answer: answersThrough(gw, target) });
      const c = cpuBetween(c0, cpuSnapshot(pid));
      console.log(`${name}: ${describeFlood(r)}; worker ${worker(c).toFixed(0)} % running, ${waiting(c).toFixed(0)} % waiting for a CPU`);
      steps.push({
        name, responder: 'l2lb', report: r, answeredPercent: (100 * r.replies) / r.sent,
        cpu: { process: c.runPercent, worker: worker(c), workerWaiting: waiting(c) }, api: r.api, renewGapMax: r.renewGaps.length ? Math.max(...r.renewGaps) : NaN, holders: r.holders,
      });
    };
    await flood('ARP, 1 requester, 100000/s', GATEWAY_VIP, 1, 100_000);
    for (const rate of RATES) await flood(`ARP, 2048 requesters, ${rate}/s`, GATEWAY_VIP, 2048, rate);
    await flood('NS, 2048 requesters, 100000/s', GATEWAY_VIP6, 2048, 100_000);

    // The kernel's own answers, same flood, same path: the leader host's address.
    for (const rate of RATES) {
      const tx0 = txPackets(leader.ns);
      const c0 = cpuSnapshot(pid);
      const r = await underFlood(gw, leader, { target: leader.ip, requesters: 2048, rate, seconds: SECONDS, cpu: 1 }, { poller, lease, answer: answersThrough(gw, GATEWAY_VIP) });
      const c = cpuBetween(c0, cpuSnapshot(pid));
      const kernelReplies = txPackets(leader.ns) - tx0;
      console.log(`kernel ARP, 2048 requesters, ${rate}/s: its replies (tx packets) ${kernelReplies} of ${r.sent}; l2lb meanwhile: ${describeFlood(r)}`);
      steps.push({
        name: `kernel: ARP, 2048 requesters, ${rate}/s`, responder: 'kernel', report: r, kernelReplies, answeredPercent: (100 * kernelReplies) / r.sent,
        cpu: { process: c.runPercent, worker: worker(c), workerWaiting: waiting(c) }, api: r.api, renewGapMax: r.renewGaps.length ? Math.max(...r.renewGaps) : NaN, holders: r.holders,
      });
    }
    lease.stop();
    await poller.stop();
  } finally {
    await gw.destroy();
  }

  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
  console.log('\nstep                                   | answered % | limited | req drops | ctl drops | worker run/wait % | API p50/p99/max ms | renew gap max | holders | misses/changes/takeovers | answers');
  for (const s of steps) {
    const r = s.report;
    console.log(`${s.name.padEnd(38)} | ${f(s.answeredPercent).padStart(10)} | ${String(r?.limited ?? '-').padStart(7)} | ${String(r?.requestDrops ?? '-').padStart(9)} | ${String(r?.controlDrops ?? '-').padStart(9)} | ${`${f(s.cpu.worker, 0)}/${f(s.cpu.workerWaiting, 0)}`.padStart(17)} | ${f(s.api.p50)}/${f(s.api.p99)}/${f(s.api.max)} | ${f(s.renewGapMax, 0)} ms | ${s.holders.length} | ${r ? `${r.probeMisses}/${r.probeChanges}/${r.takeovers}` : '-'} | ${r ? `${r.answers.ok}/${r.answers.asked}` : '-'}`);
  }
  const file = join(ROOT, 'test/bench/flood-results.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, rates: RATES, lease: LEASE, steps }, null, 2));
  console.log(`\nwrote ${file}`);
}

await main();
