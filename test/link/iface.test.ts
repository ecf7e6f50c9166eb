/**
 * Interface facts and the InterfaceWatcher, read inside a namespace by a child process (sysfs and
 * netlink show the namespace of the process that reads them).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { InterfaceFacts } from '../../src/link/iface.ts';
import { addAddress, createPair, requireRoot, sh, spawnIn, waitFor, type Pair } from '../support/netns.ts';

const run = requireRoot('link/iface');
const BUN = process.execPath;
const FACTS = new URL('./fixtures/facts.ts', import.meta.url).pathname;
const WATCH = new URL('./fixtures/watch.ts', import.meta.url).pathname;

interface FactsOut {
  facts: Record<string, InterfaceFacts | null>;
  list: string[];
  defaultRoute: string | null;
}

function facts(ns: string, ...names: string[]): FactsOut {
  return JSON.parse(sh([BUN, FACTS, ...names], { ns }).stdout) as FactsOut;
}

function kernelIndex(ns: string, name: string): number {
  return (JSON.parse(sh(['ip', '-j', 'link', 'show', name], { ns }).stdout) as { ifindex: number }[])[0]!.ifindex;
}

interface Line {
  t: number;
  mode?: string;
  name?: string;
  now?: InterfaceFacts | null;
  before?: InterfaceFacts | null;
}

/** A running watch.ts with its parsed output lines. */
class Watch {
  readonly lines: Line[] = [];
  private readonly proc;
  private seen = 0;

  constructor(ns: string, opts: object, names: string[]) {
    this.proc = spawnIn(ns, [BUN, WATCH, JSON.stringify(opts), ...names]);
    void this.pump();
  }

  private async pump(): Promise<void> {
    const out = this.proc.stdout as ReadableStream<Uint8Array>;
    let rest = '';
    for await (const chunk of out.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>)) {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const p of parts) if (p.trim()) this.lines.push(JSON.parse(p) as Line);
    }
  }

  /** The next not yet consumed line that matches. */
  next(what: string, pred: (l: Line) => boolean, timeoutMs = 5000): Promise<Line> {
    return waitFor(what, () => {
      for (let i = this.seen; i < this.lines.length; i++) {
        if (pred(this.lines[i]!)) {
          this.seen = i + 1;
          return this.lines[i]!;
        }
      }
      return undefined;
    }, timeoutMs, 10);
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    await this.proc.exited;
  }
}

describe.skipIf(!run)('interface facts', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2if');
    addAddress(pair.nsA, pair.ifA, '192.0.2.1/24');
    addAddress(pair.nsA, pair.ifA, '2001:db8::1/64');
  });
  afterAll(() => pair?.destroy());

  test('readInterface reports index, MAC, MTU, state and addresses with prefix and scope', () => {
    const out = facts(pair.nsA, pair.ifA, 'lo', 'nosuch0', '../etc');
    const a = out.facts[pair.ifA]!;
    expect(a.name).toBe(pair.ifA);
    expect(a.index).toBe(kernelIndex(pair.nsA, pair.ifA));
    expect(a.mac).toBe(pair.macA);
    expect(a.mtu).toBe(1500);
    expect(a.up).toBe(true);
    expect(a.running).toBe(true);
    expect(a.addresses).toContainEqual({ ip: '192.0.2.1', prefix: 24, family: 4, scope: 'global' });
    expect(a.addresses).toContainEqual({ ip: '2001:db8::1', prefix: 64, family: 6, scope: 'global' });
    // The kernel's EUI-64 link-local address for 02:00:00:00:0a:01.
    expect(a.addresses).toContainEqual({ ip: 'fe80::ff:fe00:a01', prefix: 64, family: 6, scope: 'link' });
    expect(out.facts.lo!.addresses).toEqual([
      { ip: '127.0.0.1', prefix: 8, family: 4, scope: 'host' },
      { ip: '::1', prefix: 128, family: 6, scope: 'host' },
    ]);
    expect(out.facts.nosuch0).toBeNull();
    expect(out.facts['../etc']).toBeNull();
    expect(out.list).toEqual(['lo', pair.ifA].sort());
  });

  test('a link whose peer is down is up but not running, and keeps its IPv4 address', () => {
    sh(['ip', 'link', 'set', pair.ifB, 'down'], { ns: pair.nsB });
    try {
      // The kernel's linkwatch may deliver the carrier change up to a second late under load.
      let a = facts(pair.nsA, pair.ifA).facts[pair.ifA]!;
      for (let i = 0; i < 40 && a.running; i++) {
        Bun.sleepSync(50);
        a = facts(pair.nsA, pair.ifA).facts[pair.ifA]!;
      }
      expect(a.up).toBe(true);
      expect(a.running).toBe(false);
      expect(a.addresses).toContainEqual({ ip: '192.0.2.1', prefix: 24, family: 4, scope: 'global' });
      sh(['ip', 'link', 'set', pair.ifA, 'down'], { ns: pair.nsA });
      const down = facts(pair.nsA, pair.ifA).facts[pair.ifA]!;
      expect(down.up).toBe(false);
      expect(down.running).toBe(false);
      expect(down.addresses).toContainEqual({ ip: '192.0.2.1', prefix: 24, family: 4, scope: 'global' });
    } finally {
      sh(['ip', 'link', 'set', pair.ifA, 'up'], { ns: pair.nsA });
      sh(['ip', 'link', 'set', pair.ifB, 'up'], { ns: pair.nsB });
    }
  });

  test('defaultRouteInterface: IPv4 default with the lowest metric, else the IPv6 default', () => {
    expect(facts(pair.nsA).defaultRoute).toBeNull();
    sh(['ip', 'route', 'add', 'default', 'via', '192.0.2.2', 'dev', pair.ifA, 'metric', '200'], { ns: pair.nsA });
    sh(['ip', 'link', 'add', `${pair.prefix}-x`, 'type', 'veth', 'peer', 'name', `${pair.prefix}-y`], { ns: pair.nsA });
    try {
      sh(['ip', 'link', 'set', `${pair.prefix}-x`, 'up'], { ns: pair.nsA });
      sh(['ip', 'link', 'set', `${pair.prefix}-y`, 'up'], { ns: pair.nsA });
      addAddress(pair.nsA, `${pair.prefix}-x`, '198.51.100.1/24');
      expect(facts(pair.nsA).defaultRoute).toBe(pair.ifA);
      sh(['ip', 'route', 'add', 'default', 'via', '198.51.100.2', 'dev', `${pair.prefix}-x`, 'metric', '100'], { ns: pair.nsA });
      expect(facts(pair.nsA).defaultRoute).toBe(`${pair.prefix}-x`);
    } finally {
      sh(['ip', 'link', 'del', `${pair.prefix}-x`], { ns: pair.nsA, check: false });
      sh(['ip', 'route', 'flush', 'default'], { ns: pair.nsA, check: false });
    }
    // B has only an IPv6 default route.
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
    sh(['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8::1', 'dev', pair.ifB], { ns: pair.nsB });
    expect(facts(pair.nsB).defaultRoute).toBe(pair.ifB);
  });
});

describe.skipIf(!run)('InterfaceWatcher', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2iw');
  });
  afterAll(() => pair?.destroy());

  const ns = () => pair.nsA;
  const x = () => `${pair.prefix}-x`;
  const createX = () => {
    sh(['ip', 'link', 'add', x(), 'type', 'veth', 'peer', 'name', `${pair.prefix}-y`], { ns: ns() });
    sh(['ip', 'link', 'set', x(), 'up'], { ns: ns() });
  };

  test('netlink mode reports down/up, addresses, MAC/MTU, appearance, re-creation and removal within ms', async () => {
    const w = new Watch(ns(), { intervalMs: 60_000 }, [pair.ifA, x()]);
    try {
      const first = await w.next('initial ifA', (l) => l.name === pair.ifA);
      expect(first.now!.index).toBe(kernelIndex(ns(), pair.ifA));
      expect(first.before).toBeNull();
      expect((await w.next('initial x', (l) => l.name === x())).now).toBeNull();
      expect((await w.next('mode', (l) => l.mode !== undefined)).mode).toBe('netlink');

      // The full re-read runs once a minute here, so anything seen within a second came by netlink.
      const quick = 1000;
      let t0 = Date.now();
      sh(['ip', 'link', 'set', pair.ifA, 'down'], { ns: ns() });
      let l = await w.next('ifA down', (l) => l.name === pair.ifA && l.now?.up === false, quick);
      expect(l.before!.up).toBe(true);
      expect(l.t - t0).toBeLessThan(quick);

      sh(['ip', 'link', 'set', pair.ifA, 'up'], { ns: ns() });
      await w.next('ifA up', (l) => l.name === pair.ifA && l.now?.up === true, quick);

      addAddress(ns(), pair.ifA, '203.0.113.7/24');
      l = await w.next('address', (l) => l.name === pair.ifA && !!l.now?.addresses.some((a) => a.ip === '203.0.113.7'), quick);
      expect(l.now!.addresses).toContainEqual({ ip: '203.0.113.7', prefix: 24, family: 4, scope: 'global' });

      sh(['ip', 'link', 'set', pair.ifA, 'address', '02:00:00:00:0a:99'], { ns: ns() });
      await w.next('MAC change', (l) => l.name === pair.ifA && l.now?.mac === '02:00:00:00:0a:99', quick);
      sh(['ip', 'link', 'set', pair.ifA, 'mtu', '1400'], { ns: ns() });
      await w.next('MTU change', (l) => l.name === pair.ifA && l.now?.mtu === 1400, quick);

      t0 = Date.now();
      createX();
      l = await w.next('x appears', (l) => l.name === x() && l.now !== null, quick);
      expect(l.before).toBeNull();
      const oldIndex = l.now!.index;
      expect(oldIndex).toBe(kernelIndex(ns(), x()));

      sh(['ip', 'link', 'del', x()], { ns: ns() });
      createX();
      l = await w.next('x re-created', (l) => l.name === x() && !!l.now && l.now.index !== oldIndex, quick);
      expect(l.now!.index).toBe(kernelIndex(ns(), x()));

      sh(['ip', 'link', 'del', x()], { ns: ns() });
      l = await w.next('x removed', (l) => l.name === x() && l.now === null, quick);
      expect(l.before).not.toBeNull();
    } finally {
      await w.stop();
      sh(['ip', 'link', 'del', x()], { ns: ns(), check: false });
    }
  });

  test('poll mode (no netlink) reports the same changes on its interval', async () => {
    const w = new Watch(ns(), { netlink: false, intervalMs: 200 }, [x()]);
    try {
      expect((await w.next('initial x', (l) => l.name === x())).now).toBeNull();
      expect((await w.next('mode', (l) => l.mode !== undefined)).mode).toBe('poll');
      createX();
      const l = await w.next('x appears', (l) => l.name === x() && l.now !== null, 2000);
      sh(['ip', 'link', 'set', x(), 'down'], { ns: ns() });
      await w.next('x down', (l) => l.name === x() && l.now?.up === false, 2000);
      sh(['ip', 'link', 'del', x()], { ns: ns() });
      createX();
      await w.next('x re-created', (m) => m.name === x() && !!m.now && m.now.index !== l.now!.index, 2000);
    } finally {
      await w.stop();
      sh(['ip', 'link', 'del', x()], { ns: ns(), check: false });
    }
  });
});
