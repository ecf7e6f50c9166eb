/**
 * The admin API of the compiled binary under abuse: 600 idle and half-sent connections do not slow it, and
 * 20,000 random requests (methods, paths with percent-encoding and dot segments, headers, bodies of random
 * bytes and sizes, wrong content types, with and without the token) get no 5xx, leave the process up, and
 * change the VIP table only by the requests it accepted. The seed is printed; L2LB_FUZZ_SEED replays it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { type Pair, createPair, requireRoot, sh } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';

setDefaultTimeout(120_000);
const root = requireRoot('e2e admin API abuse');
let pair: Pair;
let l2: Running;
let base: string;

describe.skipIf(!root)('admin API under abuse (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2ab');
    sh(['ip', 'addr', 'add', '192.0.2.1/24', 'dev', pair.ifA], { ns: pair.nsA });
    // The API on the veth address, so the test process (in the root namespace) cannot reach it directly:
    // requests go through `ip netns exec` in a helper below, except the bulk ones from a client in B.
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, { interfaces: [pair.ifA], vips: [{ ip: '192.0.2.10' }], api: { listen: '192.0.2.1:9470', token: 'fuzz-token-0123456789' } });
    base = 'http://192.0.2.1:9470';
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  /** Runs a Bun script in namespace B (where the API is reachable) and returns its stdout. */
  async function inB(script: string, env: Record<string, string> = {}): Promise<string> {
    const p = Bun.spawn({ cmd: ['ip', 'netns', 'exec', pair.nsB, process.execPath, '-e', script], env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    if ((await p.exited) !== 0) throw new Error(`script in B failed: ${err}`);
    return out;
  }

  test('600 idle and half-sent connections do not slow the API', async () => {
    const out = await inB(`
      const { connect } = require('node:net');
      const socks = [];
      for (let i = 0; i < 600; i++) {
        const s = connect(9470, '192.0.2.1');
        s.on('error', () => {});
        if (i % 2) s.on('connect', () => s.write('GET /v1/vips HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: '));
        socks.push(s);
      }
      await Bun.sleep(500);
      const times = [];
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        const r = await fetch('http://192.0.2.1:9470/healthz');
        if (r.status !== 200) throw new Error('status ' + r.status);
        await r.text();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(JSON.stringify({ p50: times[25], max: times[49] }));
      for (const s of socks) s.destroy();
    `);
    const { p50, max } = JSON.parse(out.trim()) as { p50: number; max: number };
    console.log(`healthz with 600 idle/half-sent connections open: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
    expect(max).toBeLessThan(500);
  });

  test('20,000 random requests: no 5xx, the process stays up, the VIP table changes only by what was accepted', async () => {
    const seed = Number(process.env.L2LB_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`admin API fuzz seed ${seed} (replay with L2LB_FUZZ_SEED=${seed})`);
    const before = (l2.api('GET', '/v1/vips').json.vips as { ip: string }[]).map((v) => v.ip);
    const out = await inB(FUZZER, { SEED: String(seed), BASE: base, TOKEN: 'fuzz-token-0123456789', BEFORE: JSON.stringify(before) });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { statuses: Record<string, number>; fiveHundreds: string[]; model: string[]; sent: number };
    console.log(`admin API fuzz: ${r.sent} requests, statuses ${JSON.stringify(r.statuses)}`);
    expect(r.sent).toBe(20_000);
    expect(r.fiveHundreds).toEqual([]);
    expect(l2.api('GET', '/healthz').status).toBe(200);
    const after = (l2.api('GET', '/v1/vips').json.vips as { ip: string }[]).map((v) => v.ip).sort();
    expect(after).toEqual([...r.model].sort());
    // Every kind of refusal came up.
    for (const s of ['400', '401', '404', '405', '413', '415']) expect([s, (r.statuses[s] ?? 0) > 0]).toEqual([s, true]);
  });
});

/**
 * The fuzzer, run in namespace B: random requests, 32 at a time, and a model of the VIP table kept from the
 * accepted PUTs (201/200) and DELETEs (204). Prints one JSON line.
 */
const FUZZER = `
let seed = Number(process.env.SEED);
const r = () => { seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(r() * a.length)];
const base = process.env.BASE, token = process.env.TOKEN;
const model = new Set(JSON.parse(process.env.BEFORE));
// fetch itself refuses TRACE and CONNECT: they never reach a server through it.
const METHODS = ['GET', 'GET', 'PUT', 'PUT', 'PUT', 'DELETE', 'DELETE', 'POST', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'FOO'];
const IPS = ['192.0.2.30', '192.0.2.31', '2001:db8::30', '2001:DB8:0::31', '198.51.100.7', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'ff02::1', '127.0.0.1', '192.0.2.1', '192.0.2.255', '192.0.2.300', 'fe80::1', '::ffff:192.0.2.9', 'x', ''];
const junk = (n) => { let s = ''; for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256)); return s; };
function path() {
  const roll = r();
  if (roll < 0.5) return '/v1/vips/' + (r() < 0.2 ? encodeURIComponent(pick(IPS)) : pick(IPS));
  if (roll < 0.6) return pick(['/healthz', '/readyz', '/metrics', '/v1/status', '/v1/vips', '/v1/pools', '/v1/nodes', '/v1/services', '/v1/history']);
  if (roll < 0.7) return pick(['/v1/vips/../status', '/v1/./vips', '//v1/vips', '/v1/vips/%2e%2e', '/v1/vips/%', '/v1/vips/%zz', '/%00', '/v1/vips/192.0.2.30%00']);
  if (roll < 0.8) return '/' + encodeURIComponent(junk(1 + Math.floor(r() * 40)));
  return '/v1/vips/' + pick(IPS) + pick(['/', '/x', '?a=b', '#frag', '/../..']);
}
function body() {
  const roll = r();
  if (roll < 0.3) return undefined;
  if (roll < 0.5) return JSON.stringify(pick([{}, { interface: 'l2ab-a' }, { mac: '02:00:00:00:00:99' }, { mac: 'zz' }, { interface: 7 }, { color: 'red' }, [], null, 1, 'x']));
  if (roll < 0.6) return 'x'.repeat(4000 + Math.floor(r() * 10000));
  return junk(Math.floor(r() * 300));
}
const statuses = {};
const fiveHundreds = [];
let sent = 0;
let refusedByClient = 0;
async function one() {
  const method = pick(METHODS), p = path(), b = body();
  const headers = {};
  const a = r();
  if (a < 0.6) headers.authorization = 'Bearer ' + token;
  else if (a < 0.7) headers.authorization = 'Bearer wrong';
  else if (a < 0.75) headers.authorization = junk(20).replace(/[^\\x20-\\x7e]/g, '');
  if (b !== undefined) headers['content-type'] = pick(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']);
  let res;
  try {
    res = await fetch(base + p, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : b });
    await res.arrayBuffer();
  } catch (e) {
    // What the client itself refuses (a header it will not send) never reached the server: not counted.
    refusedByClient++;
    return;
  }
  sent++;
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  if (res.status >= 500) fiveHundreds.push(method + ' ' + p + ' ' + res.status);
  const m = /^\\/v1\\/vips\\/([^/?#]*)$/.exec(new URL(base + p).pathname);
  if (m && (res.status === 201 || res.status === 200) && method === 'PUT') model.add(new URL(base + p).pathname.slice(9) && (await (async () => decodeURIComponent(m[1]))()));
  if (m && res.status === 204 && method === 'DELETE') model.delete(decodeURIComponent(m[1]));
}
// Started less refused-by-the-client: exactly 20,000 reach the server.
let started = 0;
await Promise.all(Array.from({ length: 32 }, async () => { while (started - refusedByClient < 20000) { started++; await one(); } }));
// The model holds addresses as sent: canonical forms come from the server's own GET.
const canonical = [];
for (const ip of model) {
  const res = await fetch(base + '/v1/vips/' + encodeURIComponent(ip));
  if (res.status === 200) canonical.push((await res.json()).ip);
  else canonical.push('missing:' + ip);
}
console.log(JSON.stringify({ statuses, fiveHundreds, model: [...new Set(canonical)], sent, refusedByClient }));
`;
