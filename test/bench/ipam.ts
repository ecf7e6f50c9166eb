/**
 * Micro-benchmark of `allocate`: `node_modules/.bin/bun test/bench/ipam.ts` (or `deno run test/bench/ipam.ts`).
 * Prints one line per scenario with the median of a few runs, in ms:
 * - cold: N claims, 10 pools (5 IPv4 /19, 5 IPv6 /64), nobody has an address yet;
 * - replay: the same claims with their addresses as `current` (what a restarted leader computes);
 * - nearly full /16: 60,000 of 65,534 addresses held, 5,000 new claims (the cursor must not rescan);
 * - /64 with 50,000 addresses held in scattered places, 5,000 new claims (BigInt offsets).
 * N = 10,000 and 20,000 show whether the cost grows linearly.
 * Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32; nothing is sent anywhere.
 */
import { type AllocationResult, type ServiceClaim, allocate } from '../../src/ipam/allocate.ts';
import { type PoolSpec, buildPools } from '../../src/ipam/pool.ts';

const T0 = Date.UTC(2026, 0, 1);
const at = (i: number): string => new Date(T0 + i * 1000).toISOString();

function tenPools(): PoolSpec[] {
  const specs: PoolSpec[] = [];
  for (let i = 0; i < 5; i++) {
    // 198.18.0.0/19, 198.18.32.0/19, ...: 8,190 usable each.
    specs.push({ name: `v4-${i}`, source: 'eip', protocol: 'layer2', address: `198.18.${i * 32}.0/19`, priority: i, namespaces: [`ns${i}`], isDefault: i === 0, createdAt: at(i) });
    specs.push({ name: `v6-${i}`, source: 'eip', protocol: 'layer2', address: `2001:db8:${i}::/64`, priority: i, namespaces: [`ns${i}`], isDefault: i === 0, createdAt: at(i) });
  }
  return specs;
}

function claims(n: number): ServiceClaim[] {
  const out: ServiceClaim[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    out.push({
      key: `ns${i % 7}/svc-${i}`,
      namespace: `ns${i % 7}`, // ns5 and ns6 are bound to nothing: they use the default pools
      createdAt: at(100 + i),
      families: kind === 1 ? [6] : kind === 2 ? [4, 6] : [4],
      familyPolicy: kind === 2 ? 'PreferDualStack' : 'SingleStack',
      current: [],
      requested: [],
      ports: [{ port: 80, protocol: 'TCP' }],
    });
  }
  return out;
}

function withCurrent(cs: ServiceClaim[], r: Map<string, AllocationResult>): ServiceClaim[] {
  return cs.map((c) => {
    const x = r.get(c.key);
    return { ...c, current: x?.ok ? x.addresses.map((a) => a.ip) : [] };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function time(runs: number, fn: () => unknown): number {
  fn(); // warm-up: JIT and first-call costs are not what we measure
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

function check(r: Map<string, AllocationResult>, n: number): void {
  const failed = [...r.values()].filter((x) => !x.ok).length;
  if (r.size !== n || failed > 0) throw new Error(`expected ${n} allocations, got ${r.size} with ${failed} failures`);
}

const pools = buildPools(tenPools());
for (const n of [10_000, 20_000]) {
  const cs = claims(n);
  const cold = allocate(pools, [], cs);
  check(cold, n);
  const warm = withCurrent(cs, cold);
  const line = (what: string, ms: number) =>
    console.log(`${what} ${String(n).padStart(6)} claims, 10 pools: ${ms.toFixed(1).padStart(6)} ms (${((ms * 1000) / n).toFixed(1)} µs/claim)`);
  line('cold  ', time(7, () => allocate(pools, [], cs)));
  line('replay', time(7, () => allocate(pools, [], warm)));
}

{
  const p16 = buildPools([{ name: 'big', source: 'eip', protocol: 'layer2', address: '198.18.0.0/16', isDefault: true, createdAt: at(0) }]);
  const cs: ServiceClaim[] = [];
  for (let i = 0; i < 65_000; i++) {
    // The first 60,000 hold addresses (every address but a scattered few); 5,000 are new.
    const held = i < 60_000;
    const v = 1 + Math.floor((i * 65_533) / 60_000);
    cs.push({
      key: `ns/s${i}`, namespace: 'ns', createdAt: at(i), families: [4], familyPolicy: 'SingleStack',
      current: held ? [`198.18.${v >> 8}.${v & 255}`] : [], requested: [], ports: [{ port: 443, protocol: 'TCP' }],
    });
  }
  const r = allocate(p16, [], cs);
  const failed = [...r.values()].filter((x) => !x.ok).length;
  console.log(`/16 with 60,000 held + 5,000 new: ${time(3, () => allocate(p16, [], cs)).toFixed(1)} ms (${failed} failed: pool full)`);
}

{
  const p64 = buildPools([{ name: 'v6', source: 'eip', protocol: 'layer2', address: '2001:db8:1::/64', isDefault: true, createdAt: at(0) }]);
  const cs: ServiceClaim[] = [];
  for (let i = 0; i < 55_000; i++) {
    const held = i < 50_000;
    // Held addresses: a dense run at the start (the cursor has to step over it) and the rest spread out.
    const low = held ? (i < 40_000 ? BigInt(i) : BigInt(i) * 0x1_0000_0001n) : 0n;
    cs.push({
      key: `ns/s${i}`, namespace: 'ns', createdAt: at(i), families: [6], familyPolicy: 'SingleStack',
      current: held ? [`2001:db8:1::${(low >> 48n).toString(16)}:${((low >> 32n) & 0xffffn).toString(16)}:${((low >> 16n) & 0xffffn).toString(16)}:${(low & 0xffffn).toString(16)}`] : [],
      requested: [], ports: [{ port: 443, protocol: 'TCP' }],
    });
  }
  const r = allocate(p64, [], cs);
  check(r, 55_000);
  console.log(`/64 with 50,000 held + 5,000 new: ${time(3, () => allocate(p64, [], cs)).toFixed(1)} ms`);
}
