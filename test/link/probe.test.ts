/**
 * Node probing from the receive worker against real kernels: a node (namespace B) that answers ARP / NS is
 * up with its MAC; taken down it is failed after 3 missed 100 ms rounds; back up it recovers after 2 answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Pair, createPair, requireRoot, sh } from '../support/netns.ts';

const root = requireRoot('link/probe');
const BUN = process.execPath;
const FIXTURE = new URL('./fixtures/probe-run.ts', import.meta.url).pathname;

describe.skipIf(!root)('node probes from the worker', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2prb');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    // Linux drops IPv6 addresses when a link goes down unless told to keep them.
    sh(['sysctl', '-qw', `net.ipv6.conf.${pair.ifB}.keep_addr_on_down=1`], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
  });
  afterAll(() => pair?.destroy());

  test('up with the MAC from the answers; down after three missed rounds; up again after two answers', async () => {
    const proc = Bun.spawn(['ip', 'netns', 'exec', pair.nsA, BUN, FIXTURE, pair.ifA, '192.0.2.2,2001:db8::2,192.0.2.99', '5'], { stdout: 'pipe', stderr: 'pipe' });
    await Bun.sleep(1000);
    // Drop everything the node would answer, without touching the link l2lb sees (a switch port going dead).
    sh(['ip', 'link', 'set', pair.ifB, 'down'], { ns: pair.nsB });
    await Bun.sleep(1000);
    sh(['ip', 'link', 'set', pair.ifB, 'up'], { ns: pair.nsB });
    const code = await proc.exited;
    const out = await new Response(proc.stdout).text();
    expect(code).toBe(0);
    const events = out.trim().split('\n').map((l) => JSON.parse(l));
    const of = (ip: string) => events.filter((e) => e.ip === ip).map((e) => e.state);
    expect(of('192.0.2.2')).toEqual(['up', 'down', 'up']);
    expect(of('2001:db8::2')).toEqual(['up', 'down', 'up']);
    expect(of('192.0.2.99')).toEqual(['down']); // nobody has it
    const up = events.find((e) => e.ip === '192.0.2.2' && e.state === 'up')!;
    expect(up.mac).toBe(pair.macB);
    const down = events.find((e) => e.ip === '192.0.2.2' && e.state === 'down')!;
    expect(down.misses).toBe(3);
  }, 20_000);

  test('after an answer the probes are unicast to the node; a node whose MAC changes is followed without failing', async () => {
    const dump = Bun.spawn(['ip', 'netns', 'exec', pair.nsB, 'tcpdump', '-l', '-n', '-e', '-i', pair.ifB, 'arp and arp[6:2] = 1'], { stdout: 'pipe', stderr: 'pipe' });
    await Bun.sleep(300);
    const proc = Bun.spawn(['ip', 'netns', 'exec', pair.nsA, BUN, FIXTURE, pair.ifA, '192.0.2.2', '3'], { stdout: 'pipe', stderr: 'pipe' });
    await Bun.sleep(1500);
    const NEW_MAC = '02:00:00:00:0b:99';
    sh(['ip', 'link', 'set', pair.ifB, 'address', NEW_MAC], { ns: pair.nsB });
    const code = await proc.exited;
    dump.kill('SIGINT');
    await dump.exited;
    const out = await new Response(proc.stdout).text();
    expect(code).toBe(0);
    const events = out.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.ip === '192.0.2.2');
    expect(events.map((e) => [e.state, e.mac])).toEqual([['up', pair.macB], ['up', NEW_MAC]]);
    // Requests B saw, by Ethernet destination: a broadcast to find it, unicast while it answers, one
    // broadcast after the MAC change cost a miss.
    const lines = (await new Response(dump.stdout).text()).trim().split('\n');
    const to = (mac: string) => lines.filter((l) => l.includes(`> ${mac},`)).length;
    expect(to('ff:ff:ff:ff:ff:ff')).toBeLessThanOrEqual(3);
    expect(to(pair.macB)).toBeGreaterThanOrEqual(10);
    expect(to(NEW_MAC)).toBeGreaterThanOrEqual(10);
  }, 20_000);
});
