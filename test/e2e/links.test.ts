/**
 * Interfaces change under a running l2lb: one that appears after start, goes down and up, or is deleted and
 * re-created (new ifindex) is picked up without a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Pair, arpingMacs, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';

const root = requireRoot('e2e links');
const LATE = 'l2lk-late';
const LATE_PEER = 'l2lk-late-b';
const LATE_MAC = '02:00:00:00:1a:01';
let pair: Pair;
let l2: Running;

const arpingFrom = (ifname: string, ip: string) => arpingMacs(pair.nsB, ifname, ip);

function createLate(): void {
  sh(['ip', 'link', 'add', LATE, 'address', LATE_MAC, 'type', 'veth', 'peer', 'name', LATE_PEER, 'netns', pair.nsB], { ns: pair.nsA });
  sh(['ip', 'link', 'set', LATE, 'up'], { ns: pair.nsA });
  sh(['ip', 'link', 'set', LATE_PEER, 'up'], { ns: pair.nsB });
  sh(['ip', 'addr', 'add', '198.51.100.2/24', 'dev', LATE_PEER], { ns: pair.nsB });
}

describe.skipIf(!root)('interfaces followed at run time (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2lk');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA, LATE],
      vips: [{ ip: '192.0.2.10', interface: pair.ifA }, { ip: '198.51.100.10', interface: LATE }],
      announce: { probeCount: 0, gratuitousCount: 1 },
    }, { waitReady: false });
  }, 60000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('not ready while a configured interface is missing; the VIP on it waits', async () => {
    const r = l2.api('GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.json.reasons.join(' ')).toContain(LATE);
    expect(l2.api('GET', '/v1/vips/198.51.100.10').json).toMatchObject({ state: 'waiting', reason: 'interface not present' });
    // Nobody answers for it, so the log never says it is announced; the missing link is said once.
    expect(l2.logs()).not.toContain('"msg":"vip announced","vip":"198.51.100.10"');
    const missing = () => l2.logs().split('\n').filter((l) => l.includes('"link not open"') && l.includes(LATE)).length;
    await waitFor('the missing link said', () => missing() > 0 || undefined, 3000, 20);
    await Bun.sleep(300);
    expect(missing()).toBe(1);
    expect(arpingFrom(pair.ifB, '192.0.2.10')).toEqual([pair.macA]);
  });

  test('an interface that appears after start is opened and its VIP answered', async () => {
    createLate();
    await waitFor('ready', () => l2.api('GET', '/readyz').status === 200, 3000);
    await waitFor('VIP active', () => l2.api('GET', '/v1/vips/198.51.100.10').json?.state === 'active', 3000);
    expect(arpingFrom(LATE_PEER, '198.51.100.10')).toEqual([LATE_MAC]);
  });

  test('down and up again: announced again on the way up, answered again', async () => {
    const before = l2.api('GET', '/v1/vips/192.0.2.10').json.gratuitousSent as number;
    sh(['ip', 'link', 'set', pair.ifA, 'down'], { ns: pair.nsA });
    await waitFor('not ready', () => l2.api('GET', '/v1/status').json?.interfaces?.find((i: { name: string }) => i.name === pair.ifA)?.up === false, 3000);
    sh(['ip', 'link', 'set', pair.ifA, 'up'], { ns: pair.nsA });
    await waitFor('re-announced', () => (l2.api('GET', '/v1/vips/192.0.2.10').json?.gratuitousSent ?? 0) > before, 3000);
    await waitFor('answers again', () => arpingFrom(pair.ifB, '192.0.2.10').length === 1, 5000, 50);
  });

  test('deleted and re-created (new ifindex): waits, then answers on the new link', async () => {
    const oldIndex = l2.api('GET', '/v1/status').json.interfaces.find((i: { name: string }) => i.name === LATE).index;
    sh(['ip', 'link', 'del', LATE], { ns: pair.nsA });
    await waitFor('VIP waiting', () => l2.api('GET', '/v1/vips/198.51.100.10').json?.state === 'waiting', 3000);
    expect(l2.api('GET', '/readyz').status).toBe(503);
    createLate();
    await waitFor('ready', () => l2.api('GET', '/readyz').status === 200, 3000);
    const newIndex = l2.api('GET', '/v1/status').json.interfaces.find((i: { name: string }) => i.name === LATE).index;
    expect(newIndex).not.toBe(oldIndex);
    await waitFor('answers on the new link', () => arpingFrom(LATE_PEER, '198.51.100.10')[0] === LATE_MAC, 5000, 50);
  });
});
