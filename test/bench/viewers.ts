/**
 * Status page viewers bench (issue 12): what 100 open status pages cost l2lb, and whether they slow its
 * answers. Namespaces A and B on a veth pair (test/support/netns.ts); the compiled binary in A answers
 * 192.0.2.10, A's kernel answers 192.0.2.1 (the baseline in the same run). In A, a viewer script opens
 * `--viewers` (default 100) pages' worth of traffic: the page itself once, the event stream, and the
 * page's polling of /v1/status and /v1/vips every 2 s; a VIP is added and deleted every second meanwhile so
 * the streams carry events.
 *
 * Two phases of `--seconds` (default 20): without viewers, then with them. Per phase: l2lb's CPU (% of one
 * core, whole process and the main thread), and the ARP request→reply latency of l2lb and of the kernel from B
 * (test/bench/loadgen.ts, alternating, 2,000 each), started halfway through the phase.
 *
 * Run as root: `node_modules/.bin/bun test/bench/viewers.ts [--viewers=100] [--seconds=20]`. Prints a table
 * and writes test/bench/viewers-results.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPair, sh, spawnIn } from '../support/netns.ts';
import { BUN, ROOT, startL2lb } from '../support/l2lb.ts';
import type { LatencyArgs, LatencyResult } from './loadgen.ts';
import { cpuBetween, cpuSnapshot } from './proc.ts';
import { findPids } from './proc.ts';

const arg = (name: string, dflt: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const VIEWERS = Number(arg('viewers', '100'));
const SECONDS = Number(arg('seconds', '20'));
const LOADGEN = join(ROOT, 'test/bench/loadgen.ts');

/** N pages' worth of requests against `origin`; prints `streams <open> events <received> polls <n> failed <n>` when stdin closes. */
const VIEWER_SCRIPT = `
const [origin, n] = [process.env.ORIGIN, Number(process.env.VIEWERS)];
let open = 0, events = 0, polls = 0, failed = 0, stop = false;
async function viewer() {
  try { await (await fetch(origin + '/')).text(); } catch { failed++; }
  const ctl = new AbortController();
  (async () => {
    try {
      const r = await fetch(origin + '/v1/events', { signal: ctl.signal });
      open++;
      const dec = new TextDecoder();
      for await (const chunk of r.body) { const t = dec.decode(chunk); events += t.split('\\nid: ').length - 1 + (t.startsWith('id: ') ? 1 : 0); }
    } catch { if (!stop) failed++; }
  })();
  await Bun.sleep(Math.random() * 2000);
  while (!stop) {
    for (const p of ['/v1/status', '/v1/vips']) { try { const r = await fetch(origin + p); await r.arrayBuffer(); polls++; if (!r.ok) failed++; } catch { failed++; } }
    await Bun.sleep(2000);
  }
  ctl.abort();
}
for (let i = 0; i < n; i++) void viewer();
for await (const _ of Bun.stdin.stream()) {}
stop = true;
await Bun.sleep(100);
console.log(JSON.stringify({ open, events, polls, failed }));
process.exit(0);
`;

async function latency(nsB: string, ifB: string, mac: string): Promise<LatencyResult> {
  const args: LatencyArgs = {
    mode: 'latency', ifname: ifB, src4: '192.0.2.2', src6: '2001:db8::2', n: 2000, warmup: 200, timeoutMs: 200, expectMac: mac,
    groups: [[{ label: 'l2lb', ip: '192.0.2.10' }, { label: 'kernel', ip: '192.0.2.1' }]],
  };
  const proc = spawnIn(nsB, [BUN, LOADGEN, JSON.stringify(args)]);
  const [out, err, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
  if (code !== 0) throw new Error(`loadgen failed: ${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as LatencyResult;
}

async function main(): Promise<void> {
  const pair = createPair('l2vw');
  const phases: Record<string, unknown>[] = [];
  try {
    sh(['ip', 'addr', 'add', '192.0.2.1/24', 'dev', pair.ifA], { ns: pair.nsA });
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    const l2 = await startL2lb(pair.nsA, {
      // replyLimit 0: the latency probe is one requester asking 2,000 times; the limit would drop ~5 % of it.
      interfaces: [pair.ifA], vips: [{ ip: '192.0.2.10' }], announce: { probeCount: 0, replyLimit: 0 },
      log: { level: 'info', format: 'json' },
    });
    const pid = findPids(l2.dir)[0]!;
    const origin = `http://127.0.0.1:${l2.port}`;
    for (const viewers of [0, VIEWERS]) {
      const proc = viewers > 0
        ? Bun.spawn({ cmd: ['ip', 'netns', 'exec', pair.nsA, BUN, '-e', VIEWER_SCRIPT], env: { ...process.env, ORIGIN: origin, VIEWERS: String(viewers) }, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
        : undefined;
      await Bun.sleep(3_000); // viewers connected and polling
      const churn = setInterval(() => {
        l2.api('PUT', '/v1/vips/192.0.2.99', {});
        l2.api('DELETE', '/v1/vips/192.0.2.99');
      }, 1_000);
      const c0 = cpuSnapshot(pid);
      await Bun.sleep((SECONDS * 1000) / 2);
      const lat = await latency(pair.nsB, pair.ifB, pair.macA);
      await Bun.sleep((SECONDS * 1000) / 2);
      const cpu = cpuBetween(c0, cpuSnapshot(pid));
      clearInterval(churn);
      let seen: unknown;
      if (proc) {
        proc.stdin.end();
        seen = JSON.parse((await new Response(proc.stdout).text()).trim());
      }
      const main = cpu.threads.find((t) => t.comm === 'l2lb')?.runPercent ?? NaN;
      const row = {
        viewers, cpuPercent: cpu.runPercent, mainThreadPercent: main, viewerTraffic: seen,
        latency: lat.targets.map((t) => ({ label: t.label, answered: t.answered, sent: t.sent, p50us: t.us.p50, p99us: t.us.p99 })),
      };
      phases.push(row);
      console.log(JSON.stringify(row));
    }
    await l2.stop('SIGTERM');
  } finally {
    pair.destroy();
  }
  const f = (x: number) => x.toFixed(1);
  console.log('\nviewers | l2lb CPU % (main thread) | ARP p50/p99 µs, answered: l2lb | kernel');
  for (const p of phases as { viewers: number; cpuPercent: number; mainThreadPercent: number; latency: { label: string; p50us: number; p99us: number; answered: number; sent: number }[] }[]) {
    const l = p.latency.find((x) => x.label === 'l2lb')!;
    const k = p.latency.find((x) => x.label === 'kernel')!;
    console.log(`${String(p.viewers).padStart(7)} | ${f(p.cpuPercent)} (${f(p.mainThreadPercent)}) | ${f(l.p50us)}/${f(l.p99us)}, ${l.answered}/${l.sent} | ${f(k.p50us)}/${f(k.p99us)}, ${k.answered}/${k.sent}`);
  }
  writeFileSync(join(ROOT, 'test/bench/viewers-results.json'), JSON.stringify({ at: new Date().toISOString(), viewers: VIEWERS, seconds: SECONDS, phases }, null, 2));
}

await main();
