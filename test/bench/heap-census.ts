/**
 * A census of a V8-format heap snapshot: bytes and counts by object kind, and plain objects by their
 * property names (the shape tells which structure of l2lb they are: a kept Service, a queued write, ...).
 *
 *   node_modules/.bin/bun test/bench/heap-census.ts FILE.heapsnapshot [--top=30]
 *
 * To take one from the compiled binary, build it with a handler such as
 * `process.on('SIGUSR2', () => { Bun.gc(true); writeFileSync(path, Bun.generateHeapSnapshot('v8')) })` in
 * `src/main.ts` (a diagnostic build: `bun build/compile.ts --outfile /tmp/l2lb-census`), run it
 * (`SCALE_BINARY=/tmp/l2lb-census SCALE_HOLD=/tmp/hold bun test/bench/scale.ts --cases=budget1 --bare=none`
 * keeps it running) and `kill -USR2` it. Sizes are the engine's own accounting of each cell; backing stores
 * of Maps and arrays show as "Cell Butterfly".
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: bun test/bench/heap-census.ts FILE.heapsnapshot [--top=30]');
  process.exit(2);
}
const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const meta = snap.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const field = (name: string) => meta.node_fields.indexOf(name);
const [iType, iName, iSize, iEdges] = [field('type'), field('name'), field('self_size'), field('edge_count')];
const [eType, eName] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('name_or_index')];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];

const byKind = new Map<string, { n: number; bytes: number }>();
const byShape = new Map<string, { n: number; bytes: number }>();
const add = (m: Map<string, { n: number; bytes: number }>, k: string, bytes: number) => {
  const r = m.get(k) ?? { n: 0, bytes: 0 };
  r.n++;
  r.bytes += bytes;
  m.set(k, r);
};
let total = 0;
let edge = 0;
for (let i = 0; i < snap.nodes.length; i += nf) {
  const type = nodeTypes[snap.nodes[i + iType]!]!;
  const name = snap.strings[snap.nodes[i + iName]!]!;
  const bytes = snap.nodes[i + iSize]!;
  const edges = snap.nodes[i + iEdges]!;
  total += bytes;
  add(byKind, type === 'string' ? 'string' : `${type}: ${name}`, bytes);
  if (type === 'object' && name === 'Object') {
    const props: string[] = [];
    for (let j = 0; j < edges && props.length < 8; j++) {
      const e = (edge + j) * ef;
      if (edgeTypes[snap.edges[e + eType]!] === 'property') props.push(snap.strings[snap.edges[e + eName]!]!);
    }
    add(byShape, `{${props.join(', ')}}`, bytes);
  }
  edge += edges;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2).padStart(7);
const show = (title: string, m: Map<string, { n: number; bytes: number }>) => {
  console.log(`\n${title}\n    MiB   count`);
  for (const [k, r] of [...m].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) console.log(`${mib(r.bytes)} ${String(r.n).padStart(7)}  ${k}`);
};
console.log(`${file}: ${mib(total).trim()} MiB in ${snap.nodes.length / nf} cells`);
show('By kind', byKind);
show('Plain objects by their first property names', byShape);
