/**
 * Standalone HA bench (issue 8): a pair of standalone l2lb instances (membership over heartbeats, defaults:
 * 100 ms x 3) side by side in the same run with a keepalived pair (Debian's package, VRRPv3, advert_int 0.1,
 * as tuned as it goes), each on its own bridge with a client. For each: SIGKILL of the active one (every
 * process of it) -> the client's capture sees the first gratuitous ARP from the other; and -> the first ARP
 * reply from the other to a client asking every 10 ms (a new client, empty neighbour table).
 *
 * Run as root: `node_modules/.bin/bun test/bench/ha.ts [--runs=20]`. Needs `keepalived` (apt). Writes
 * test/bench/ha-results.json. Every namespace and process goes away at the end.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, spawnIn, waitFor } from '../support/netns.ts';
import { ROOT, type Running, startL2lb } from '../support/l2lb.ts';
import { ArpCapture, ArpRequester, isGratuitous } from '../support/gateway.ts';
import { type Summary, summarize } from './stats.ts';

interface Host { name: string; ns: string; ip: string; mac: string }

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
}

class Lan {
  readonly lan: string;
  readonly client: Host;
  readonly boxes: Host[];
  constructor(readonly prefix: string) {
    this.lan = `${prefix}-lan`;
    this.client = { name: 'cl', ns: `${prefix}-cl`, ip: '192.0.2.9', mac: '02:00:00:00:09:09' };
    this.boxes = [1, 2].map((i) => ({ name: `b${i}`, ns: `${prefix}-b${i}`, ip: `192.0.2.${i}`, mac: `02:00:00:00:01:0${i}` }));
  }

  build(): void {
    this.destroy();
    sh(['ip', 'netns', 'add', this.lan]);
    sh(['ip', 'link', 'add', 'br0', 'type', 'bridge'], { ns: this.lan });
    sh(['ip', 'link', 'set', 'br0', 'up'], { ns: this.lan });
    for (const h of [this.client, ...this.boxes]) {
      sh(['ip', 'netns', 'add', h.ns]);
      sh(['ip', 'link', 'set', 'lo', 'up'], { ns: h.ns });
      sh(['ip', 'link', 'add', `p-${h.name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns], { ns: this.lan });
      sh(['ip', 'link', 'set', `p-${h.name}`, 'master', 'br0', 'up'], { ns: this.lan });
      sh(['ip', 'link', 'set', 'eth0', 'address', h.mac, 'up'], { ns: h.ns });
      sh(['ip', 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'], { ns: h.ns });
    }
  }

  byMac(mac: string): Host | undefined {
    return this.boxes.find((b) => b.mac === mac);
  }

  destroy(): void {
    for (const h of [this.client, ...this.boxes]) {
      for (const pid of sh(['ip', 'netns', 'pids', h.ns], { check: false }).stdout.split('\n').filter(Boolean)) sh(['kill', '-9', pid], { check: false });
      sh(['ip', 'netns', 'del', h.ns], { check: false });
    }
    sh(['ip', 'netns', 'del', this.lan], { check: false });
  }
}

/** One HA implementation under test: start an instance on a box, kill every process of one. */
interface Pair {
  name: string;
  vip: string;
  start(b: Host, priority: number): Promise<void>;
  kill(b: Host): Promise<void>;
}

function l2lbPair(lan: Lan): Pair {
  const running = new Map<string, Running>();
  const vip = '192.0.2.50';
  return {
    name: 'l2lb (standalone pair)', vip,
    async start(b, priority) {
      running.set(b.name, await startL2lb(b.ns, {
        mode: 'standalone', interfaces: ['eth0'], vips: [{ ip: vip }], log: { level: 'warn', format: 'json' },
        membership: { enabled: true, deployment: 'bench-pair', identity: b.name, key: 'bench-shared-secret-1234', priority },
      }));
    },
    async kill(b) {
      await running.get(b.name)?.stop('SIGKILL');
      running.delete(b.name);
    },
  };
}

function keepalivedPair(lan: Lan): Pair {
  const vip = '192.0.2.60';
  const procs = new Map<string, ReturnType<typeof spawnIn>>();
  return {
    name: 'keepalived (VRRPv3, advert_int 0.1)', vip,
    async start(b, priority) {
      const dir = `/tmp/${lan.prefix}-${b.name}`;
      sh(['mkdir', '-p', dir]);
      writeFileSync(`${dir}/keepalived.conf`, `global_defs {
  vrrp_version 3
  vrrp_garp_master_repeat 3
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  nopreempt
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
}
`);
      // A killed keepalived leaves its pid files, and a new one refuses to start while they exist.
      sh(['rm', '-f', `${dir}/k.pid`, `${dir}/v.pid`]);
      procs.set(b.name, spawnIn(b.ns, ['keepalived', '-n', '-l', '-P', '-f', `${dir}/keepalived.conf`, '-p', `${dir}/k.pid`, '-r', `${dir}/v.pid`]));
      await Bun.sleep(200);
    },
    async kill(b) {
      // The VRRP child first: killed after its parent it notices and leaves gracefully (a priority-0
      // advert), which is a clean shutdown, not the crash this bench is about. Then everything else.
      const dir = `/tmp/${lan.prefix}-${b.name}`;
      const child = sh(['cat', `${dir}/v.pid`], { check: false }).stdout.trim();
      if (child) sh(['kill', '-9', child], { check: false });
      for (const pid of sh(['ip', 'netns', 'pids', b.ns], { check: false }).stdout.split('\n').filter(Boolean)) sh(['kill', '-9', pid], { check: false });
      await procs.get(b.name)?.exited;
      procs.delete(b.name);
      // A killed keepalived leaves its VIP configured: the next start must not find it there.
      sh(['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], { ns: b.ns, check: false });
    },
  };
}

interface Figures { runs: number; summary: Summary & { p95: number }; samples: number[] }

function figures(samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length, Math.ceil(0.95 * sorted.length)) - 1] ?? NaN;
  return { runs: samples.length, summary: { ...summarize(samples), p95 }, samples: samples.map((x) => Math.round(x)) };
}

async function run(pair: Pair, lan: Lan, runs: number): Promise<{ garp: Figures; answered: Figures }> {
  lan.build();
  const cap = await ArpCapture.start(lan.client.ns);
  const garp: number[] = [];
  const answered: number[] = [];
  try {
    await pair.start(lan.boxes[0]!, 200);
    await pair.start(lan.boxes[1]!, 100);
    // Who answers now: the active one.
    const activeNow = async () => {
      const asker = new ArpRequester(lan.client, pair.vip, 20);
      const t = Date.now();
      try {
        const f = await waitFor('an answer', () => cap.about(pair.vip, t).find((x) => x.op === 'reply' && !isGratuitous(x)), 10_000, 10);
        return lan.byMac(f.ethSrc)!;
      } finally {
        await asker.stop();
      }
    };
    for (let i = 0; i < runs; i++) {
      const active = await activeNow();
      const other = lan.boxes.find((b) => b !== active)!;
      await Bun.sleep(1000 + Math.random() * 200);
      const asker = new ArpRequester(lan.client, pair.vip, 10);
      const t0 = Date.now();
      await pair.kill(active);
      const g = await waitFor(`a gratuitous ARP from ${other.name}`, () => cap.about(pair.vip, t0).find((f) => isGratuitous(f) && f.ethSrc === other.mac), 5000, 5);
      const r = await waitFor(`a reply from ${other.name}`, () => cap.about(pair.vip, t0).find((f) => f.op === 'reply' && !isGratuitous(f) && f.ethSrc === other.mac), 5000, 5);
      await asker.stop();
      garp.push(g.at - t0);
      answered.push(r.at - t0);
      process.stdout.write(`  ${pair.name} ${i + 1}/${runs}: ${active.name} killed -> ${other.name} gratuitous ARP ${(g.at - t0).toFixed(0)} ms, reply ${(r.at - t0).toFixed(0)} ms\n`);
      await pair.start(active, active === lan.boxes[0] ? 200 : 100);
      // Let the restarted one settle as backup / standby before the next run looks for the active one.
      await Bun.sleep(1500);
    }
  } finally {
    await cap.stop();
    lan.destroy();
  }
  return { garp: figures(garp), answered: figures(answered) };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('ha bench: skipped, needs root (network namespaces)');
    return;
  }
  if (sh(['sh', '-c', 'command -v keepalived'], { check: false }).code !== 0) throw new Error('ha bench: keepalived is not installed (apt-get install keepalived)');
  const runs = arg('runs', 20);
  const lan1 = new Lan('l2hab');
  const lan2 = new Lan('l2hak');
  const started = new Date();
  const l2 = await run(l2lbPair(lan1), lan1, runs);
  const ka = await run(keepalivedPair(lan2), lan2, runs);
  const f = (x: number) => x.toFixed(0).padStart(6);
  const row = (name: string, s: Figures) => `${name.padEnd(52)} ${String(s.runs).padStart(4)} ${f(s.summary.min)} ${f(s.summary.p50)} ${f(s.summary.p95)} ${f(s.summary.max)}`;
  console.log('\nSIGKILL of the active instance                        runs    min    p50    p95    max (ms)');
  console.log(row('l2lb -> first gratuitous ARP from the standby', l2.garp));
  console.log(row('l2lb -> first reply to a new client', l2.answered));
  console.log(row('keepalived -> first gratuitous ARP from the backup', ka.garp));
  console.log(row('keepalived -> first reply to a new client', ka.answered));
  console.log(`l2lb p50 below keepalived's: ${l2.answered.summary.p50 < ka.answered.summary.p50 ? 'yes' : 'NO'}`);
  const version = sh(['keepalived', '--version'], { check: false }).stderr.split('\n')[0];
  writeFileSync(join(ROOT, 'test/bench/ha-results.json'), JSON.stringify({
    date: started.toISOString(), command: `node_modules/.bin/bun test/bench/ha.ts ${process.argv.slice(2).join(' ')}`.trim(), keepalived: version,
    l2lb: l2, keepalivedPair: ka,
  }, null, 2) + '\n');
  console.log('wrote test/bench/ha-results.json');
}

await main();
