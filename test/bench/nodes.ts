/**
 * Micro-benchmark of `assign` (node choice for Service addresses):
 * `node_modules/.bin/bun test/bench/nodes.ts` (or `deno run test/bench/nodes.ts`).
 * Prints the median of a few runs, in ms, for 10,000 addresses (half IPv4, half IPv6) over 100 nodes:
 * - cold: no address has a node yet (every address scores every candidate);
 * - replay: every address has its node as `current` (the usual steady state: all kept);
 * - failover: the same, with 10 nodes down (their ~1,000 addresses re-scored);
 * - local: a quarter of the Services with `externalTrafficPolicy: Local` and 3 endpoint nodes each.
 * It also prints a digest of the cold assignment: equal digests under Bun and Deno show that both runtimes
 * (so two replicas on different runtimes) choose the same node for every address.
 * Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32; nothing is sent anywhere.
 */
import { type AddressRequest, type Choice, type NodeHealth, type NodeInfo, type Segment, assign } from '../../src/announce/nodes.ts';

const N_NODES = 100;
const N_ADDRS = 10_000;

const nodes: NodeInfo[] = [];
const health = new Map<string, NodeHealth>();
for (let i = 0; i < N_NODES; i++) {
  const name = `worker-${i}.cluster.example`;
  nodes.push({ name, ready: true, excluded: false, internalIPs: [`198.18.0.${i + 1}`, `2001:db8::${(i + 1).toString(16)}`] });
  health.set(name, { state: 'up', mac: `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}` });
}
const segments = new Map<string, Segment>([['eth0', { interface: 'eth0', prefixes: ['198.18.0.254/15', '2001:db8::fe/32', 'fe80::1/64'] }]]);

const reqs: AddressRequest[] = [];
for (let i = 0; i < N_ADDRS; i++) {
  const ip = i % 2 ? `198.19.${(i >> 8) & 0xff}.${i & 0xff}` : `2001:db8:1::${(i + 1).toString(16)}`;
  reqs.push({ ip, service: `ns${i % 13}/svc-${i}`, interface: 'eth0', localOnly: false });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

interface Timing { median: number; min: number; max: number; cpu: number }

/**
 * Wall time of `runs` calls after a warm-up, and the median CPU time of this process per call: the
 * machine is shared, and CPU time shows what preemption by others adds to the wall figure.
 */
function time(runs: number, fn: () => unknown): Timing {
  fn(); // warm-up: JIT and first-call costs are not what we measure
  fn();
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), cpu: median(cpu) };
}

function check(r: Map<string, Choice>, what: string, reasons: Partial<Record<Choice['reason'], number>>): void {
  const got: Record<string, number> = {};
  for (const c of r.values()) got[c.reason] = (got[c.reason] ?? 0) + 1;
  if (r.size !== N_ADDRS) throw new Error(`${what}: expected ${N_ADDRS} choices, got ${r.size}`);
  for (const [k, v] of Object.entries(reasons)) if (got[k] !== v) throw new Error(`${what}: expected ${v} '${k}', got ${JSON.stringify(got)}`);
}

function line(what: string, t: Timing): void {
  console.log(
    `${what.padEnd(9)} ${N_ADDRS} addresses x ${N_NODES} nodes: ${t.median.toFixed(1).padStart(6)} ms median ` +
      `(min ${t.min.toFixed(1)}, max ${t.max.toFixed(1)}, CPU ${t.cpu.toFixed(1)}; ${((t.median * 1000) / N_ADDRS).toFixed(2)} µs/address)`,
  );
}

const cold = assign(reqs, nodes, health, segments);
check(cold, 'cold', { initial: N_ADDRS });
{
  let d = 0x811c9dc5; // FNV-1a 32 over "ip=node;" in request order
  for (const q of reqs) for (const ch of `${q.ip}=${cold.get(q.ip)!.node};`) d = Math.imul(d ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  console.log(`assignment digest ${d.toString(16).padStart(8, '0')}`);
}
line('cold', time(15, () => assign(reqs, nodes, health, segments)));

const warm = reqs.map((q) => ({ ...q, current: cold.get(q.ip)!.node }));
check(assign(warm, nodes, health, segments), 'replay', { kept: N_ADDRS });
line('replay', time(15, () => assign(warm, nodes, health, segments)));

const failed = new Map(health);
for (let i = 0; i < 10; i++) failed.set(nodes[i * 10]!.name, { state: 'down', mac: health.get(nodes[i * 10]!.name)!.mac! });
const f = assign(warm, nodes, failed, segments);
const movedCount = [...f.values()].filter((c) => c.reason === 'moved').length;
line(`failover`, time(15, () => assign(warm, nodes, failed, segments)));
console.log(`          (${movedCount} addresses moved off the 10 failed nodes)`);

const local = reqs.map((q, i) =>
  i % 4 === 0 ? { ...q, localOnly: true, endpointNodes: [0, 1, 2].map((k) => nodes[(i * 7 + k * 31) % N_NODES]!.name) } : q,
);
check(assign(local, nodes, health, segments), 'local', { initial: N_ADDRS });
line('local', time(15, () => assign(local, nodes, health, segments)));
