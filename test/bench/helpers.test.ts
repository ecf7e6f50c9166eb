/**
 * The bench's own arithmetic and reply recognition: a wrong percentile or a reply counted that is not one
 * would make every published figure wrong without any error.
 */
import { describe, expect, test } from 'bun:test';
import { parseMAC } from '../../src/net/mac.ts';
import { arpReplyFrame, decodeArp, gratuitousArpFrames } from '../../src/wire/arp.ts';
import { decodeEthernet } from '../../src/wire/ethernet.ts';
import { decodeNdp, naReplyFrame, unsolicitedNAFrame, type NeighborSolicitation } from '../../src/wire/ndp.ts';
import { ip, probeFor, quickMatch, verifyReply } from './frames.ts';
import { median, quantile, summarize } from './stats.ts';
import { cpuBetween, type CpuSnapshot } from './proc.ts';

const macA = parseMAC('02:00:00:00:0a:01')!;
const macB = parseMAC('02:00:00:00:0b:01')!;
const client4 = ip('192.0.2.2');
const client6 = ip('2001:db8::2');

describe('stats', () => {
  test('nearest-rank percentiles return measured values', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    const s = summarize(xs);
    expect([s.min, s.p50, s.p90, s.p99, s.max, s.count]).toEqual([1, 50, 90, 99, 100, 100]);
    expect(s.mean).toBe(50.5);
    expect(quantile([7], 0.99)).toBe(7);
    expect(median([3, 1, 2])).toBe(2);
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  test('CPU percent is ticks over wall time (100 ticks/s) and per-thread run/wait come from schedstat', () => {
    const a: CpuSnapshot = { at: 0n, ticks: 10, threads: [{ tid: 1, comm: 'Worker', ticks: 10, runNs: 0, waitNs: 0, involuntarySwitches: 3 }] };
    const b: CpuSnapshot = { at: 2_000_000_000n, ticks: 110, threads: [{ tid: 1, comm: 'Worker', ticks: 110, runNs: 1_000_000_000, waitNs: 200_000_000, involuntarySwitches: 5 }] };
    const u = cpuBetween(a, b);
    expect(u.percent).toBe(50);
    expect(u.runPercent).toBe(50);
    expect(u.threads).toEqual([{ tid: 1, comm: 'Worker', percent: 50, runPercent: 50, waitPercent: 10, involuntarySwitches: 2 }]);
  });
});

describe('reply recognition', () => {
  const arp = probeFor(macB, client4, ip('192.0.2.10'));
  const ns = probeFor(macB, client6, ip('2001:db8::10'));

  test('an ARP reply to our request counts; the gratuitous reply form for the same IP does not', () => {
    const eth = decodeEthernet(arp.frame);
    if (!eth.ok) throw new Error('request does not decode');
    const req = decodeArp(eth.value.payload);
    if (!req.ok) throw new Error('request does not decode');
    const reply = arpReplyFrame(macA, req.value, macA);
    expect(quickMatch(arp, reply, reply.length)).toBe(true);
    expect(verifyReply(arp, reply, client4)).toBe('02:00:00:00:0a:01');
    const [, gratuitousReply] = gratuitousArpFrames(macA, macA, ip('192.0.2.10'));
    expect(quickMatch(arp, gratuitousReply, gratuitousReply.length)).toBe(false);
    expect(quickMatch(arp, arp.frame, arp.frame.length)).toBe(false); // our own request
    expect(quickMatch(probeFor(macB, client4, ip('192.0.2.1')), reply, reply.length)).toBe(false); // another target
    expect(quickMatch(arp, reply, 30)).toBe(false); // truncated
  });

  test('a solicited NA to us counts; an unsolicited NA for the same target does not', () => {
    const eth = decodeEthernet(ns.frame);
    if (!eth.ok) throw new Error('NS does not decode');
    const m = decodeNdp(eth.value.payload);
    if (!m.ok || m.value.type !== 135) throw new Error('NS does not decode');
    const reply = naReplyFrame(macA, m.value as NeighborSolicitation, macB, macA, ip('fe80::1'));
    expect(quickMatch(ns, reply, reply.length)).toBe(true);
    expect(verifyReply(ns, reply, client6)).toBe('02:00:00:00:0a:01');
    const unsolicited = unsolicitedNAFrame(macA, macA, ip('fe80::1'), ip('2001:db8::10'));
    expect(quickMatch(ns, unsolicited, unsolicited.length)).toBe(false);
    const corrupt = reply.slice();
    corrupt[corrupt.length - 1]! ^= 0xff; // checksum no longer matches
    expect(quickMatch(ns, corrupt, corrupt.length)).toBe(true);
    expect(verifyReply(ns, corrupt, client6)).toBeUndefined();
  });
});
