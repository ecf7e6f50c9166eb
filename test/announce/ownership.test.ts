import { describe, expect, test } from 'bun:test';
import type { AddressRequest, NodeHealth, NodeInfo, Segment } from '../../src/announce/nodes.ts';
import { type InstancePolicy, type Ownership, type Serving, decideOwnership, describeWhy, instanceView, withInstances } from '../../src/announce/ownership.ts';

const seg: Segment = { interface: 'eth0', prefixes: ['192.0.2.1/24'] };
const segments = new Map([['eth0', seg]]);
const policy: InstancePolicy = { overdueMs: 150, graceMs: 5_000, startedAt: 0 };

const ipOf = (i: number) => `192.0.2.${10 + i}`;
const macOf = (i: number) => `02:00:00:00:00:${(10 + i).toString(16).padStart(2, '0')}`;

function node(i: number, over: Partial<NodeInfo> = {}): NodeInfo {
  return { name: `node-${i}`, ready: true, excluded: false, internalIPs: [ipOf(i)], labels: { 'kubernetes.io/hostname': `node-${i}` }, instance: 'live', ...over };
}

function healthOf(nodes: NodeInfo[], down: ReadonlySet<string> = new Set(), unknown: ReadonlySet<string> = new Set()): Map<string, NodeHealth> {
  const h = new Map<string, NodeHealth>();
  for (const n of nodes) {
    const i = Number(n.name.slice(5));
    h.set(n.internalIPs[0]!, down.has(n.name) ? { state: 'down', mac: macOf(i) } : unknown.has(n.name) ? { state: 'unknown' } : { state: 'up', mac: macOf(i) });
  }
  return h;
}

function reqs(n: number, current: ReadonlyMap<string, string> = new Map(), over: Partial<AddressRequest> = {}): AddressRequest[] {
  return Array.from({ length: n }, (_, k) => {
    const ip = `203.0.113.${k + 1}`;
    const cur = current.get(ip);
    return { ip, service: `default/s${k}`, interface: 'eth0', localOnly: false, ...(cur !== undefined ? { current: cur } : {}), ...over };
  });
}

function decide(requests: AddressRequest[], nodes: NodeInfo[], health: Map<string, NodeHealth>, previous: ReadonlyMap<string, Serving> = new Map(), now = 1_000): Ownership {
  return decideOwnership({ requests, nodes, health, segments, previous, now });
}

/** The node of every address. */
function owners(o: Ownership): Map<string, string | undefined> {
  return new Map([...o.serving].map(([ip, s]) => [ip, s.node]));
}

/** The record a writer keeps: every address with a node. */
function record(o: Ownership): Map<string, string> {
  const out = new Map<string, string>();
  for (const [ip, s] of o.serving) if (s.node) out.set(ip, s.node);
  return out;
}

describe('instanceView: failure and restart are told apart by the node kernel', () => {
  const seen = (heard: number, live = false) => ({ heard, live, mac: macOf(1) });
  const up: NodeHealth = { state: 'up', mac: macOf(1) };
  const down: NodeHealth = { state: 'down', mac: macOf(1) };
  const cases: { name: string; seen?: ReturnType<typeof seen>; probe?: NodeHealth; now: number; instance: string; state?: string; wakeAt?: number }[] = [
    { name: 'heartbeats on time, probe up: live', seen: seen(1_000, true), probe: up, now: 1_050, instance: 'live', state: 'up' },
    { name: 'heartbeats on time, a probe lost under load: still live and up', seen: seen(1_000, true), probe: down, now: 1_100, instance: 'live', state: 'up', wakeAt: 1_151 },
    { name: 'heartbeats on time, probe not answered yet: up on the heartbeat', seen: seen(1_000, true), probe: { state: 'unknown' }, now: 1_100, instance: 'live', state: 'up', wakeAt: 1_151 },
    { name: 'heartbeats overdue but not expired: live on the probe', seen: seen(1_000, true), probe: down, now: 1_200, instance: 'live', state: 'down' },
    { name: 'heartbeats gone, probe up: restarting within the grace', seen: seen(1_000), probe: up, now: 3_000, instance: 'restarting', state: 'up', wakeAt: 6_000 },
    { name: 'heartbeats gone, probe up, grace over: absent', seen: seen(1_000), probe: up, now: 6_000, instance: 'absent', state: 'up' },
    { name: 'heartbeats gone and probe down: dead at once', seen: seen(1_000), probe: down, now: 1_400, instance: 'absent', state: 'down' },
    { name: 'never heard, probe up, within the grace from our start: restarting', probe: up, now: 4_000, instance: 'restarting', state: 'up', wakeAt: 5_000 },
    { name: 'never heard, grace from our start over: absent', probe: up, now: 5_000, instance: 'absent', state: 'up' },
    { name: 'never heard, never probed: absent', now: 100, instance: 'absent' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const v = instanceView(c.seen, c.probe, c.now, policy);
      expect(v.instance).toBe(c.instance as never);
      expect(v.health?.state).toBe(c.state as never);
      expect(v.wakeAt).toBe(c.wakeAt);
    });
  }
});

describe('withInstances', () => {
  test('our own node is judged by our link (never probed); the others by heartbeats and probes', () => {
    const nodes = [node(1, { instance: undefined }), node(2, { instance: undefined }), node(3, { instance: undefined })];
    const health = new Map<string, NodeHealth>([[ipOf(2), { state: 'down', mac: macOf(2) }], [ipOf(3), { state: 'up', mac: macOf(3) }]]);
    const seen = new Map([['node-3', { heard: 9_950, live: true, mac: macOf(3) }], ['node-2', { heard: 8_000, live: false, mac: macOf(2) }]]);
    const links = new Map([['eth0', { mac: macOf(1), up: true }]]);
    const r = withInstances(nodes, health, segments, { self: 'node-1', seen, links, policy }, 10_000);
    expect(r.nodes.map((n) => [n.name, n.instance])).toEqual([['node-1', 'live'], ['node-2', 'absent'], ['node-3', 'live']]);
    expect(r.health.get(ipOf(1))).toEqual({ state: 'up', mac: macOf(1) });
    expect(r.health.get(ipOf(2))?.state).toBe('down');
    // Our link down: our own node cannot serve.
    const off = withInstances(nodes, health, segments, { self: 'node-1', seen, links: new Map([['eth0', { mac: macOf(1), up: false }]]), policy }, 10_000);
    expect(off.health.get(ipOf(1))?.state).toBe('down');
  });
});

describe('decideOwnership', () => {
  const three = [node(1), node(2), node(3)];

  test('every address gets one candidate node; a second pass with the result as record changes nothing', () => {
    const first = decide(reqs(30), three, healthOf(three));
    expect([...first.serving.values()].every((s) => s.node !== undefined && s.reason === 'initial')).toBe(true);
    expect(new Set([...first.serving.values()].map((s) => s.node)).size).toBe(3);
    expect(first.firsts).toHaveLength(30);
    const again = decide(reqs(30, record(first)), three, healthOf(three), first.serving, 2_000);
    expect(owners(again)).toEqual(owners(first));
    expect(again.moves).toEqual([]);
    expect(again.firsts).toEqual([]);
    // Since is kept while nothing moves.
    expect([...again.serving.values()].every((s) => s.since === 1_000)).toBe(true);
  });

  test('the MAC of each address is its node\'s', () => {
    const o = decide(reqs(10), three, healthOf(three));
    for (const s of o.serving.values()) expect(s.mac).toBe(macOf(Number(s.node!.slice(5))));
  });

  test('a first choice waits for the first probe of every node; one that confirms the record does not', () => {
    const h = healthOf(three, new Set(), new Set(['node-3']));
    const o = decide(reqs(5), three, h);
    expect([...o.serving.values()].map((s) => s.reason)).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'waiting']);
    const rec = new Map(reqs(5).map((r) => [r.ip, 'node-1']));
    const confirmed = decide(reqs(5, rec), three, h);
    expect([...confirmed.serving.values()].map((s) => [s.node, s.reason])).toEqual(Array(5).fill(['node-1', 'kept']));
  });

  test('a node that fails loses its addresses to the others; the move names why', () => {
    const first = decide(reqs(30), three, healthOf(three));
    const victim = 'node-2';
    const on = [...first.serving].filter(([, s]) => s.node === victim).map(([ip]) => ip);
    const after = decide(reqs(30, record(first)), three, healthOf(three, new Set([victim])), first.serving, 2_000);
    expect(after.moves.map((m) => m.ip).sort()).toEqual(on.sort());
    for (const m of after.moves) {
      expect(m).toMatchObject({ from: victim, why: 'probe-down' });
      expect(m.to).not.toBe(victim);
      expect(after.serving.get(m.ip)).toMatchObject({ reason: 'moved', from: victim, why: 'probe-down', since: 2_000 });
    }
    // Nothing else moved.
    for (const [ip, s] of first.serving) if (s.node !== victim) expect(after.serving.get(ip)?.node).toBe(s.node!);
    expect(describeWhy(victim, 'probe-down', { misses: 3 })).toBe('node-2 missed 3 probes');
  });

  test('a node that comes back takes nothing back (sticky record)', () => {
    const first = decide(reqs(30), three, healthOf(three));
    const failed = decide(reqs(30, record(first)), three, healthOf(three, new Set(['node-2'])), first.serving, 2_000);
    const back = decide(reqs(30, record(failed)), three, healthOf(three), failed.serving, 3_000);
    expect(owners(back)).toEqual(owners(failed));
    expect(back.moves).toEqual([]);
  });

  test('a restarting instance keeps what it serves and takes nothing new', () => {
    const first = decide(reqs(30), three, healthOf(three));
    const restarting = three.map((n) => (n.name === 'node-1' ? { ...n, instance: 'restarting' as const } : n));
    const kept = decide([...reqs(30, record(first)), ...reqs(40).slice(30)], restarting, healthOf(three), first.serving, 2_000);
    for (const [ip, s] of first.serving) expect(kept.serving.get(ip)?.node).toBe(s.node!);
    for (const r of reqs(40).slice(30)) expect(kept.serving.get(r.ip)?.node).not.toBe('node-1');
    // Gone past the grace: its addresses move, why no-instance.
    const gone = decide(reqs(30, record(kept)), three.map((n) => (n.name === 'node-1' ? { ...n, instance: 'absent' as const } : n)), healthOf(three), kept.serving, 9_000);
    expect(gone.moves.length).toBeGreaterThan(0);
    for (const m of gone.moves) expect(m).toMatchObject({ from: 'node-1', why: 'no-instance' });
  });

  test('a drained node (exclusion label, or the out-of-service taint) hands over', () => {
    const first = decide(reqs(30), three, healthOf(three));
    for (const [over, why] of [[{ excluded: true }, 'excluded'], [{ outOfService: true }, 'out-of-service']] as const) {
      const drained = three.map((n) => (n.name === 'node-3' ? { ...n, ...over } : n));
      const after = decide(reqs(30, record(first)), drained, healthOf(three), first.serving, 2_000);
      expect(after.moves.length).toBe([...first.serving.values()].filter((s) => s.node === 'node-3').length);
      for (const m of after.moves) expect(m).toMatchObject({ from: 'node-3', why });
      expect([...after.serving.values()].some((s) => s.node === 'node-3')).toBe(false);
    }
  });

  test('externalTrafficPolicy Local follows the ready endpoints', () => {
    const local = (eps: string[]) => reqs(1, new Map(), { localOnly: true, endpointNodes: eps });
    expect(decide(local(['node-3']), three, healthOf(three)).serving.get('203.0.113.1')?.node).toBe('node-3');
    const moved = decide(reqs(1, new Map([['203.0.113.1', 'node-3']]), { localOnly: true, endpointNodes: ['node-1'] }), three, healthOf(three),
      new Map([['203.0.113.1', { node: 'node-3', since: 0, reason: 'initial' as const }]]), 2_000);
    expect(moved.moves).toEqual([{ ip: '203.0.113.1', from: 'node-3', to: 'node-1', why: 'no-ready-endpoint' }]);
    const none = decide(local([]), three, healthOf(three));
    expect(none.serving.get('203.0.113.1')).toMatchObject({ reason: 'none' });
    expect(none.serving.get('203.0.113.1')?.node).toBeUndefined();
  });

  test('node preference: the preferred tier first; no flap back unless strict', () => {
    const zoned = [node(1, { labels: { zone: 'a' } }), node(2, { labels: { zone: 'b' } }), node(3, { labels: { zone: 'b' } })];
    const pref = { preferred: [{ zone: 'a' }, { zone: 'b' }] };
    const first = decide(reqs(10, new Map(), pref), zoned, healthOf(zoned));
    expect([...first.serving.values()].every((s) => s.node === 'node-1')).toBe(true);
    const failed = decide(reqs(10, record(first), pref), zoned, healthOf(zoned, new Set(['node-1'])), first.serving, 2_000);
    expect([...failed.serving.values()].every((s) => s.node === 'node-2' || s.node === 'node-3')).toBe(true);
    const back = decide(reqs(10, record(failed), pref), zoned, healthOf(zoned), failed.serving, 3_000);
    expect(back.moves).toEqual([]);
    const strict = decide(reqs(10, record(failed), { ...pref, strict: true }), zoned, healthOf(zoned), failed.serving, 3_000);
    expect([...strict.serving.values()].every((s) => s.node === 'node-1')).toBe(true);
    for (const m of strict.moves) expect(m.why).toBe('not-preferred');
    // nodeSelector: only matching nodes serve at all.
    const sel = decide(reqs(10, new Map(), { nodeSelector: { zone: 'b' } }), zoned, healthOf(zoned));
    expect([...sel.serving.values()].every((s) => s.node === 'node-2' || s.node === 'node-3')).toBe(true);
  });

  test('probes go to every node that could serve, never to ourselves', () => {
    const o = decideOwnership({ requests: reqs(3), nodes: [...three, node(4, { ready: false })], health: healthOf(three), segments, previous: new Map(), self: 'node-1', now: 0 });
    expect(o.probes.get('eth0')).toEqual([ipOf(2), ipOf(3)]);
    expect(o.candidacy.get('node-4')).toMatchObject({ candidate: false, why: 'not-ready' });
  });
});

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface World {
  nodes: NodeInfo[];
  down: Set<string>;
}

function mutate(w: World, r: () => number): World {
  const nodes = w.nodes.map((n) => ({ ...n }));
  const down = new Set(w.down);
  const n = nodes[Math.floor(r() * nodes.length)]!;
  const roll = r();
  if (roll < 0.3) {
    if (down.has(n.name)) down.delete(n.name);
    else down.add(n.name);
  } else if (roll < 0.5) n.instance = n.instance === 'live' ? 'restarting' : n.instance === 'restarting' ? 'absent' : 'live';
  else if (roll < 0.65) n.excluded = !n.excluded;
  else if (roll < 0.8) n.ready = !n.ready;
  else if (roll < 0.9) n.outOfService = !n.outOfService;
  // else: nothing changes this step
  return { nodes, down };
}

describe('randomized membership churn (3 instances, 6 nodes, 40 addresses, 300 steps x 20 seeds)', () => {
  test('once views agree, every instance names the same node for every address, whatever its history', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      let world: World = { nodes: Array.from({ length: 6 }, (_, i) => node(i + 1)), down: new Set() };
      let rec = new Map<string, string>();
      // Each instance's own history; instance 2 sometimes decides from a stale view (it lags a step).
      const prev: Map<string, Serving>[] = [new Map(), new Map(), new Map()];
      let stale = world;
      for (let step = 0; step < 300; step++) {
        const before = world;
        world = mutate(world, r);
        const now = 1_000 * (step + 1);
        const lagging = r() < 0.3;
        const results = prev.map((p, i) => {
          const w = i === 2 && lagging ? stale : world;
          return decide(reqs(40, rec), w.nodes, healthOf(w.nodes, w.down), p, now);
        });
        stale = before;
        results.forEach((o, i) => (prev[i] = o.serving));
        const agreed = results.filter((_, i) => !(i === 2 && lagging));
        const want = owners(agreed[0]!);
        for (const o of agreed) expect([seed, step, owners(o)]).toEqual([seed, step, want]);
        // The writer (instance 0) keeps the record.
        rec = record(results[0]!);
      }
      // One last step with every view equal: all three agree again, the laggard included.
      const last = prev.map((p) => decide(reqs(40, rec), world.nodes, healthOf(world.nodes, world.down), p, 1e9));
      for (const o of last) expect(owners(o)).toEqual(owners(last[0]!));
    }
  });

  test('an address moves only when its node stops being a candidate (or is taking nothing new and it is new)', () => {
    for (let seed = 100; seed < 120; seed++) {
      const r = rng(seed);
      let world: World = { nodes: Array.from({ length: 6 }, (_, i) => node(i + 1)), down: new Set() };
      let prev = new Map<string, Serving>();
      let rec = new Map<string, string>();
      for (let step = 0; step < 300; step++) {
        world = mutate(world, r);
        const o = decide(reqs(40, rec), world.nodes, healthOf(world.nodes, world.down), prev, 1_000 * (step + 1));
        for (const m of o.moves) {
          const n = world.nodes.find((x) => x.name === m.from)!;
          const candidate = n.ready && !n.excluded && !n.outOfService && n.instance !== 'absent' && !world.down.has(n.name);
          expect([seed, step, m.ip, m.from, candidate]).toEqual([seed, step, m.ip, m.from, false]);
        }
        for (const [ip, s] of o.serving) {
          if (!s.node) continue;
          const n = world.nodes.find((x) => x.name === s.node)!;
          // Whoever serves is a candidate; a restarting node only keeps what it had.
          expect([ip, n.ready && !n.excluded && !n.outOfService && n.instance !== 'absent' && !world.down.has(n.name)]).toEqual([ip, true]);
          if (n.instance === 'restarting') expect(rec.get(ip)).toBe(s.node);
        }
        prev = o.serving;
        rec = record(o);
      }
    }
  });
});
