/**
 * Scale and footprint (issue 14): `node_modules/.bin/bun test/bench/scale.ts` as root. Writes
 * test/bench/scale-results.json and prints one table row per case.
 *
 * Each case is a cluster on the API server stand-in (test/support/kube) made to cost like a real one: every
 * object as the real server returns it (`managedFields`, kubelet-sized Nodes of ~12 KB with 50 images), and
 * writes that cost what etcd's commit does (`writeCost`: at most `--slots` at once, `--ms` each; the default
 * 8 × 8 ms gives ~1,000 writes/s, the pace measured on a real kube-apiserver 1.28 + etcd on this kind of
 * machine: 10,000 status patches in 9.5–13.8 s). Per case:
 *
 * 1. the floor: a bare client (Bun's fetch, client certificate) writes every Service's status on a fresh
 *    stand-in holding the same cluster, `--bare` connections at a time (default 16 and 64); the faster counts.
 *    Before it writes (untimed for the issue's ratio) it lists what l2lb lists, 500 a page, the LoadBalancers
 *    (by `spec.type` from 1.31) and the Nodes, keeping the least a controller must (identity, version,
 *    address; a Node's InternalIPs and readiness), with l2lb's heap target: its VmHWM is this runtime's floor
 *    for the same reads and writes, and the ratio "listed" counts the list time in the floor;
 * 2. l2lb (the compiled binary, in a network namespace with the stand-in) from spawn to the arrival of the
 *    last Service's first successful status write (the stand-in's request log); its VmHWM when all are written
 *    and once settled, VmRSS settled;
 * 3. new Services on the settled l2lb (`--late`, default 5), one at a time: from the create to the arrival
 *    of its first successful status write (the request log);
 * 3b. EndpointSlice changes (`--churn`, default 5; per-node and gateway models, cases with Local Services):
 *    one endpoint's readiness flipped at a time; each pass's length and how many of the passes allocated;
 * 4. restart (SIGTERM, the rolling-update path, then spawn again): time from spawn until `/v1/status` counts
 *    every address active, and until a sample of addresses answers NS from the other namespace (ndisc6);
 *    status writes after the restart (there should be none: nothing changed); the new process's VmHWM.
 *
 * Cases (`--cases=`, comma-separated, default `empty,lb1k,lb10k,budget1,budget2`):
 * - `empty`: the pool and nothing to serve: what the process costs before any object (no writes: its
 *   "written" is the moment `/readyz` first says ready);
 * - `lb1k`, `lb10k`, `lb100k`: N LoadBalancer Services and nothing else (the per-object growth);
 * - `budget1`: 10,000 LoadBalancer Services + 1,000 kubelet Nodes;
 * - `budget2`: 10,000 LoadBalancer + 90,000 ClusterIP Services + 5,000 kubelet Nodes + 1,000 of the
 *   LoadBalancers `externalTrafficPolicy: Local` with an EndpointSlice each.
 * `--announce=leader` (default; the leader answers every address with its own MAC, so a restart can be
 * checked on the wire without 5,000 real nodes) or `node` / `self` (the per-node mode: this instance is the
 * node `node-00000`; memory as each instance of the DaemonSet pays it).
 *
 * `--kube=1.28` (default: the release the issue measured against) or `1.31`: the stand-in behaves as that release;
 * from 1.31 the Services are listed by selection (LoadBalancers by `spec.type`, plus ours by label), before
 * it whole.
 *
 * For A/B work on memory: `--bare=none` skips the floor; `SCALE_BINARY=PATH` runs another build (e.g. one
 * made with `bun build/compile.ts --outfile PATH`); `SCALE_HOLD=FILE` keeps the first l2lb running once its
 * writes are done, its pid in FILE, until FILE is deleted (to read /proc/PID/smaps, the API or a profile).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Pair, createPair, isRoot, sh } from '../support/netns.ts';
import { BUN, ROOT, ensureBinary } from '../support/l2lb.ts';
import { type KubeObject, type RequestRecord, StandIn } from '../support/kube/standin.ts';
import { LogTail } from '../support/kube/request-log.ts';
import { kubeletNode } from '../support/kube/nodes.ts';

const arg = (name: string, dflt: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const SELF = join(ROOT, 'test/bench/scale.ts');
const RESULTS = join(ROOT, 'test/bench/scale-results.json');
const API_PORT = 19592;
const NAMESPACES = 20;
const POOL = '2001:db8:5::/64';

interface Case { name: string; lb: number; clusterIP: number; nodes: number; local: number }
const CASES: Record<string, Case> = {
  empty: { name: 'empty', lb: 0, clusterIP: 0, nodes: 0, local: 0 },
  lb1k: { name: 'lb1k', lb: 1_000, clusterIP: 0, nodes: 0, local: 0 },
  lb10k: { name: 'lb10k', lb: 10_000, clusterIP: 0, nodes: 0, local: 0 },
  lb100k: { name: 'lb100k', lb: 100_000, clusterIP: 0, nodes: 0, local: 0 },
  budget1: { name: 'budget1', lb: 10_000, clusterIP: 0, nodes: 1_000, local: 0 },
  budget2: { name: 'budget2', lb: 10_000, clusterIP: 90_000, nodes: 5_000, local: 1_000 },
};

const nsName = (i: number) => `team-${String(i).padStart(2, '0')}`;
const svcName = (kind: string, i: number) => `${kind}-${String(i).padStart(6, '0')}`;

/** The objects of a case, in creation order (namespaces and the pool first). */
function cluster(c: Case): KubeObject[] {
  const out: KubeObject[] = [
    ...Array.from({ length: NAMESPACES }, (_, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsName(i) } })),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } },
    { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', metadata: { name: 'lan', annotations: { 'eip.openelb.kubesphere.io/is-default-eip': 'true' } }, spec: { address: POOL, protocol: 'layer2' } },
  ];
  for (let i = 0; i < c.nodes; i++) out.push(kubeletNode(`node-${String(i).padStart(5, '0')}`, { internalIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] }));
  for (let i = 0; i < c.lb; i++) {
    const local = i < c.local;
    out.push(lbService(svcName('lb', i), nsName(i % NAMESPACES), local));
    if (local) {
      out.push({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: `${svcName('lb', i)}-abcde`, namespace: nsName(i % NAMESPACES), labels: { 'kubernetes.io/service-name': svcName('lb', i) } },
        addressType: 'IPv4',
        endpoints: [0, 1].map((k) => ({ addresses: [`10.244.${k}.${i % 250}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: `node-${String((i * 2 + k) % Math.max(1, c.nodes)).padStart(5, '0')}` })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
    }
  }
  for (let i = 0; i < c.clusterIP; i++) {
    out.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: svcName('cip', i), namespace: nsName(i % NAMESPACES), labels: { app: svcName('cip', i) } },
      spec: { type: 'ClusterIP', selector: { app: svcName('cip', i) }, ports },
    });
  }
  return out;
}

const ports = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }];

/** One of the cluster's LoadBalancer Services (IPv6, our class). */
function lbService(name: string, namespace: string, local = false): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace, annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb' }, labels: { app: name } },
    spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', selector: { app: name }, ports, ...(local ? { externalTrafficPolicy: 'Local' } : {}) },
  };
}

async function createAll(api: StandIn, objects: KubeObject[], concurrency = 32): Promise<void> {
  // Namespaces and the pool first: a Service's create would make its namespace, and the namespace's then fail.
  const first = objects.findIndex((o) => o.kind !== 'Namespace' && o.kind !== 'Eip');
  const setup = first < 0 ? objects.length : first;
  for (const o of objects.slice(0, setup)) await api.create(o);
  let next = setup;
  const worker = async () => {
    while (next < objects.length) {
      const o = objects[next++];
      await api.create(o, o.kind === 'Node' ? { manager: 'kubelet' } : {});
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ------------------------------------------------------------------------------------------ bare client

interface BareArgs {
  server: string; ca: string; cert: string; key: string; names: [string, string][]; concurrency: number; salt: number;
  /** List first (not timed), as l2lb must: its Services (by `spec.type` from 1.31) and Nodes, 500 a page. */
  list?: { serviceSelector?: string };
}

/** Pages of `path` (500 a page, as l2lb lists), each object passed to `keep` as parsed. */
async function listAll(server: string, tls: object, path: string, keep: (o: any) => void): Promise<void> {
  let token: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await fetch(`${server}${path}${sep}limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`, { tls, headers: { Accept: 'application/json' } } as RequestInit);
    if (r.status !== 200) throw new Error(`list ${path}: ${r.status}`);
    const page = (await r.json()) as { items: any[]; metadata: { continue?: string } };
    for (const o of page.items) keep(o);
    token = page.metadata.continue || undefined;
  } while (token);
}

/**
 * Writes every Service's status once, `concurrency` at a time (run inside the namespace of the stand-in). With
 * `list`, first lists what l2lb lists and keeps the least any controller must (a Service's identity, version and
 * address; a Node's name, InternalIPs and readiness): its VmHWM is the runtime's floor for the same work.
 */
async function bareClient(a: BareArgs): Promise<void> {
  const tls = { ca: a.ca, cert: a.cert, key: a.key };
  const kept = new Map<string, unknown>();
  const l0 = performance.now();
  if (a.list) {
    const selector = a.list.serviceSelector ? `?fieldSelector=${encodeURIComponent(a.list.serviceSelector)}` : '';
    await listAll(a.server, tls, `/api/v1/services${selector}`, (o) => {
      kept.set(`${o.metadata.namespace}/${o.metadata.name}`, { uid: o.metadata.uid, rv: o.metadata.resourceVersion, ip: o.status?.loadBalancer?.ingress?.[0]?.ip });
    });
    await listAll(a.server, tls, '/api/v1/nodes', (o) => {
      kept.set(o.metadata.name, {
        ips: (o.status?.addresses ?? []).filter((x: any) => x.type === 'InternalIP').map((x: any) => x.address),
        ready: (o.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
      });
    });
  }
  const listMs = performance.now() - l0;
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < a.names.length) {
      const i = next++;
      const [ns, name] = a.names[i]!;
      const ip = `2001:db8:6:${a.salt}::${((i + 1) >> 16).toString(16)}:${((i + 1) & 0xffff).toString(16)}`;
      const r = await fetch(`${a.server}/api/v1/namespaces/${ns}/services/${name}/status`, {
        method: 'PATCH', tls, headers: { 'Content-Type': 'application/merge-patch+json', Accept: 'application/json' },
        body: JSON.stringify({ status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } }),
      } as RequestInit);
      await r.arrayBuffer();
      if (r.status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, listMs, failed, kept: kept.size, hwmMiB: Math.round(status(process.pid).hwm) }));
}

function runBare(pair: Pair, api: StandIn, names: [string, string][], concurrency: number, salt: number, dir: string, list?: BareArgs['list']): { ms: number; listMs: number; failed: number; kept: number; hwmMiB: number } {
  const file = join(dir, `bare-${concurrency}.json`);
  const cfg = JSON.parse(readFileSync(join(api.dir, 'config.json'), 'utf8'));
  writeFileSync(file, JSON.stringify({ server: `https://127.0.0.1:${cfg.port}`, ...api.tls('cert'), names, concurrency, salt, list } as BareArgs));
  // The heap target l2lb runs with (src/runtime/heap.ts), so that the two floors compare.
  const r = sh(['env', 'BUN_JSC_forceRAMSize=134217728', BUN, SELF, '--bare-client', file], { ns: pair.nsA });
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// ----------------------------------------------------------------------------------------------- l2lb

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

interface Spawned { proc: ReturnType<typeof Bun.spawn>; at: number; log: string }

function spawnL2lb(pair: Pair, dir: string, kubeconfig: string, announce: string, n: number): Spawned {
  const file = join(dir, 'l2lb.json');
  writeFileSync(file, JSON.stringify({
    mode: 'kubernetes', interfaces: [pair.ifA], api: { listen: `127.0.0.1:${API_PORT}` }, stateFile: '',
    log: { level: process.env.SCALE_LOG ?? 'warn', format: 'json' },
    kubernetes: { kubeconfig, announce, ...(announce === 'self' ? { nodeName: 'node-00000' } : {}) },
    // One requester asks for a sample of addresses on restart; nothing else on the wire.
    announce: { probeCount: 0, gratuitousCount: 1, confirmInterval: 0 },
  }));
  const log = join(dir, `l2lb-${n}.log`);
  const at = Date.now();
  const proc = Bun.spawn({ cmd: ['ip', 'netns', 'exec', pair.nsA, ensureBinary(process.env.SCALE_BINARY), '--config', file], stdout: Bun.file(log), stderr: Bun.file(log), stdin: 'ignore' });
  return { proc, at, log };
}

/** l2lb's admin API at `path`, through the namespace, as text ("" when it does not answer in `timeoutS`). */
function apiText(pair: Pair, path: string, timeoutS = 2): string {
  return sh(['curl', '-s', '-m', String(timeoutS), `http://127.0.0.1:${API_PORT}${path}`], { ns: pair.nsA, check: false }).stdout;
}

function apiGet(pair: Pair, path: string): any {
  try {
    return JSON.parse(apiText(pair, path));
  } catch {
    return undefined;
  }
}

async function waitUntil<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(everyMs);
  }
}

const isStatusWrite = (r: RequestRecord) => r.method === 'PATCH' && /\/services\/[^/]+\/status$/.test(r.path) && r.user === 'l2lb';

/**
 * New Services once l2lb has settled, created one at a time (the next 1 s after the last one's address was
 * written): from the create to the arrival of its first successful status write. At scale a change costs a
 * pass over everything, so this is what an operator creating one Service in a big cluster waits for.
 * The request log is read from where the last read ended: parsing all of it on every poll would take the
 * CPU the measured process needs.
 */
async function lateServices(api: StandIn, count: number): Promise<number[]> {
  const log = join(api.dir, 'requests.jsonl');
  const tail = new LogTail(log, statSync(log).size);
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = svcName('late', i);
      const path = `/api/v1/namespaces/${nsName(0)}/services/${name}/status`;
      const at = Date.now();
      await api.create(lbService(name, nsName(0)));
      const written = await waitUntil(`new Service ${name}: status written`,
        () => tail.poll().find((r) => isStatusWrite(r) && r.status === 200 && r.path === path)?.at, 30_000, 20);
      out.push(written - at);
      await Bun.sleep(1_000);
    }
  } finally {
    tail.close();
  }
  return out;
}

/** l2lb's metrics without labels, by name (`/metrics` through the namespace). */
function metricsOf(pair: Pair): Map<string, number> {
  const text = apiText(pair, '/metrics', 5);
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(l2lb_[a-z_]+) (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/**
 * EndpointSlice changes on the settled l2lb (`--churn`, per-node and gateway models, Local Services only), one
 * at a time: each flips one endpoint's readiness, which starts a pass and changes no address. Per change the
 * pass's length (`l2lb_kube_reconcile_last_seconds`); over all, how many passes allocated.
 */
async function churnSlices(api: StandIn, pair: Pair, count: number): Promise<{ passMs: number[]; passes: number; allocations: number }> {
  const before = metricsOf(pair);
  const passMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const ref = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: nsName(i % NAMESPACES), name: `${svcName('lb', i)}-abcde` };
    const slice = await api.get(ref);
    const passes = metricsOf(pair).get('l2lb_kube_reconcile_seconds_count') ?? 0;
    slice.endpoints[1].conditions.ready = !slice.endpoints[1].conditions.ready;
    await api.update(slice);
    const m = await waitUntil(`EndpointSlice ${ref.name}: a pass`, () => {
      const now = metricsOf(pair);
      return (now.get('l2lb_kube_reconcile_seconds_count') ?? 0) > passes ? now : undefined;
    }, 30_000, 50);
    passMs.push(Math.round((m.get('l2lb_kube_reconcile_last_seconds') ?? NaN) * 1000));
    await Bun.sleep(500);
  }
  const after = metricsOf(pair);
  const delta = (name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
  return { passMs, passes: delta('l2lb_kube_reconcile_seconds_count'), allocations: delta('l2lb_kube_allocations_total') };
}

async function runCase(c: Case, pair: Pair, announce: string, cost: { ms: number; slots: number }, bare: number[], kube: '1.28' | '1.31', late: number, churn: number) {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-scale-'));
  const objects = cluster(c);
  const names = objects.filter((o) => o.kind === 'Service' && o.spec.type === 'LoadBalancer').map((o): [string, string] => [o.metadata.namespace, o.metadata.name]);
  try {
    // 1. the floor, on a stand-in of its own with the same cluster
    const floor = await StandIn.start({ netns: pair.nsA, writeCost: cost, kubernetesVersion: kube });
    let t = performance.now();
    await createAll(floor, objects);
    console.log(`${c.name}: ${objects.length} objects created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const bareMs: Record<string, number> = {};
    const bareHwmMiB: Record<string, number> = {};
    const bareListMs: Record<string, number> = {};
    const list = { serviceSelector: kube === '1.31' ? 'spec.type=LoadBalancer' : undefined };
    for (const [k, conc] of (names.length > 0 ? bare : []).entries()) {
      const r = runBare(pair, floor, names, conc, k + 1, dir, list);
      if (r.failed) throw new Error(`bare client: ${r.failed} writes failed`);
      bareMs[String(conc)] = Math.round(r.ms);
      bareHwmMiB[String(conc)] = r.hwmMiB;
      bareListMs[String(conc)] = Math.round(r.listMs);
    }
    await floor.close();

    // 2. l2lb from cold
    const api = await StandIn.start({ netns: pair.nsA, writeCost: cost, kubernetesVersion: kube });
    await createAll(api, objects);
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig, 'cert');
    const l1 = spawnL2lb(pair, dir, kubeconfig, announce, 1);
    const want = new Set(names.map(([ns, n]) => `/api/v1/namespaces/${ns}/services/${n}/status`));
    const seen = new Set<string>();
    let lastAt = 0;
    let hwmAtWritten = 0;
    if (want.size === 0) {
      lastAt = await waitUntil(`${c.name}: ready`, () => (apiGet(pair, '/readyz')?.ready === true ? Date.now() : undefined), 60_000);
      hwmAtWritten = status(l1.proc.pid).hwm;
    } else await waitUntil(`${c.name}: every status written`, async () => {
      if (l1.proc.exitCode !== null) throw new Error(`l2lb exited ${l1.proc.exitCode}: ${readFileSync(l1.log, 'utf8').slice(-2000)}`);
      hwmAtWritten = Math.max(hwmAtWritten, status(l1.proc.pid).hwm);
      for (const r of await api.requests()) {
        if (isStatusWrite(r) && r.status === 200 && want.has(r.path) && !seen.has(r.path)) {
          seen.add(r.path);
          lastAt = Math.max(lastAt, r.at);
        }
      }
      return seen.size === want.size || undefined;
    }, 300_000, 250);
    const writtenMs = lastAt - l1.at;
    if (process.env.SCALE_LOG) {
      for (const line of readFileSync(l1.log, 'utf8').split('\n').filter((l) => !l.includes('"vip announced"')).slice(0, 40)) {
        try {
          const rec = JSON.parse(line);
          console.log(`  +${Date.parse(rec.time) - l1.at} ms ${rec.msg} ${JSON.stringify(rec).slice(0, 160)}`);
        } catch {}
      }
    }
    // What else took the server's write slots before the last address was written, and when writing began.
    const phase = (await api.requests()).filter((r) => r.user === 'l2lb' && r.at <= lastAt);
    const firstWriteMs = want.size === 0 ? null : Math.min(...phase.filter(isStatusWrite).map((r) => r.at)) - l1.at;
    const otherBeforeLast = phase.filter((r) => r.method !== 'GET' && !isStatusWrite(r) && !r.path.includes('/leases/')).length;
    await Bun.sleep(5_000); // Events, Eip status, the serving-node records trail; the heap settles
    if (process.env.SCALE_HOLD) {
      writeFileSync(process.env.SCALE_HOLD, String(l1.proc.pid));
      while (existsSync(process.env.SCALE_HOLD)) await Bun.sleep(500);
    }
    const settled = status(l1.proc.pid);
    const active1 = apiGet(pair, '/v1/status')?.vips?.active ?? 0;
    const lateMs = names.length > 0 ? await lateServices(api, late) : [];
    const churned = c.local > 0 && announce !== 'leader' && churn > 0 ? await churnSlices(api, pair, Math.min(churn, c.local)) : undefined;
    if (churned) console.log(`${c.name}: ${churned.passMs.length} EndpointSlice changes: passes ${churned.passMs.join(' ')} ms; ${churned.passes} passes, ${churned.allocations} allocated`);
    // A change at scale is a pass over everything: the peak of a life with changes, not only of the start.
    const hwmLateMiB = Math.round(status(l1.proc.pid).hwm);

    // 3. restart
    l1.proc.kill('SIGTERM');
    await l1.proc.exited;
    const before = (await api.requests()).length;
    const l2 = spawnL2lb(pair, dir, kubeconfig, announce, 2);
    // As many addresses answered as before the restart (the leader: all; per node: what this node owns,
    // which is none here, where the Nodes' addresses are not on the segment: then only the writes count).
    const activeAt = active1 === 0 ? undefined : await waitUntil(`${c.name}: every address active after the restart`, () => {
      if (l2.proc.exitCode !== null) throw new Error(`l2lb exited ${l2.proc.exitCode}: ${readFileSync(l2.log, 'utf8').slice(-2000)}`);
      return (apiGet(pair, '/v1/status')?.vips?.active ?? 0) >= active1 ? Date.now() : undefined;
    }, 120_000, 100);
    if (activeAt === undefined) await Bun.sleep(10_000);
    const addresses = (apiGet(pair, '/v1/vips')?.vips ?? []).map((v: { ip: string }) => v.ip) as string[];
    const probe = addresses.filter((_, k) => k % Math.max(1, Math.floor(addresses.length / 10)) === 0).slice(0, 10);
    const answered = probe.filter((ip) => sh(['ndisc6', '-1', '-r', '2', '-w', '300', ip, pair.ifB], { ns: pair.nsB, check: false }).code === 0).length;
    await Bun.sleep(3_000);
    const after = (await api.requests()).slice(before);
    const restart = {
      activeMs: activeAt === undefined ? null : activeAt - l2.at, sampleAnswered: `${answered}/${probe.length}`,
      statusWrites: after.filter(isStatusWrite).length, otherWrites: after.filter((r) => r.method !== 'GET' && !r.path.includes('/leases/') && !isStatusWrite(r)).length,
      hwmMiB: Math.round(status(l2.proc.pid).hwm),
    };
    l2.proc.kill('SIGKILL');
    await l2.proc.exited;
    await api.close();
    const floorMs = want.size === 0 ? NaN : Math.min(...Object.values(bareMs));
    // The floor with the reads any controller must make first (not in the issue's ratio, shown beside it).
    const listedMs = want.size === 0 ? NaN : Math.min(...Object.keys(bareMs).map((k) => bareMs[k]! + bareListMs[k]!));
    const row = {
      case: c.name, announce, kube, objects: objects.length, lb: c.lb, clusterIP: c.clusterIP, nodes: c.nodes, local: c.local, cost,
      bareMs, bareListMs, bareHwmMiB, writtenMs, firstWriteMs, otherWritesBeforeLast: otherBeforeLast, ratio: Number.isNaN(floorMs) ? null : +(writtenMs / floorMs).toFixed(2),
      ratioListed: Number.isNaN(listedMs) ? null : +(writtenMs / listedMs).toFixed(2), activeAfterWrite: active1,
      hwmWrittenMiB: Math.round(hwmAtWritten), hwmMiB: Math.round(settled.hwm), rssMiB: Math.round(settled.rss), lateMs, hwmLateMiB, churned, restart,
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!isRoot) {
    console.log('scale bench: needs root (network namespaces); skipped');
    return;
  }
  const announce = arg('announce', 'leader');
  const cost = { ms: Number(arg('ms', '8')), slots: Number(arg('slots', '8')) };
  const kube = arg('kube', '1.28');
  if (kube !== '1.28' && kube !== '1.31') throw new Error(`--kube: expected 1.28 or 1.31, got ${kube}`);
  const late = Number(arg('late', '5'));
  const churn = Number(arg('churn', '5'));
  const bare = arg('bare', '16,64') === 'none' ? [] : arg('bare', '16,64').split(',').map(Number);
  const cases = arg('cases', 'empty,lb1k,lb10k,budget1,budget2').split(',').map((n) => CASES[n] ?? (() => { throw new Error(`unknown case ${n}`); })());
  ensureBinary();
  const pair = createPair('l2sc');
  sh(['ip', 'addr', 'add', '2001:db8:5::ffff:1/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
  const rows: unknown[] = [];
  try {
    for (const c of cases) rows.push(await runCase(c, pair, announce, cost, bare, kube, late, churn));
  } finally {
    pair.destroy();
  }
  console.log('\ncase     objects  bare ms (16/64)  list ms  bare VmHWM  l2lb ms  ratio (listed)  VmHWM written/settled MiB  RSS  restart: active ms  NS  writes  VmHWM  new Service ms (VmHWM after)');
  for (const r of rows as any[]) {
    console.log(`${r.case.padEnd(8)} ${String(r.objects).padStart(7)}  ${Object.values(r.bareMs).join('/').padStart(15)}  ${Object.values(r.bareListMs ?? {}).join('/').padStart(7)}  ${Object.values(r.bareHwmMiB ?? {}).join('/').padStart(10)}  ${String(r.writtenMs).padStart(7)}  ${`${r.ratio} (${r.ratioListed ?? '-'})`.padStart(14)}  ${`${r.hwmWrittenMiB}/${r.hwmMiB}`.padStart(25)}  ${String(r.rssMiB).padStart(3)}  ${String(r.restart.activeMs).padStart(17)}  ${r.restart.sampleAnswered}  ${String(r.restart.statusWrites).padStart(6)}  ${String(r.restart.hwmMiB).padStart(5)}  ${r.lateMs.join(' ')} (${r.hwmLateMiB})`);
  }
  if (!process.argv.includes('--no-write')) {
    const previous = (() => { try { return JSON.parse(readFileSync(RESULTS, 'utf8')); } catch { return {}; } })();
    // Rows of cases not run this time stay (one case can be re-run alone).
    type Row = { case: string; kube?: string };
    const same = (a: Row, b: Row) => a.case === b.case && (a.kube ?? '1.28') === (b.kube ?? '1.28');
    const kept = ((previous[announce]?.rows ?? []) as Row[]).filter((r) => !(rows as Row[]).some((n) => same(n, r)));
    writeFileSync(RESULTS, JSON.stringify({ ...previous, [announce]: { at: new Date().toISOString(), rows: [...kept, ...rows] } }, null, 2));
  }
}

if (process.argv[2] === '--bare-client') await bareClient(JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as BareArgs);
else await main();
