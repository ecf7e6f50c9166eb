/**
 * End to end, against the compiled binary, with every optional socket option refused the way Linux < 4.20
 * or qemu-user refuses them (the test hook L2LBTEST_MISSING_SOCKET_OPTIONS, on this current kernel): l2lb
 * says so once per option, lists the fallbacks in /v1/status, answers ARP and NS from B's arping and
 * ndisc6, and — with the socket filter dropping what it sends instead of PACKET_IGNORE_OUTGOING — never
 * receives, counts or answers its own gratuitous ARP, NAs and probes.
 *
 * L2LBTEST_BINARY runs another build than dist/l2lb (not `L2LB_*`: l2lb refuses unknown variables of its own).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Pair, arpingMacs, createPair, ndiscMacs, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, startL2lb } from '../support/l2lb.ts';
import { metricSum } from '../support/metrics.ts';
import { OPTIONAL_SOCKET_OPTIONS } from '../../src/link/packet.ts';

const root = requireRoot('e2e fallback');
const FALLBACK_MSG = 'socket option not available: using a fallback';
/** The worker's receive buffers (src/link/worker.ts): requests 4 MiB, control 1 MiB. */
const REQUEST_BUFFER = 4 << 20;

let pair: Pair;
let l2: Running;
let other: string;

const arping = (ip: string, count = 2) => arpingMacs(pair.nsB, pair.ifB, ip, { count });
const ndisc = (ip: string) => ndiscMacs(pair.nsB, pair.ifB, ip);

/** The fallback warnings logged so far. */
function fallbackLines(): { interface: string; option: string; error: string; instead: string; level: string }[] {
  return l2.logs().split('\n').filter((l) => l.includes(FALLBACK_MSG)).map((l) => JSON.parse(l));
}

describe.skipIf(!root)('l2lb without the optional socket options (forced on this kernel)', () => {
  beforeAll(async () => {
    pair = createPair('l2fe');
    other = `${pair.prefix}-o`;
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
    // A second interface in A: four sockets fall back, each option is still said once.
    sh(['ip', 'link', 'add', other, 'type', 'veth', 'peer', 'name', `${other}p`], { ns: pair.nsA });
    sh(['ip', 'link', 'set', other, 'up'], { ns: pair.nsA });
    sh(['ip', 'link', 'set', `${other}p`, 'up'], { ns: pair.nsA });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA, other],
      vips: [{ ip: '192.0.2.10', interface: pair.ifA }, { ip: '2001:db8::10', interface: pair.ifA }, { ip: '192.0.2.20', interface: other }],
      announce: { gratuitousCount: 3, gratuitousInterval: '100ms', probeCount: 2, probeInterval: '50ms', probeWait: '100ms' },
    }, { binary: process.env.L2LBTEST_BINARY, env: { L2LBTEST_MISSING_SOCKET_OPTIONS: OPTIONAL_SOCKET_OPTIONS.join(',') } });
    await waitFor('VIPs active', () => {
      const r = l2.api('GET', '/v1/vips');
      return r.json?.vips?.length === 3 && r.json.vips.every((v: { state: string }) => v.state === 'active');
    }, 5000);
  }, 30000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('each missing option is logged once as a warning naming it, its errno and what l2lb does instead, and /v1/status lists them per interface', async () => {
    // SO_RCVBUFFORCE falls back to SO_RCVBUF; only a smaller queue than asked is worth a word.
    const rmemMax = Number(sh(['sysctl', '-n', 'net.core.rmem_max'], { ns: pair.nsA }).stdout.trim());
    const bufferFallback = rmemMax < REQUEST_BUFFER ? ['SO_RCVBUFFORCE'] : [];
    // PACKET_STATISTICS is found missing at the first counter read (every 250 ms).
    const expectA = ['PACKET_IGNORE_OUTGOING', ...bufferFallback, 'PACKET_ADD_MEMBERSHIP', 'PACKET_STATISTICS'];
    const expectOther = ['PACKET_IGNORE_OUTGOING', ...bufferFallback, 'PACKET_STATISTICS']; // no IPv6 VIP: no group to join
    const status = await waitFor('fallbacks in /v1/status', () => {
      const s = l2.api('GET', '/v1/status').json;
      const names = (name: string) => s?.interfaces?.find((i: { name: string }) => i.name === name)?.socketFallbacks?.map((f: { option: string }) => f.option);
      return Bun.deepEquals(names(pair.ifA), expectA) && Bun.deepEquals(names(other), expectOther) && s;
    }, 3000);
    expect(status.ready).toBe(true);
    for (const i of status.interfaces) {
      expect(i.socketOpen).toBe(true);
      expect(i.error).toBeUndefined();
      for (const f of i.socketFallbacks) expect(f).toEqual({ option: expect.any(String), error: 'ENOPROTOOPT (Protocol not available)', instead: expect.any(String) });
    }
    expect(status.interfaces.find((i: { name: string }) => i.name === pair.ifA).socketFallbacks[0].instead).toBe('the socket filter drops the frames this host sends (SKF_AD_PKTTYPE = PACKET_OUTGOING)');
    await Bun.sleep(600); // more counter reads and table pushes: still once
    const lines = fallbackLines();
    expect(lines.map((l) => l.option).sort()).toEqual([...expectA].sort());
    for (const l of lines) {
      expect(l.level).toBe('warn');
      expect(l.error).toBe('ENOPROTOOPT (Protocol not available)');
      expect(l.instead.length).toBeGreaterThan(20);
    }
    expect(lines.find((l) => l.option === 'PACKET_IGNORE_OUTGOING')?.instead).toContain('SKF_AD_PKTTYPE');
  });

  test('arping and ndisc6 from B get answers carrying our MAC', () => {
    expect(arping('192.0.2.10')).toEqual([pair.macA, pair.macA]);
    expect(ndisc('2001:db8::10')).toEqual([pair.macA]);
    expect(arping('192.0.2.20', 1)).toEqual([]); // bound to the other interface
  });

  test('its own probes, gratuitous ARP and NAs add to frames sent, never to frames received, own-frame drops or conflicts', async () => {
    const before = l2.api('GET', '/metrics').text;
    // Two new VIPs: ARP probes / DAD NS, then gratuitous ARP / unsolicited NA bursts, all on A's wire.
    expect(l2.api('PUT', '/v1/vips/192.0.2.30', { interface: pair.ifA }).status).toBe(201);
    expect(l2.api('PUT', '/v1/vips/2001:db8::30', { interface: pair.ifA }).status).toBe(201);
    // Announced, then the whole burst out (3 x 100 ms) with room to spare.
    await waitFor('new VIPs active', () => ['192.0.2.30', '2001:db8::30'].every((ip) => l2.api('GET', `/v1/vips/${ip}`).json?.state === 'active'), 3000);
    await Bun.sleep(600);
    const after = l2.api('GET', '/metrics').text;
    const delta = (name: string, labels: Record<string, string>) => metricSum(after, name, labels) - metricSum(before, name, labels);
    expect(delta('l2lb_frames_sent_total', { interface: pair.ifA })).toBeGreaterThanOrEqual(2 * (2 + 3));
    expect(delta('l2lb_frames_received_total', { interface: pair.ifA })).toBe(0);
    expect(metricSum(after, 'l2lb_ignored_total', { reason: 'own-frame' })).toBe(0); // since the start, its bursts included
    expect(metricSum(after, 'l2lb_conflicts_total')).toBe(0);
    for (const ip of ['192.0.2.30', '2001:db8::30']) {
      expect(metricSum(after, 'l2lb_requests_total', { vip: ip })).toBe(0);
      expect(l2.api('GET', `/v1/vips/${ip}`).json.gratuitousSent).toBeGreaterThanOrEqual(3);
    }
    // The same counters do move for a frame from B: the silence above is the filter, not a dead socket.
    expect(arping('192.0.2.30', 1)).toEqual([pair.macA]);
    expect(ndisc('2001:db8::30')).toEqual([pair.macA]);
    await waitFor('B\'s requests counted', () => {
      const m = l2.api('GET', '/metrics').text;
      return metricSum(m, 'l2lb_requests_total', { vip: '192.0.2.30' }) === 1 && metricSum(m, 'l2lb_requests_total', { vip: '2001:db8::30' }) >= 1
        && metricSum(m, 'l2lb_frames_received_total', { interface: pair.ifA }) > metricSum(after, 'l2lb_frames_received_total', { interface: pair.ifA });
    }, 2000);
    expect(l2.logs()).not.toContain('vip conflict');
  }, 15000);
});
