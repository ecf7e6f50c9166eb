/**
 * Benchmark of Kubernetes mode against the API server stand-in: `node_modules/.bin/bun test/bench/kube.ts`,
 * as root. About 2.5 min with today's l2lb (each N that does not finish stops at its deadline).
 *
 * The compiled l2lb (`dist/l2lb`, `mode: kubernetes`, `kubernetes.announce: leader`) and the stand-in (Node,
 * HTTPS, client certificate) run in one network namespace; l2lb answers on a veth there. The cluster holds
 * 10 Eip pools (5 IPv4, 5 IPv6 /64: namespace-bound by list and by selector, defaults of two priorities, one
 * only for Services that name it) and N LoadBalancer Services over 20 namespaces, created before l2lb
 * starts. Measured, per N (fresh stand-in, cold l2lb):
 *
 * 1. start to all written: from spawning l2lb to the arrival at the stand-in of the last Service's first
 *    successful status PATCH (read from the stand-in's request log, which it writes before answering);
 * 2. (every N that finished) creation to status write for 1,000 more Services POSTed at a steady rate once
 *    l2lb is quiet: arrival of the status PATCH minus arrival of the create, both from the request log;
 * 3. API requests per allocation: l2lb's requests from start until it has been quiet for a while, by kind.
 *
 * Also CPU time of l2lb (per thread) and of the stand-in from /proc, l2lb's VmRSS / VmHWM, the longest gap
 * between Lease renewals, and a check of the outcome (every Service has an address of each family it asked
 * for, from a pool its namespace may use, no address is given twice, not even for a moment according to the
 * stand-in's journal). Prints tables and writes test/bench/kube-results.json.
 *
 * `--profile` instead runs the controller and the announcer of src/ in this process, with their private
 * methods timed and two what-if variants (see runProfile); about 2.5 min; adds a `profile` key to the JSON.
 *
 * Addresses: namespaces may only hold documentation ranges, and IPv4 has just 768 of them (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24). So the mix is the other way round from a typical cluster: 6 % of the
 * Services want IPv4 (4 % IPv4 only, 1 % RequireDualStack, 1 % PreferDualStack IPv6-first) and the rest IPv6.
 * Allocation costs the same per address in both families (BigInt offsets, a free-cursor per pool).
 *
 * Options: --sizes=2500,5000,10000  --latency=1000 (Services created in step 2; 0 skips it)  --rate=200
 * (creates per second)  --source (run `bun src/main.ts` instead of dist/l2lb)  --no-write (do not write
 * kube-results.json)  --profile[=2500,5000] (sizes of the as-is profile runs).
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { type Pair, createPair, isRoot } from '../support/netns.ts';
import { BINARY, BUN, ROOT, ensureBinary } from '../support/l2lb.ts';
import { type KubeObject, type RequestRecord, StandIn } from '../support/kube/standin.ts';
import { LogTail } from '../support/kube/request-log.ts';
import { type CpuSnapshot, type MachineCpu, type ThreadUse, CLOCK_TICKS, cpuBetween, cpuSnapshot, findPids, machineBetween, machineSnapshot } from './proc.ts';
import { type Summary, summarize } from './stats.ts';
import { parseIP } from '../../src/net/ip.ts';

const PREFIX = 'l2kbench';
const RESULTS = join(ROOT, 'test/bench/kube-results.json');
const SELF = join(ROOT, 'test/bench/kube.ts');
const API_PORT = 19591;
/** The user l2lb's client certificate names (the stand-in's default client certificate). */
const L2LB_USER = 'l2lb';
const NAMESPACES = 20;
/** Quiet time that counts as "settled": no request from l2lb for this long. */
const QUIET_MS = 1500;

// ------------------------------------------------------------------------------------------ the cluster

/** One Eip of the benchmark and who may use it (for the outcome check). */
interface PoolDef {
  name: string;
  address: string;
  family: 4 | 6;
  /** Namespaces allowed through `namespaces` or `namespaceSelector`; undefined: a default or named-only pool. */
  bound?: (ns: number) => boolean;
  isDefault?: boolean;
  /** Only Services naming it (annotation) may use it. */
  namedOnly?: boolean;
  spec: Record<string, unknown>;
}

const nsName = (i: number) => `team-${String(i).padStart(2, '0')}`;
/** team-00..04 are bound by name, 05..09 are tier=gold, 10..14 tier=silver, 15..19 only get default pools. */
const tierOf = (ns: number) => (ns >= 5 && ns < 10 ? 'gold' : ns >= 10 && ns < 15 ? 'silver' : undefined);
const byList = (ns: number) => ns < 5;
const gold = (ns: number) => tierOf(ns) === 'gold';
const silver = (ns: number) => tierOf(ns) === 'silver';
const LISTED = Array.from({ length: 5 }, (_, i) => nsName(i));

/**
 * 5 IPv4 pools (758 addresses: all the IPv4 documentation space without network/broadcast) and 5 IPv6 /64s.
 * Bound pools fill up and fall through to the defaults, which exercises priority order and fall-through.
 */
const POOLS: PoolDef[] = [
  { name: 'v4-listed', address: '192.0.2.1-192.0.2.126', family: 4, bound: byList, spec: { namespaces: LISTED, priority: 1 } },
  { name: 'v4-gold', address: '192.0.2.129-192.0.2.254', family: 4, bound: gold, spec: { namespaceSelector: { tier: 'gold' }, priority: 1 } },
  { name: 'v4-silver', address: '203.0.113.1-203.0.113.126', family: 4, bound: silver, spec: { namespaceSelector: { tier: 'silver' }, priority: 2 } },
  { name: 'v4-default', address: '198.51.100.0/24', family: 4, isDefault: true, spec: { priority: 1 } },
  { name: 'v4-default-2', address: '203.0.113.128/25', family: 4, isDefault: true, spec: { priority: 5 } },
  { name: 'v6-listed', address: '2001:db8:0:a::/64', family: 6, bound: byList, spec: { namespaces: LISTED, priority: 1 } },
  { name: 'v6-gold', address: '2001:db8:0:b::/64', family: 6, bound: gold, spec: { namespaceSelector: { tier: 'gold' }, priority: 1 } },
  { name: 'v6-silver', address: '2001:db8:0:c::/64', family: 6, bound: silver, spec: { namespaceSelector: { tier: 'silver' } } },
  { name: 'v6-default', address: '2001:db8:0:d::/64', family: 6, isDefault: true, spec: {} },
  { name: 'v6-named', address: '2001:db8:0:e::/64', family: 6, namedOnly: true, spec: {} },
];

function eipObject(p: PoolDef): KubeObject {
  return {
    apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip',
    metadata: { name: p.name, ...(p.isDefault ? { annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } } : {}) },
    spec: { address: p.address, protocol: 'layer2', ...p.spec },
  };
}

function namespaceObject(i: number): KubeObject {
  const tier = tierOf(i);
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsName(i), ...(tier ? { labels: { tier } } : {}) } };
}

/** What Service number `i` asks for (deterministic, the same mix at every N). */
interface ServiceShape {
  families: ('IPv4' | 'IPv6')[];
  policy: 'SingleStack' | 'RequireDualStack' | 'PreferDualStack';
  pool?: string;
}

function shapeOf(i: number): ServiceShape {
  const k = i % 100;
  if (k < 4) return { families: ['IPv4'], policy: 'SingleStack' };
  if (k === 4) return { families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' };
  if (k === 5) return { families: ['IPv6', 'IPv4'], policy: 'PreferDualStack' };
  if (k < 10) return { families: ['IPv6'], policy: 'SingleStack', pool: 'v6-named' };
  return { families: ['IPv6'], policy: 'SingleStack' };
}

/** Service `i` of the set `set` ("svc" before l2lb starts, "new" for step 2). */
function serviceObject(set: string, i: number): KubeObject {
  const shape = shapeOf(i);
  const annotations: Record<string, string> = {};
  // one in seven is ours through spec.loadBalancerClass, the rest through OpenELB's annotation
  const byClass = i % 7 === 3;
  if (!byClass) annotations['lb.kubesphere.io/v1alpha1'] = 'openelb';
  if (shape.pool) annotations['eip.openelb.kubesphere.io/v1alpha2'] = shape.pool;
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: `${set}-${String(i).padStart(5, '0')}`, namespace: nsName(i % NAMESPACES), annotations, labels: { app: `${set}-${i}` } },
    spec: {
      type: 'LoadBalancer',
      // 10,000 LoadBalancer Services do not fit a real cluster's 2768 node ports
      allocateLoadBalancerNodePorts: false,
      ...(byClass ? { loadBalancerClass: 'l2lb.io/layer2' } : {}),
      ipFamilies: shape.families,
      ipFamilyPolicy: shape.policy,
      selector: { app: `${set}-${i}` },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 }],
    },
  };
}

/** The cluster before any Service: namespaces (with their labels) and the Eips. */
function clusterSetup(): KubeObject[] {
  return [
    ...Array.from({ length: NAMESPACES }, (_, i) => namespaceObject(i)),
    // where l2lb's leader-election Lease lives (by default)
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } },
    ...POOLS.map(eipObject),
  ];
}

/** Services `set-00000` .. of the benchmark, and what each asks for by `namespace/name`. */
function serviceSet(set: string, n: number): { objects: KubeObject[]; shapes: Map<string, ServiceShape> } {
  const objects = Array.from({ length: n }, (_, i) => serviceObject(set, i));
  const shapes = new Map<string, ServiceShape>();
  objects.forEach((o, i) => shapes.set(`${o.metadata.namespace}/${o.metadata.name}`, shapeOf(i)));
  return { objects, shapes };
}

/** Creates objects through the stand-in's control socket, `concurrency` at a time. */
async function createAll(api: StandIn, objects: KubeObject[], concurrency = 16): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) await api.create(objects[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ---------------------------------------------------------------------------------------- request log

/** What an l2lb request was, for the counts. */
type RequestKind = 'serviceStatus' | 'eipStatus' | 'event' | 'lease' | 'otherWrite' | 'list' | 'watch' | 'get';

function kindOf(r: RequestRecord): RequestKind {
  // leader election: get, create, renew of the Lease
  if (r.path.includes('/leases')) return 'lease';
  if (r.method === 'GET') return r.watch ? 'watch' : /\/(services|namespaces|eips)$/.test(r.path) ? 'list' : 'get';
  if (r.method === 'PATCH' && /\/services\/[^/]+\/status$/.test(r.path)) return 'serviceStatus';
  if (r.method === 'PATCH' && /\/eips\/[^/]+\/status$/.test(r.path)) return 'eipStatus';
  if (r.method === 'POST' && r.path.endsWith('/events')) return 'event';
  return 'otherWrite';
}

/** `namespace/name` of a Service status path. */
function serviceOfPath(path: string): string | undefined {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)\/status$/.exec(path);
  return m ? `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}` : undefined;
}

// ------------------------------------------------------------------------------------- l2lb process

/** A running l2lb with its log file. */
interface L2lb {
  /** The config said `kubernetes.announce: leader` (false: an older binary without that key). */
  announceKey: boolean;
  proc: Subprocess;
  pid: number;
  logPath: string;
  spawnedAt: number;
}

/**
 * Writes l2lb's config: Kubernetes mode on the veth in namespace A, answering with its own MAC
 * (`kubernetes.announce: leader`, so no Node objects are needed), everything else at its defaults (leader
 * election included, where the binary has it). A binary from before `kubernetes.announce` existed rejects the
 * key: `check-config` tells, and the key is left out (that binary always answers with its own MAC).
 */
function writeConfig(pair: Pair, dir: string, kubeconfig: string, command: string[]): { file: string; announceKey: boolean } {
  const base = {
    mode: 'kubernetes',
    interfaces: [pair.ifA],
    api: { listen: `127.0.0.1:${API_PORT}`, token: 'bench' },
    stateFile: '',
    log: { level: 'info', format: 'json' },
  };
  const file = join(dir, 'l2lb.json');
  writeFileSync(file, JSON.stringify({ ...base, kubernetes: { kubeconfig, announce: 'leader' } }, null, 2));
  const check = Bun.spawnSync({ cmd: ['ip', 'netns', 'exec', pair.nsA, ...command, 'check-config', '--config', file], stdout: 'pipe', stderr: 'pipe' });
  if (check.exitCode === 0) return { file, announceKey: true };
  const text = check.stdout.toString() + check.stderr.toString();
  if (!text.includes('unknown key kubernetes.announce')) throw new Error(`l2lb check-config failed:\n${text}`);
  writeFileSync(file, JSON.stringify({ ...base, kubernetes: { kubeconfig } }, null, 2));
  return { file, announceKey: false };
}

function startL2lb(pair: Pair, dir: string, kubeconfig: string, command: string[]): L2lb {
  const { file, announceKey } = writeConfig(pair, dir, kubeconfig, command);
  const logPath = join(dir, 'l2lb.log');
  const out = openSync(logPath, 'w');
  const spawnedAt = Date.now();
  // `ip netns exec` execs the command in place: the pid is l2lb's own (checked below through /proc).
  const proc = Bun.spawn({ cmd: ['ip', 'netns', 'exec', pair.nsA, ...command, '--config', file], stdout: out, stderr: out, stdin: 'ignore' });
  closeSync(out);
  return { announceKey, proc, pid: proc.pid, logPath, spawnedAt };
}

async function stopL2lb(l: L2lb | undefined): Promise<void> {
  if (!l || l.proc.exitCode !== null || l.proc.signalCode !== null) return;
  l.proc.kill('SIGKILL');
  await l.proc.exited;
}

/** The `time` of the first l2lb log record whose msg is `msg` (epoch ms), or undefined. */
function logTime(path: string, msg: string): number | undefined {
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; time?: string };
      if (rec.msg === msg && rec.time) return Date.parse(rec.time);
    } catch {
      // not a JSON record
    }
  }
  return undefined;
}

/** The stand-in's server process (its command line names the config file in its directory). */
function standInPidOf(api: StandIn): number {
  const pids = findPids(join(api.dir, 'config.json'));
  if (pids.length !== 1) throw new Error(`expected one stand-in process, found ${pids.length}`);
  return pids[0]!;
}

/** The longest gap between consecutive times (ascending), counting up to `end`; null when there are none. */
function maxGap(times: number[], end: number): number | null {
  if (times.length === 0) return null;
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return Math.max(gap, end - times[times.length - 1]!);
}

/** VmRSS and VmHWM of a process, KiB. */
function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

// ------------------------------------------------------------------------------------------ CPU figures

/** CPU used by one process over an interval. */
interface ProcCpu {
  /** CPU seconds (utime + stime). */
  seconds: number;
  /** Percent of one core over the interval. */
  percent: number;
  /** Busiest threads, by schedstat run time. */
  threads: { comm: string; seconds: number; waitSeconds: number }[];
}

function procCpu(a: CpuSnapshot, b: CpuSnapshot): ProcCpu {
  const use = cpuBetween(a, b);
  const wall = Number(b.at - a.at) / 1e9;
  const seconds = (b.ticks - a.ticks) / CLOCK_TICKS;
  // Threads of the same name (GC helpers, HTTP threads) are summed: their tids mean nothing to a reader.
  const byName = new Map<string, { comm: string; seconds: number; waitSeconds: number }>();
  for (const t of use.threads as ThreadUse[]) {
    const name = t.comm;
    const e = byName.get(name) ?? { comm: name, seconds: 0, waitSeconds: 0 };
    e.seconds += (t.runPercent / 100) * wall;
    e.waitSeconds += (t.waitPercent / 100) * wall;
    byName.set(name, e);
  }
  const threads = [...byName.values()].sort((x, y) => y.seconds - x.seconds).slice(0, 6)
    .map((t) => ({ comm: t.comm, seconds: round(t.seconds, 3), waitSeconds: round(t.waitSeconds, 3) }));
  return { seconds: round(seconds, 2), percent: round((seconds / wall) * 100, 1), threads };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// ------------------------------------------------------------------------------------- outcome check

interface Outcome {
  services: number;
  assigned: number;
  /** Services that do not have one address per family asked for. */
  missing: string[];
  /** Addresses outside the labelled pool, or from a pool the namespace may not use. */
  wrongPool: string[];
  /** Addresses given to more than one Service. */
  duplicates: string[];
  /** Sum of `status.used` over the Eips against the number of addresses Services hold. */
  eipUsed: number;
  addresses: number;
  byPool: Record<string, number>;
  /** Events l2lb recorded, by reason. */
  events: Record<string, number>;
  /**
   * Addresses that two Services held in their status at the same time at some point of the run (from the
   * stand-in's journal of every stored version), e.g. `192.0.2.7: ns/a and ns/b`; empty when never.
   */
  transientDuplicates: string[];
}

function inRange(ip: string, pool: PoolDef): boolean {
  const a = parseIP(ip);
  if (!a || a.family !== pool.family) return false;
  let first: bigint;
  let last: bigint;
  if (pool.address.includes('-')) {
    const [x, y] = pool.address.split('-');
    first = parseIP(x!)!.value;
    last = parseIP(y!)!.value;
  } else {
    const [base, bits] = pool.address.split('/');
    const width = pool.family === 4 ? 32n : 128n;
    const host = width - BigInt(bits!);
    first = (parseIP(base!)!.value >> host) << host;
    last = first + (1n << host) - 1n;
  }
  return a.value >= first && a.value <= last;
}

/** Checks what the stand-in holds: every Service of `names` got what it asked for, from an allowed pool. */
async function checkOutcome(api: StandIn, shapes: Map<string, ServiceShape>): Promise<Outcome> {
  const services = (await api.list('v1', 'Service')).filter((s: KubeObject) => shapes.has(`${s.metadata.namespace}/${s.metadata.name}`));
  const eips = await api.list('network.kubesphere.io/v1alpha2', 'Eip');
  const byName = new Map(POOLS.map((p) => [p.name, p]));
  const owners = new Map<string, string>();
  const out: Outcome = { services: services.length, assigned: 0, missing: [], wrongPool: [], duplicates: [], eipUsed: 0, addresses: 0, byPool: {}, events: {}, transientDuplicates: [] };
  for (const e of await api.list('v1', 'Event')) out.events[e.reason] = (out.events[e.reason] ?? 0) + 1;
  for (const s of services) {
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    const shape = shapes.get(key)!;
    const ips: string[] = (s.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip);
    const want = shape.policy === 'SingleStack' ? [shape.families[0]] : shape.families;
    const got = ips.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4'));
    if (want.length !== got.length || !want.every((f) => got.includes(f!))) {
      out.missing.push(`${key}: ${ips.join(',') || 'none'}`);
      continue;
    }
    out.assigned++;
    const ns = Number(s.metadata.namespace.slice('team-'.length));
    for (const ip of ips) {
      out.addresses++;
      const pool = POOLS.find((p) => inRange(ip, p));
      const allowed = pool && (shape.pool ? pool.name === shape.pool : !pool.namedOnly && (pool.isDefault || pool.bound?.(ns)));
      if (!pool || !allowed) out.wrongPool.push(`${key}: ${ip} (${pool?.name ?? 'no pool'})`);
      if (pool) out.byPool[pool.name] = (out.byPool[pool.name] ?? 0) + 1;
      const owner = owners.get(ip);
      if (owner) out.duplicates.push(`${ip}: ${owner} and ${key}`);
      owners.set(ip, key);
    }
    // the label names the pool of the first address
    const label = s.metadata.labels?.['eip.openelb.kubesphere.io/v1alpha2'];
    if (!label || !byName.has(label)) out.wrongPool.push(`${key}: label ${label ?? 'missing'}`);
  }
  for (const e of eips) out.eipUsed += Object.keys(e.status?.used ?? {}).length;
  out.transientDuplicates = journalDuplicates(join(api.dir, 'journal.jsonl'));
  return out;
}

/**
 * Replays the stand-in's journal (one JSON line per stored version: `{rv, r, t, o}`) and lists every time a
 * Service's status took an address another Service's status already had.
 */
function journalDuplicates(path: string): string[] {
  const holders = new Map<string, Set<string>>();
  const held = new Map<string, string[]>();
  const out: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes('"r":"services"')) continue;
    let rec: { rv: number; t: string; o: KubeObject };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const key = `${rec.o.metadata.namespace}/${rec.o.metadata.name}`;
    const now: string[] = rec.t === 'DELETED' ? [] : (rec.o.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip);
    for (const ip of held.get(key) ?? []) holders.get(ip)?.delete(key);
    for (const ip of now) {
      const set = holders.get(ip) ?? new Set<string>();
      if (set.size > 0) out.push(`${ip}: ${[...set].join(', ')} and ${key} (resourceVersion ${rec.rv})`);
      set.add(key);
      holders.set(ip, set);
    }
    held.set(key, now);
  }
  return out;
}

// -------------------------------------------------------------------------------------- step 2 creator

/** Arguments of the creator that runs inside the namespace (the stand-in listens on its loopback). */
interface CreatorArgs {
  url: string;
  caPem: string;
  token: string;
  rate: number;
  objects: KubeObject[];
}

/** What the creator reports. */
interface CreatorResult {
  sent: number;
  failed: string[];
  /** How late the last create was sent against its schedule, ms. */
  lagMs: number;
}

/**
 * POSTs the objects at `rate` per second, each at its slot on a fixed schedule (not one after the other, so a
 * slow answer does not slow the rate). `fieldManager` carries the name: the request log has no body.
 */
async function runCreator(a: CreatorArgs): Promise<CreatorResult> {
  const failed: string[] = [];
  const start = performance.now() + 50;
  const pending: Promise<void>[] = [];
  let lagMs = 0;
  for (let i = 0; i < a.objects.length; i++) {
    const at = start + (i * 1000) / a.rate;
    const wait = at - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    lagMs = Math.max(lagMs, performance.now() - at);
    const o = a.objects[i];
    const path = `/api/v1/namespaces/${o.metadata.namespace}/services?fieldManager=bench-${o.metadata.name}`;
    pending.push(
      fetch(a.url + path, {
        method: 'POST',
        body: JSON.stringify(o),
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token}` },
        tls: { ca: a.caPem },
      } as RequestInit).then(async (r) => {
        const text = await r.text();
        if (r.status !== 201) failed.push(`${o.metadata.name}: ${r.status} ${text.slice(0, 200)}`);
      }, (err) => {
        failed.push(`${o.metadata.name}: ${(err as Error).message}`);
      }),
    );
  }
  await Promise.all(pending);
  return { sent: a.objects.length, failed, lagMs: round(lagMs, 1) };
}

// ----------------------------------------------------------------------------------------------- runs

/** Figures of one N. */
interface RunResult {
  n: number;
  /** How l2lb was configured to answer (see writeConfig). */
  announce: 'leader (kubernetes.announce: leader)' | 'own MAC (binary without kubernetes.announce)';
  /** Addresses the N Services hold at the end. */
  addresses: number;
  /** Spawn of l2lb to arrival of the last Service's first successful status PATCH, ms. */
  allWrittenMs: number | null;
  /** How many of the N had a successful status PATCH by then (N unless timed out). */
  written: number;
  timeline: {
    /** Spawn to l2lb's first request (process start, config, kubeconfig, TLS). */
    firstRequestMs: number | null;
    /** Spawn to the Lease taken (leader election), when the binary elects. */
    leaderMs: number | null;
    /** Spawn to l2lb logging that every initial list is complete. */
    listsCompleteMs: number | null;
    /** Spawn to the first status PATCH. */
    firstWriteMs: number | null;
    /** Spawn to half of the N written. */
    halfWrittenMs: number | null;
    /** Spawn to l2lb's last request but Lease renewals before it went quiet (Events and Eip status trail the Services). */
    lastRequestMs: number | null;
    /**
     * Longest time between two Lease requests (the leader renews every retryPeriod, 1 s by default): how long
     * l2lb's main thread was too busy to renew. Past leaseDuration (5 s) a standby would take over.
     */
    leaseGapMs: number | null;
  };
  /** Status PATCHes per second between the first and the last Service write. */
  writeRate: number | null;
  requests: {
    total: number;
    byKind: Record<RequestKind, number>;
    /** Non-GET requests per Service. */
    writesPerService: number;
    /** Per Service: status patches, events, eip status. */
    perService: { serviceStatus: number; event: number; eipStatus: number };
    /** Answers other than 2xx, by status code. */
    failures: Record<string, number>;
  };
  cpu: {
    /** Interval over which CPU was measured: spawn to all written. */
    wallSeconds: number;
    l2lb: ProcCpu;
    standIn: ProcCpu;
    /** The machine, percent of one core (2 cores: 200 % is everything). */
    machineBusyPercent: number;
    /** CPU seconds of everything else (this bench process included). */
    othersSeconds: number;
  };
  memory: { rssKiB: number; hwmKiB: number };
  check: Outcome;
  latency?: LatencyResult;
}

/** Step 2's figures. */
interface LatencyResult {
  created: number;
  rate: number;
  written: number;
  /** status PATCH arrival − create arrival, ms. */
  createToStatus: Summary;
  creator: CreatorResult;
  cpu: { wallSeconds: number; l2lb: ProcCpu; standIn: ProcCpu };
  memory: { rssKiB: number; hwmKiB: number };
  /** Requests l2lb made during step 2, per created Service. */
  requestsPerService: Record<RequestKind, number>;
  /** The outcome over all Services (the N and the new ones) at the end. */
  check: Outcome;
}

interface Params {
  sizes: number[];
  latency: number;
  rate: number;
  command: string[];
  write: boolean;
}

function params(argv: string[]): Params {
  const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return {
    sizes: (opt('sizes') ?? '2500,5000,10000').split(',').map(Number),
    latency: Number(opt('latency') ?? 1000),
    rate: Number(opt('rate') ?? 200),
    command: argv.includes('--source') ? [BUN, join(ROOT, 'src/main.ts')] : [BINARY],
    write: !argv.includes('--no-write'),
  };
}

/** Everything to tear down, whatever happened. */
interface Live {
  pair?: Pair;
  api?: StandIn;
  l2lb?: L2lb;
  creator?: Subprocess;
  dirs: string[];
}

async function cleanup(live: Live): Promise<void> {
  try { live.creator?.kill('SIGKILL'); } catch { /* already gone */ }
  await stopL2lb(live.l2lb).catch(() => {});
  await live.api?.close().catch(() => {});
  live.pair?.destroy();
  for (const d of live.dirs) rmSync(d, { recursive: true, force: true });
  live.l2lb = undefined;
  live.api = undefined;
}

/** How long one N may take to be written: 4x the target (10 s per 10,000), at most 50 s (the bench must stay near 3 min). */
function deadline(n: number): number {
  return Math.min(50_000, Math.max(40_000, n * 4));
}

/** Runs one N: fresh stand-in, the cluster, l2lb from cold; step 2 when `latency` > 0. */
async function runOne(p: Params, live: Live, pair: Pair, n: number, latency: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-kube-bench-'));
  live.dirs.push(dir);
  const api = await StandIn.start({ netns: pair.nsA });
  live.api = api;
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');

  const t0 = performance.now();
  // namespaces first: a Service's create would make its namespace without the labels the pools select on
  await createAll(api, clusterSetup());
  const { objects, shapes } = serviceSet('svc', n);
  await createAll(api, objects);
  console.log(`  N=${n}: cluster ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; starting l2lb`);

  const tail = new LogTail(join(api.dir, 'requests.jsonl'));
  tail.poll(); // the setup went through the control socket: nothing from l2lb yet
  const standInPid = standInPidOf(api);
  const m0 = machineSnapshot();
  const s0 = cpuSnapshot(standInPid);
  const l2 = startL2lb(pair, dir, kubeconfig, p.command);
  live.l2lb = l2;
  const l0 = cpuSnapshot(l2.pid);

  // 1. wait until every Service has had a successful status write
  const firstWrite = new Map<string, number>();
  const mine = (r: RequestRecord) => r.user === L2LB_USER;
  let allAt: number | undefined;
  let l1: CpuSnapshot | undefined;
  let s1: CpuSnapshot | undefined;
  let m1: MachineCpu | undefined;
  const limit = l2.spawnedAt + deadline(n);
  while (allAt === undefined && Date.now() < limit) {
    await Bun.sleep(20);
    if (l2.proc.exitCode !== null) throw new Error(`l2lb exited (${l2.proc.exitCode}):\n${readFileSync(l2.logPath, 'utf8').slice(-3000)}`);
    for (const r of tail.poll()) {
      if (!mine(r) || r.status !== 200 || kindOf(r) !== 'serviceStatus') continue;
      const key = serviceOfPath(r.path);
      if (key && shapes.has(key) && !firstWrite.has(key)) firstWrite.set(key, r.at);
    }
    if (firstWrite.size === n) {
      allAt = Math.max(...firstWrite.values());
      l1 = cpuSnapshot(l2.pid);
      s1 = cpuSnapshot(standInPid);
      m1 = machineSnapshot();
    }
  }
  if (!l1) {
    l1 = cpuSnapshot(l2.pid);
    s1 = cpuSnapshot(standInPid);
    m1 = machineSnapshot();
    console.log(`  N=${n}: only ${firstWrite.size} of ${n} written after ${deadline(n) / 1000} s`);
  }

  // settled: no request but Lease renewals (those go on every second) for QUIET_MS; Events and Eip status
  // may trail the last Service write
  const busy = (r: RequestRecord) => mine(r) && kindOf(r) !== 'lease';
  let lastMine = Math.max(...tail.records.filter(busy).map((r) => r.at), l2.spawnedAt);
  const settleLimit = Date.now() + 30_000;
  while (allAt !== undefined && Date.now() - lastMine < QUIET_MS && Date.now() < settleLimit) {
    await Bun.sleep(100);
    for (const r of tail.poll()) if (busy(r)) lastMine = Math.max(lastMine, r.at);
  }
  const phase1 = tail.records.filter(mine);
  const mem = memory(l2.pid);

  const byKind: Record<RequestKind, number> = { serviceStatus: 0, eipStatus: 0, event: 0, lease: 0, otherWrite: 0, list: 0, watch: 0, get: 0 };
  const failures: Record<string, number> = {};
  for (const r of phase1) {
    byKind[kindOf(r)]++;
    if (r.status < 200 || r.status > 299) failures[r.status] = (failures[r.status] ?? 0) + 1;
  }
  // what allocation costs: every non-GET but the Lease's renewals (those follow the clock, not the Services)
  const writes = phase1.filter((r) => r.method !== 'GET' && kindOf(r) !== 'lease').length;
  const times = [...firstWrite.values()].sort((a, b) => a - b);
  const firstReq = phase1[0]?.at;
  const wall = Number(l1.at - l0.at) / 1e9;
  const l2cpu = procCpu(l0, l1);
  const sicpu = procCpu(s0, s1!);
  const machine = machineBetween(m0, m1!);
  const check = await checkOutcome(api, shapes);
  const lists = logTime(l2.logPath, 'kubernetes: initial lists complete');
  const rel = (t: number | undefined) => (t === undefined ? null : t - l2.spawnedAt);

  const result: RunResult = {
    n,
    announce: l2.announceKey ? 'leader (kubernetes.announce: leader)' : 'own MAC (binary without kubernetes.announce)',
    addresses: check.addresses,
    allWrittenMs: allAt === undefined ? null : allAt - l2.spawnedAt,
    written: firstWrite.size,
    timeline: {
      firstRequestMs: rel(firstReq),
      leaderMs: rel(phase1.find((r) => kindOf(r) === 'lease' && r.method !== 'GET' && r.status < 300)?.at),
      listsCompleteMs: rel(lists),
      firstWriteMs: rel(times[0]),
      halfWrittenMs: rel(times[Math.floor(n / 2) - 1]),
      lastRequestMs: rel(lastMine),
      leaseGapMs: maxGap(phase1.filter((r) => kindOf(r) === 'lease').map((r) => r.at), allAt ?? Date.now()),
    },
    writeRate: times.length > 1 ? round((times.length - 1) / ((times[times.length - 1]! - times[0]!) / 1000), 0) : null,
    requests: {
      total: phase1.length,
      byKind,
      writesPerService: round(writes / n, 3),
      perService: { serviceStatus: round(byKind.serviceStatus / n, 3), event: round(byKind.event / n, 3), eipStatus: round(byKind.eipStatus / n, 4) },
      failures,
    },
    cpu: {
      wallSeconds: round(wall, 2),
      l2lb: l2cpu,
      standIn: sicpu,
      machineBusyPercent: round(machine.busyPercent, 0),
      othersSeconds: round(Math.max(0, (machine.busyPercent / 100) * wall - l2cpu.seconds - sicpu.seconds), 2),
    },
    memory: mem,
    check,
  };
  // Step 2 needs a settled l2lb; it runs on every N that settled, so its growth with N shows too.
  if (latency > 0 && allAt !== undefined) result.latency = await runLatency(p, live, pair, api, l2, tail, latency, shapes);
  await stopL2lb(l2);
  live.l2lb = undefined;
  tail.close();
  await api.close();
  live.api = undefined;
  return result;
}

/** Step 2: `count` new Services at `p.rate`/s against the settled l2lb; create-to-status from the request log. */
async function runLatency(p: Params, live: Live, pair: Pair, api: StandIn, l2: L2lb, tail: LogTail, count: number, shapes: Map<string, ServiceShape>): Promise<LatencyResult> {
  const { objects, shapes: added } = serviceSet('new', count);
  for (const [k, v] of added) shapes.set(k, v);
  const argsPath = join(api.dir, 'creator.json');
  writeFileSync(argsPath, JSON.stringify({ url: api.url, caPem: api.caPem, token: api.token, rate: p.rate, objects } satisfies CreatorArgs));
  const from = tail.records.length;
  const l0 = cpuSnapshot(l2.pid);
  const standInPid = standInPidOf(api);
  const s0 = cpuSnapshot(standInPid);
  const creator = Bun.spawn({ cmd: ['ip', 'netns', 'exec', pair.nsA, BUN, SELF, '--create', argsPath], stdout: 'pipe', stderr: 'pipe' });
  live.creator = creator;
  const names = new Set(objects.map((o) => o.metadata.name as string));
  const created = new Map<string, number>();
  const written = new Map<string, number>();
  const limit = Date.now() + (count / p.rate) * 1000 + 20_000;
  let exited = false;
  void creator.exited.then(() => (exited = true));
  while (Date.now() < limit && !(exited && written.size >= created.size && created.size > 0)) {
    await Bun.sleep(20);
    for (const r of tail.poll()) {
      if (r.method === 'POST' && r.status === 201 && r.path.endsWith('/services')) {
        const name = /fieldManager=bench-([^&]+)/.exec(r.query)?.[1];
        if (name && names.has(name)) created.set(`${r.path.split('/')[4]}/${name}`, r.at);
      } else if (r.user === L2LB_USER && r.status === 200 && kindOf(r) === 'serviceStatus') {
        const key = serviceOfPath(r.path);
        if (key && created.has(key) && !written.has(key)) written.set(key, r.at);
      }
    }
    if (exited && created.size === 0) break;
  }
  const l1 = cpuSnapshot(l2.pid);
  const s1 = cpuSnapshot(standInPid);
  const out = await new Response(creator.stdout as ReadableStream<Uint8Array>).text();
  const err = await new Response(creator.stderr as ReadableStream<Uint8Array>).text();
  live.creator = undefined;
  let creatorResult: CreatorResult;
  try {
    creatorResult = JSON.parse(out.trim().split('\n').pop() ?? '') as CreatorResult;
  } catch {
    throw new Error(`the creator failed (exit ${creator.exitCode}):\n${out}\n${err}`);
  }
  // let trailing Events / Eip status land before counting
  await Bun.sleep(QUIET_MS);
  tail.poll();
  const during = tail.records.slice(from).filter((r) => r.user === L2LB_USER);
  const per: Record<RequestKind, number> = { serviceStatus: 0, eipStatus: 0, event: 0, lease: 0, otherWrite: 0, list: 0, watch: 0, get: 0 };
  for (const r of during) per[kindOf(r)]++;
  for (const k of Object.keys(per) as RequestKind[]) per[k] = round(per[k] / count, 3);
  const lat: number[] = [];
  for (const [key, at] of written) lat.push(at - created.get(key)!);
  return {
    created: created.size,
    rate: p.rate,
    written: written.size,
    createToStatus: summarize(lat),
    creator: creatorResult,
    cpu: { wallSeconds: round(Number(l1.at - l0.at) / 1e9, 2), l2lb: procCpu(l0, l1), standIn: procCpu(s0, s1) },
    memory: memory(l2.pid),
    requestsPerService: per,
    check: await checkOutcome(api, shapes),
  };
}

// -------------------------------------------------------------------------------------------- profile

/** One reconcile as the profile saw it. */
interface ReconcileMark {
  /** ms since the controller started. */
  at: number;
  ms: number;
  /** Status writes sent so far. */
  writes: number;
}

/** What `--profile` finds for the controller at one N. */
interface ControllerProfile {
  n: number;
  variant: 'as is' | 'coalesced' | 'coalesced, Events after';
  /** Controller start to the last Service's first successful status PATCH (stand-in arrival), ms. */
  allWrittenMs: number | null;
  written: number;
  reconciles: number;
  reconcileMs: { mean: number; max: number; total: number };
  /** Status writes sent per reconcile while the Services were being written. */
  writesPerReconcile: number;
  /** ms spent in each part over the whole run (private methods, wrapped on the prototype). */
  parts: Record<string, number>;
  /** One reconcile's parts on the final state, ms (each timed on its own, median of 5). */
  single: Record<string, number>;
  /** Every 10th reconcile, for the timeline. */
  timeline: ReconcileMark[];
  /** Controller start to the first status PATCH, and to the last Event POST (stand-in arrivals), ms. */
  firstWriteMs: number | null;
  lastEventMs: number | null;
  /** CPU seconds, controller start to all written: this process (the controller and its HTTP client) and the stand-in. */
  cpu: { controller: number; standIn: number; wallSeconds: number };
}

/** What `--profile` finds for the announcer at one N. */
interface AnnouncerProfile {
  n: number;
  variant: 'as is' | 'coalesced';
  /** Full VIP tables sent to the worker ('links' messages). */
  pushes: number;
  /** Main thread: building the tables, ms. */
  pushMs: number;
  /** Structured clone of the tables (postMessage copies them), ms. */
  cloneMs: number;
  /** The worker's rebuild per message (buildState + multicast set), replayed with the same functions, ms. */
  rebuildMs: number;
  /** Frames handed to the worker to send. */
  sendCalls: number;
}

type Proto = Record<string, ((...a: unknown[]) => unknown) | undefined>;

/** Wraps a private method on a prototype to add its time to `into[name]`; undefined when it is not there. */
function timeMethod(proto: Proto, name: string, into: Record<string, number>, after?: (self: unknown, ms: number) => void): (() => void) | undefined {
  const orig = proto[name];
  if (typeof orig !== 'function') {
    console.log(`  (profile: ${name} not found, not timed)`);
    return undefined;
  }
  proto[name] = function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    const done = () => {
      const ms = performance.now() - t;
      into[name] = (into[name] ?? 0) + ms;
      after?.(this, ms);
    };
    let out: unknown;
    try {
      out = orig.apply(this, a);
    } catch (err) {
      done();
      throw err;
    }
    // An async method (a pass that lets the event loop run at scale): timed to its end.
    if (out instanceof Promise) return out.finally(done);
    done();
    return out;
  };
  return () => {
    proto[name] = orig;
  };
}

async function medianMs(f: () => unknown, reps = 5): Promise<number> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    // An async `f` (a pass that lets the event loop run at scale) is timed to its end.
    await f();
    t.push(performance.now() - s);
  }
  return round(t.sort((a, b) => a - b)[Math.floor(reps / 2)]!, 2);
}

/**
 * The controller of src/ (what the binary runs, without the announcer) in this process against a stand-in on
 * loopback, with its private methods timed. `coalesced`: a what-if where watch events schedule a reconcile
 * `COALESCE_MS` later instead of 5 ms, so the writes of our own status (whose watch events change no
 * allocation) no longer cause one full reconcile per batch of 16 writes.
 */
async function profileController(n: number, variant: ControllerProfile['variant'], live: Live): Promise<ControllerProfile> {
  const COALESCE_MS = 1000;
  const [{ ServiceController }, { KubeClient }, { KubeHttp }, { loadKubeAccess }, { DEFAULT_CONFIG }, { createLogger }, { buildPools }, alloc, sel] = await Promise.all([
    import('../../src/kube/controller.ts'), import('../../src/kube/client.ts'), import('../../src/kube/http.ts'), import('../../src/kube/access.ts'),
    import('../../src/config/schema.ts'), import('../../src/log.ts'), import('../../src/ipam/pool.ts'), import('../../src/ipam/allocate.ts'), import('../../src/kube/selection.ts'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-kube-prof-'));
  live.dirs.push(dir);
  const api = await StandIn.start({});
  live.api = api;
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, 'cert');
  await createAll(api, clusterSetup());
  const { objects, shapes } = serviceSet('svc', n);
  await createAll(api, objects);
  const tail = new LogTail(join(api.dir, 'requests.jsonl'));
  tail.poll();

  const proto = ServiceController.prototype as unknown as Proto;
  const parts: Record<string, number> = {};
  const marks: ReconcileMark[] = [];
  let t0 = 0;
  let counts: { statusWrites: number } | undefined;
  const restore = [
    timeMethod(proto, 'reconcileOnce', parts, (_self, ms) => marks.push({ at: round(performance.now() - t0 - ms, 1), ms: round(ms, 1), writes: counts?.statusWrites ?? 0 })),
    timeMethod(proto, 'writeService', parts),
    timeMethod(proto, 'report', parts),
    timeMethod(proto, 'writeEips', parts),
  ];
  const schedule = proto.schedule;
  const emit = proto.emit;
  // what-if: Events wait until every Service is written (they are sent then), so they do not compete with the status writes
  const heldEvents: { self: unknown; args: unknown[] }[] = [];
  if (variant === 'coalesced, Events after') {
    proto.emit = function (this: unknown, ...args: unknown[]) {
      heldEvents.push({ self: this, args });
    };
  }
  if (variant !== 'as is') {
    proto.schedule = function (this: unknown, delay?: unknown) {
      return schedule!.call(this, delay === undefined ? COALESCE_MS : delay);
    };
  }
  // `leader`: answer with our own MAC, as the binary in the benchmark does (no Node objects needed)
  const config = { ...DEFAULT_CONFIG, mode: 'kubernetes', kubernetes: { ...DEFAULT_CONFIG.kubernetes, announce: 'leader' } } as typeof DEFAULT_CONFIG;
  const quiet = createLogger({ level: 'error', format: 'json' }, () => {});
  const first = new Map<string, number>();
  const standInPid = standInPidOf(api);
  const s0 = cpuSnapshot(standInPid);
  const self0 = process.cpuUsage();
  const startedAt = Date.now();
  t0 = performance.now();
  const c = new ServiceController(new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env: {} }))), config, quiet, { announce: () => {} });
  counts = c.counts;
  try {
    c.start();
    const limit = Date.now() + Math.max(30_000, n * 12);
    while (first.size < n && Date.now() < limit) {
      await Bun.sleep(20);
      for (const r of tail.poll()) {
        if (r.user !== L2LB_USER || r.status !== 200 || kindOf(r) !== 'serviceStatus') continue;
        const key = serviceOfPath(r.path);
        if (key && shapes.has(key) && !first.has(key)) first.set(key, r.at);
      }
    }
    const self1 = process.cpuUsage(self0);
    const s1 = cpuSnapshot(standInPid);
    const wallSeconds = (performance.now() - t0) / 1000;
    proto.emit = emit;
    for (const e of heldEvents.splice(0)) emit!.apply(e.self, e.args);
    await c.settled();
    // Events are not in the writer's queue: wait for them to arrive too
    const events = () => tail.records.filter((r) => r.user === L2LB_USER && kindOf(r) === 'event').length;
    const eventLimit = Date.now() + 20_000;
    do {
      await Bun.sleep(100);
      tail.poll();
    } while (events() < c.counts.events && Date.now() < eventLimit);
    const mine = tail.records.filter((r) => r.user === L2LB_USER);
    const firstWrite = mine.find((r) => kindOf(r) === 'serviceStatus')?.at;
    const lastEvent = mine.filter((r) => kindOf(r) === 'event').pop()?.at;
    const during = marks.filter((m) => m.writes < n);
    const rec = marks.map((m) => m.ms);
    // one reconcile's parts on the final state
    const cc = c as unknown as { services: { list(): KubeObject[] }; namespaces: { list(): KubeObject[] }; eips: { list(): KubeObject[] }; reconcileOnce(): Promise<void> };
    const all = cc.services.list();
    const ours = all.filter((s) => sel.isOurs(s, config.kubernetes));
    const claims = ours.map(sel.claimOf);
    const specs = cc.eips.list().map(sel.eipPool).filter((x) => x !== undefined);
    const pools = buildPools(specs);
    const nss = cc.namespaces.list().map((x) => ({ name: x.metadata.name as string, labels: (x.metadata.labels ?? {}) as Record<string, string> }));
    const results = alloc.allocate(pools, nss, claims);
    const single = {
      'claimOf (every Service)': await medianMs(() => ours.map(sel.claimOf)),
      'allocate (every Service has its address)': await medianMs(() => alloc.allocate(pools, nss, claims)),
      'allocate (no Service has an address yet)': await medianMs(() => alloc.allocate(pools, nss, claims.map((x) => ({ ...x, current: [] })))),
      'poolUsage (Eip status)': await medianMs(() => alloc.poolUsage(pools, results)),
      'ours.includes() loop': await medianMs(() => all.filter((s) => !ours.includes(s)).length),
      'whole reconcileOnce': await medianMs(() => cc.reconcileOnce()),
    };
    const times = [...first.values()];
    return {
      n, variant,
      allWrittenMs: first.size === n ? Math.max(...times) - startedAt : null,
      written: first.size,
      reconciles: marks.length,
      reconcileMs: { mean: round(rec.reduce((a, b) => a + b, 0) / Math.max(1, rec.length), 1), max: round(Math.max(...rec), 1), total: round(rec.reduce((a, b) => a + b, 0), 0) },
      writesPerReconcile: round(n / Math.max(1, during.length), 1),
      parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v, 0)])),
      single,
      timeline: marks.filter((_, i) => i % 10 === 0),
      firstWriteMs: firstWrite === undefined ? null : firstWrite - startedAt,
      lastEventMs: lastEvent === undefined ? null : lastEvent - startedAt,
      cpu: { controller: round((self1.user + self1.system) / 1e6, 2), standIn: round((s1.ticks - s0.ticks) / CLOCK_TICKS, 2), wallSeconds: round(wallSeconds, 2) },
    };
  } finally {
    await c.stop();
    proto.schedule = schedule;
    proto.emit = emit;
    for (const r of restore) r?.();
    tail.close();
    await api.close();
    live.api = undefined;
  }
}

/**
 * The announcer of src/ with a stand-in for the receive worker: `n` IPv6 VIPs arrive in one setVips (as the
 * controller hands over a whole allocation), then the probe and announce timers run out. Counts the full
 * tables pushed to the worker and what each costs: building it, copying it (postMessage), and the worker's
 * rebuild, replayed here with the functions worker.ts uses. `coalesced`: a what-if where pushes asked for in
 * the same turn of the event loop become one.
 */
async function profileAnnouncer(n: number, variant: AnnouncerProfile['variant']): Promise<AnnouncerProfile> {
  const [{ Announcer }, { DEFAULT_CONFIG }, { createLogger }, { slotMaps }, { parseMAC }, ip] = await Promise.all([
    import('../../src/announce/announcer.ts'), import('../../src/config/schema.ts'), import('../../src/log.ts'),
    import('../../src/announce/responder.ts'), import('../../src/net/mac.ts'), import('../../src/net/ip.ts'),
  ]);
  type Specs = { vips: { ip: string; mac: string; mode: 'answer' | 'probe' }[] }[];
  const out: AnnouncerProfile = { n, variant, pushes: 0, pushMs: 0, cloneMs: 0, rebuildMs: 0, sendCalls: 0 };
  const rebuild = (specs: Specs) => {
    for (const spec of specs) {
      const slots = [];
      const groups = new Set<string>();
      for (const v of spec.vips) {
        const a = ip.parseIP(v.ip);
        const mac = parseMAC(v.mac);
        if (a && mac) slots.push({ key: v.ip, ip: a, mac, mode: v.mode });
        if (a?.family === 6) groups.add((a.value & 0xffffffn).toString(16));
      }
      slotMaps(slots);
    }
  };
  const io = {
    setLinks(specs: Specs) {
      out.pushes++;
      let t = performance.now();
      const copy = structuredClone(specs);
      out.cloneMs += performance.now() - t;
      t = performance.now();
      rebuild(copy);
      out.rebuildMs += performance.now() - t;
    },
    send() {
      out.sendCalls++;
    },
  };
  const proto = Announcer.prototype as unknown as Proto;
  const push = proto.push!;
  let pending = false;
  proto.push = function (this: unknown) {
    const self = this;
    const run = () => {
      const t = performance.now();
      push.call(self);
      // setLinks' own time (clone + rebuild) is counted separately
      out.pushMs += performance.now() - t;
    };
    if (variant === 'as is') return run();
    if (pending) return undefined;
    pending = true;
    setTimeout(() => {
      pending = false;
      run();
    }, 0);
    return undefined;
  };
  const timing = DEFAULT_CONFIG.announce;
  const a = new Announcer(timing, ['eth0'], io as never, createLogger({ level: 'error', format: 'json' }, () => {}));
  try {
    a.setInterface('eth0', { name: 'eth0', index: 2, mac: '02:00:00:00:0a:01', mtu: 1500, up: true, running: true, addresses: [] });
    a.setSocket('eth0', true);
    const base = ip.parseIP('2001:db8:0:d::')!.value;
    a.setVips(Array.from({ length: n }, (_, i) => ({ ip: ip.formatIP({ family: 6, value: base + BigInt(i + 1) }), source: 'kubernetes' as const })));
    // every VIP has been probed and announced
    await Bun.sleep((timing.probeCount - 1) * timing.probeInterval + timing.probeWait + (timing.gratuitousCount - 1) * timing.gratuitousInterval + 300);
  } finally {
    a.stop();
    proto.push = push;
  }
  out.pushMs = round(out.pushMs - out.cloneMs - out.rebuildMs, 0);
  out.cloneMs = round(out.cloneMs, 0);
  out.rebuildMs = round(out.rebuildMs, 0);
  return out;
}

/**
 * `--profile`: the controller as is at the given sizes, the coalesced what-if at those and 10,000, Events held
 * back at 10,000, then the announcer as is (1,000 and 2,000 VIPs) and coalesced (10,000).
 */
async function runProfile(live: Live, argv: string[]): Promise<void> {
  const sizes = (argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length) ?? '2500,5000').split(',').map(Number);
  const controller: ControllerProfile[] = [];
  for (const n of sizes) controller.push(await profileController(n, 'as is', live));
  for (const n of [...sizes, 10_000].filter((x, i, all) => all.indexOf(x) === i)) controller.push(await profileController(n, 'coalesced', live));
  controller.push(await profileController(10_000, 'coalesced, Events after', live));
  const announcer: AnnouncerProfile[] = [];
  for (const n of [1000, 2000]) announcer.push(await profileAnnouncer(n, 'as is'));
  announcer.push(await profileAnnouncer(10_000, 'coalesced'));
  console.log('\nController of src/ in this process (no announcer), start to all written');
  console.log(table([
    ['', 'N', 'all written', 'first write', 'last Event', 'reconciles', 'mean / max ms', 'writes per reconcile', 'in reconcile', 'CPU s: controller', 'stand-in'],
    ...controller.map((c) => [c.variant, String(c.n), c.allWrittenMs === null ? `NOT (${c.written})` : ms(c.allWrittenMs), ms(c.firstWriteMs), ms(c.lastEventMs),
      String(c.reconciles), `${c.reconcileMs.mean} / ${c.reconcileMs.max}`, String(c.writesPerReconcile), ms(c.reconcileMs.total),
      String(c.cpu.controller), String(c.cpu.standIn)]),
  ]));
  console.log('\nOne reconcile on the final state (ms)');
  const keys = Object.keys(controller[0]!.single);
  console.log(table([['', ...controller.map((c) => `${c.variant} N=${c.n}`)], ...keys.map((k) => [k, ...controller.map((c) => String(c.single[k]))])]));
  console.log('\nAnnouncer of src/ (worker stood in for), N IPv6 VIPs handed over at once');
  console.log(table([
    ['', 'N', 'tables pushed', 'build ms', 'copy ms', 'worker rebuild ms', 'send calls'],
    ...announcer.map((a) => [a.variant, String(a.n), String(a.pushes), String(a.pushMs), String(a.cloneMs), String(a.rebuildMs), String(a.sendCalls)]),
  ]));
  const doc = { date: new Date().toISOString(), command: `node_modules/.bin/bun test/bench/kube.ts ${argv.join(' ')}`, controller, announcer };
  if (!argv.includes('--no-write')) {
    const prev = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
    writeFileSync(RESULTS, JSON.stringify({ ...prev, profile: doc }, null, 2) + '\n');
    console.log(`\nwrote the profile into ${RESULTS} (key "profile")`);
  }
}

// --------------------------------------------------------------------------------------------- report

function ms(x: number | null | undefined): string {
  return x === null || x === undefined ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

function report(results: RunResult[]): string {
  const lines: string[] = [];
  const head = ['', ...results.map((r) => `N=${r.n}`)];
  const row = (name: string, f: (r: RunResult) => string) => [name, ...results.map(f)];
  lines.push('Start to all written (l2lb spawned -> last Service status PATCH received by the stand-in)');
  lines.push(table([
    head,
    row('addresses held', (r) => String(r.addresses)),
    row('all written', (r) => (r.allWrittenMs === null ? `NOT (${r.written}/${r.n})` : ms(r.allWrittenMs))),
    row('  per Service', (r) => (r.allWrittenMs === null ? '—' : `${((r.allWrittenMs / r.n) * 1000).toFixed(0)} µs`)),
    row('first request', (r) => ms(r.timeline.firstRequestMs)),
    row('leader (Lease taken)', (r) => (r.timeline.leaderMs === null ? 'no election' : ms(r.timeline.leaderMs))),
    row('lists complete', (r) => ms(r.timeline.listsCompleteMs)),
    row('first write', (r) => ms(r.timeline.firstWriteMs)),
    row('half written', (r) => ms(r.timeline.halfWrittenMs)),
    row('last request', (r) => ms(r.timeline.lastRequestMs)),
    row('longest Lease gap', (r) => (r.timeline.leaseGapMs === null ? 'no election' : ms(r.timeline.leaseGapMs))),
    row('status writes/s', (r) => String(r.writeRate ?? '—')),
    row('l2lb CPU s (% core)', (r) => `${r.cpu.l2lb.seconds} (${r.cpu.l2lb.percent} %)`),
    row('stand-in CPU s (%)', (r) => `${r.cpu.standIn.seconds} (${r.cpu.standIn.percent} %)`),
    row('machine busy %', (r) => `${r.cpu.machineBusyPercent} %`),
    row('l2lb VmRSS / VmHWM', (r) => `${mib(r.memory.rssKiB)} / ${mib(r.memory.hwmKiB)}`),
    row('check', (r) => (r.allWrittenMs === null ? 'incomplete' : problems([r]).length === 0 ? 'ok' : 'FAILED')),
  ]));
  lines.push('');
  lines.push('API requests of l2lb from start until quiet');
  lines.push(table([
    head,
    row('total', (r) => String(r.requests.total)),
    row('non-GET per Service', (r) => r.requests.writesPerService.toFixed(3)),
    row('  status patches', (r) => `${r.requests.byKind.serviceStatus} (${r.requests.perService.serviceStatus}/svc)`),
    row('  events', (r) => `${r.requests.byKind.event} (${r.requests.perService.event}/svc)`),
    row('  eip status', (r) => `${r.requests.byKind.eipStatus} (${r.requests.perService.eipStatus}/svc)`),
    row('  other writes', (r) => String(r.requests.byKind.otherWrite)),
    row('lease (election)', (r) => String(r.requests.byKind.lease)),
    row('list pages', (r) => String(r.requests.byKind.list)),
    row('watches', (r) => String(r.requests.byKind.watch)),
    row('gets', (r) => String(r.requests.byKind.get)),
    row('non-2xx', (r) => JSON.stringify(r.requests.failures)),
    row('Events by reason', (r) => JSON.stringify(r.check.events)),
    row('address on 2 Services at once', (r) => String(r.check.transientDuplicates.length)),
  ]));
  lines.push('');
  lines.push('l2lb threads (CPU s, spawn to all written)');
  for (const r of results) lines.push(`  N=${r.n}: ${r.cpu.l2lb.threads.map((t) => `${t.comm} ${t.seconds}`).join(', ')}`);
  for (const r of results) {
    const l = r.latency;
    if (!l) continue;
    lines.push('');
    lines.push(`Creation to status write: ${l.created} new Services at ${l.rate}/s on top of N=${r.n} (stand-in arrival times)`);
    const s = l.createToStatus;
    lines.push(table([
      ['written', 'p50', 'p90', 'p99', 'max', 'l2lb CPU', 'stand-in CPU', 'VmRSS / VmHWM'],
      [`${l.written}/${l.created}`, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), `${l.cpu.l2lb.percent} %`, `${l.cpu.standIn.percent} %`, `${mib(l.memory.rssKiB)} / ${mib(l.memory.hwmKiB)}`],
    ]));
    lines.push(`  requests per new Service: ${Object.entries(l.requestsPerService).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    lines.push(`  Events at the end, by reason: ${JSON.stringify(l.check.events)}`);
    lines.push(`  addresses held by two Services at once at some point: ${l.check.transientDuplicates.length}${l.check.transientDuplicates.length ? `, e.g. ${l.check.transientDuplicates[0]}` : ''}`);
    if (l.creator.failed.length) lines.push(`  creates failed: ${l.creator.failed.length}, e.g. ${l.creator.failed[0]}`);
  }
  return lines.join('\n');
}

/** An outcome with its lists cut to a few examples (the counts stay), for the JSON file. */
function brief(c: Outcome): Outcome & { counts: Record<string, number> } {
  const few = (l: string[]) => l.slice(0, 5);
  return {
    ...c,
    counts: { missing: c.missing.length, wrongPool: c.wrongPool.length, duplicates: c.duplicates.length, transientDuplicates: c.transientDuplicates.length },
    missing: few(c.missing), wrongPool: few(c.wrongPool), duplicates: few(c.duplicates), transientDuplicates: few(c.transientDuplicates),
  };
}

/** HEAD and whether src/ has uncommitted changes (the binary may have been built from them). */
function gitState(): { head: string; srcDirty: boolean } {
  const run = (args: string[]) => Bun.spawnSync({ cmd: ['git', ...args], cwd: ROOT, stdout: 'pipe', stderr: 'pipe' }).stdout.toString().trim();
  return { head: run(['rev-parse', '--short', 'HEAD']), srcDirty: run(['status', '--porcelain', '--', 'src']) !== '' };
}

function problems(results: RunResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    // a run stopped at its deadline is reported as such, not as wrong
    if (r.allWrittenMs === null) continue;
    const c = r.check;
    if (c.missing.length) out.push(`N=${r.n}: ${c.missing.length} Services without their addresses, e.g. ${c.missing.slice(0, 3).join('; ')}`);
    if (c.wrongPool.length) out.push(`N=${r.n}: ${c.wrongPool.length} addresses from a wrong pool, e.g. ${c.wrongPool.slice(0, 3).join('; ')}`);
    if (c.duplicates.length) out.push(`N=${r.n}: ${c.duplicates.length} addresses given twice, e.g. ${c.duplicates.slice(0, 3).join('; ')}`);
    if (c.eipUsed !== c.addresses) out.push(`N=${r.n}: Eip status lists ${c.eipUsed} used addresses, Services hold ${c.addresses}`);
    const l = r.latency;
    if (l && l.written < l.creator.sent) out.push(`N=${r.n}, step 2: ${l.creator.sent - l.written} of ${l.creator.sent} new Services got no status write in time`);
    if (l && l.written === l.creator.sent && l.check.missing.length) out.push(`N=${r.n}, step 2: ${l.check.missing.length} Services without their addresses, e.g. ${l.check.missing.slice(0, 3).join('; ')}`);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const create = argv.indexOf('--create');
  if (create >= 0) {
    const args = JSON.parse(readFileSync(argv[create + 1]!, 'utf8')) as CreatorArgs;
    console.log(JSON.stringify(await runCreator(args)));
    return 0;
  }
  if (!isRoot) {
    console.error('SKIP kube bench: needs root (network namespaces)');
    return 0;
  }
  const p = params(argv);
  const live: Live = { dirs: [] };
  const onSignal = () => {
    void cleanup(live).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (argv.some((a) => a === '--profile' || a.startsWith('--profile='))) {
    try {
      await runProfile(live, argv);
      return 0;
    } finally {
      await cleanup(live);
    }
  }
  if (p.command[0] === BINARY) ensureBinary();
  const started = Date.now();
  try {
    const pair = createPair(PREFIX);
    live.pair = pair;
    const results: RunResult[] = [];
    for (const n of p.sizes) {
      results.push(await runOne(p, live, pair, n, p.latency));
      const r = results[results.length - 1]!;
      console.log(`  N=${n}: all written ${ms(r.allWrittenMs)}, l2lb ${r.cpu.l2lb.seconds} s CPU, stand-in ${r.cpu.standIn.seconds} s CPU`);
    }
    console.log('');
    console.log(report(results));
    const bad = problems(results);
    for (const b of bad) console.log(`PROBLEM ${b}`);
    const doc = {
      date: new Date().toISOString(),
      command: `node_modules/.bin/bun test/bench/kube.ts ${argv.join(' ')}`.trim(),
      l2lb: p.command.join(' '),
      binaryBuilt: p.command[0] === BINARY ? Bun.file(BINARY).lastModified && new Date(Bun.file(BINARY).lastModified).toISOString() : undefined,
      bun: Bun.version,
      git: gitState(),
      pools: POOLS.map(({ name, address, spec, isDefault, namedOnly }) => ({ name, address, ...spec, ...(isDefault ? { default: true } : {}), ...(namedOnly ? { namedOnly } : {}) })),
      mix: 'per 100 Services: 4 IPv4, 1 RequireDualStack IPv4+IPv6, 1 PreferDualStack IPv6+IPv4, 4 IPv6 naming pool v6-named, 90 IPv6; 20 namespaces; 1 in 7 by loadBalancerClass',
      benchSeconds: round((Date.now() - started) / 1000, 1),
      results: results.map((r) => ({
        ...r,
        check: brief(r.check),
        ...(r.latency ? { latency: { ...r.latency, check: brief(r.latency.check) } } : {}),
      })),
    };
    if (p.write) {
      // the profile is written by its own run (--profile): keep it
      const profile = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { profile?: unknown }).profile : undefined;
      writeFileSync(RESULTS, JSON.stringify({ ...doc, ...(profile ? { profile } : {}) }, null, 2) + '\n');
    }
    console.log(`\nbench took ${doc.benchSeconds} s${p.write ? `; wrote ${RESULTS}` : ''}`);
    return bad.length ? 1 : 0;
  } finally {
    await cleanup(live);
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
