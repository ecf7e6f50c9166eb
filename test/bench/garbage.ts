/**
 * What a reconcile pass leaves for the collector: `node_modules/.bin/bun test/bench/garbage.ts`.
 *
 * At 10,000 Services every change is a pass over all of them, and what a pass allocates decides how far the
 * heap grows past its live size before the collector catches up (a pass of 10,000 raised the heap by
 * ~15 MiB and VmHWM by up to 16 MiB, test/bench/RESULTS.md). The engine does not count allocation, so this
 * runs itself again with the collector off (`BUN_JSC_useGC=0`) and reads how much anonymous memory each
 * step touches (`RssAnon` of /proc/self/status): nothing is freed meanwhile, so that is what it allocated.
 * Per step, the median of 7 calls after 3 to warm up, at 10,000 Services in the steady state (every
 * Service keeps its IPv6 address); the baseline beside them is what the pass reads: the Services as JSON.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { type ServiceClaim, allocate } from '../../src/ipam/allocate.ts';
import { buildPools } from '../../src/ipam/pool.ts';
import { formatIP, parseIP } from '../../src/net/ip.ts';
import { claimOf } from '../../src/kube/selection.ts';
import type { Service } from '../../src/kube/objects.ts';
import { median } from './stats.ts';

const N = 10_000;

if (process.env.BUN_JSC_useGC !== '0') {
  const r = spawnSync(process.execPath, [import.meta.path], { env: { ...process.env, BUN_JSC_useGC: '0' }, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const anonKiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

/** Median KiB that `step` touches per call. */
function measure(step: () => unknown): number {
  const out: number[] = [];
  for (let k = 0; k < 10; k++) {
    const before = anonKiB();
    step();
    if (k >= 3) out.push(anonKiB() - before);
  }
  return median(out);
}

const ip = (i: number) => formatIP({ family: 6, value: (0x20010db8_0005_0000n << 64n) + BigInt(i + 1) });
const stamp = (i: number) => new Date(Date.UTC(2026, 0, 2) + i * 1000).toISOString().replace('.000Z', 'Z');
const services: Service[] = Array.from({ length: N }, (_, i) => ({
  metadata: { name: `lb-${i}`, namespace: `team-${i % 20}`, uid: `u${i}`, resourceVersion: String(i), creationTimestamp: stamp(i), annotations: { 'lb.kubesphere.io/v1alpha1': 'openelb' } },
  spec: { type: 'LoadBalancer', ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80, protocol: 'TCP' }] },
  status: { loadBalancer: { ingress: [{ ip: ip(i) }] } },
}) as unknown as Service);
const claims: ServiceClaim[] = services.map(claimOf);
const pools = buildPools([{ name: 'lan', source: 'eip', protocol: 'layer2', address: '2001:db8:5::/64', isDefault: true, createdAt: '2026-01-01T00:00:00Z' }]);
const namespaces = Array.from({ length: 20 }, (_, i) => ({ name: `team-${i}`, labels: {} }));
const texts = claims.map((c) => c.current[0]!);
const parsed = texts.map((t) => parseIP(t)!);

const rows: [string, number][] = [
  [`parseIP x ${N}`, measure(() => { for (const t of texts) parseIP(t); })],
  [`formatIP x ${N}`, measure(() => { for (const p of parsed) formatIP(p); })],
  [`claimOf x ${N}`, measure(() => services.map(claimOf))],
  [`allocate, ${N} Services keeping their addresses`, measure(() => allocate(pools, namespaces, claims))],
];
const inputKiB = Math.round(JSON.stringify(services).length / 1024);
console.log(`garbage per call at ${N} Services (collector off; KiB touched, median of 7):`);
for (const [name, kib] of rows) console.log(`  ${name.padEnd(48)} ${String(kib).padStart(7)} KiB  ${Math.round((kib * 1024) / N).toString().padStart(5)} B per Service`);
console.log(`  baseline: the ${N} Services themselves as JSON ${String(inputKiB).padStart(15)} KiB  ${Math.round((inputKiB * 1024) / N).toString().padStart(5)} B per Service`);
