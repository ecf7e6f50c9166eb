/**
 * Node lookups made by wire events, the index (`src/kube/node-index.ts`) against the scan of every Node it
 * replaced, in the same run: `node_modules/.bin/bun test/bench/lookups.ts`.
 * - probe round: one lookup per node address, as the first probe results of every node arrive (app.ts names
 *   the node of each probe change);
 * - peer bursts (per-node mode): one lookup per address another instance announces, 10,000 addresses
 *   (the scan computed each Node's wire identity per lookup).
 * Nodes are kubelet-sized objects cut down by `trimNode`, as the informer keeps them. Prints the median of
 * 5 runs in ms, and the first run's (the code not compiled yet, as
 * at a start); the index's figures include building it once.
 */
import { kubeletNode } from '../support/kube/nodes.ts';
import { trimNode } from '../../src/kube/trim.ts';
import { nodeInfo } from '../../src/kube/selection.ts';
import { indexNodes } from '../../src/kube/node-index.ts';
import { wireIdentity } from '../../src/announce/membership.ts';
import type { Node } from '../../src/kube/objects.ts';
import { median } from './stats.ts';

/** The first run (code not compiled yet, as at a start) and the median of 5. */
function time(fn: () => unknown): string {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    fn();
    runs.push(performance.now() - t);
  }
  const f = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
  return `${f(runs[0]!)}/${f(median(runs))}`;
}

const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
for (const count of [500, 5_000]) {
  const nodes = Array.from({ length: count }, (_, i) => trimNode(kubeletNode(`node-${String(i).padStart(4, '0')}`, { internalIPs: [ipOf(i + 1)] }))!) as Node[];
  const ips = nodes.map((_, i) => ipOf(i + 1));
  let found = 0;
  const scan = time(() => {
    for (const ip of ips) for (const n of nodes) if (nodeInfo(n).internalIPs.includes(ip)) { found++; break; }
  });
  const indexed = time(() => {
    const idx = indexNodes(nodes);
    for (const ip of ips) if (idx.byIP.get(ip) !== undefined) found++;
  });
  // Per-node mode: a peer's identity is its node name; 10,000 announcements spread over the nodes.
  const peers = Array.from({ length: 10_000 }, (_, i) => nodes[(i * 7919) % count]!.metadata.name);
  const seen = new Map(nodes.map((n) => [wireIdentity(n.metadata.name), n.metadata.name]));
  const peerScan = time(() => {
    for (const p of peers) for (const n of nodes) if (seen.get(wireIdentity(n.metadata.name)) === p) { found++; break; }
  });
  const peerIndexed = time(() => {
    const idx = indexNodes(nodes);
    for (const p of peers) if (idx.byWire.get(p) !== undefined) found++;
  });
  console.log(`${count} Nodes, ms first/median: probe round (${count} lookups) scan ${scan}, index ${indexed}; ` +
    `peer bursts (10,000 lookups) scan ${peerScan}, index ${peerIndexed} (${found} found)`);
}
