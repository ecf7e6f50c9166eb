import { describe, expect, test } from 'bun:test';
import { type SentTable, type TableUpdate, VipTable, diffTable, encodeTable } from '../../src/link/vip-table.ts';
import type { LinkVip } from '../../src/link/protocol.ts';
import { formatIP, parseIP, solicitedNodeAddress } from '../../src/net/ip.ts';
import { formatMAC, ipv6MulticastMAC } from '../../src/net/mac.ts';
import { mulberry32 } from '../support/prng.ts';

const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03'];
const MODES = ['answer', 'probe', 'watch'] as const;

/** What a table built from scratch from `vips` holds: address text -> `mac mode`. */
function expected(vips: LinkVip[]): Map<string, string> {
  return new Map(vips.map((v) => [v.ip, `${v.mac} ${v.mode}`]));
}

function contents(t: VipTable): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of [t.v4, t.v6]) for (const s of m.values()) out.set(s.key, `${formatMAC(s.mac)} ${s.mode}`);
  return out;
}

function groups(vips: LinkVip[]): Set<string> {
  const out = new Set<string>();
  for (const v of vips) {
    const ip = parseIP(v.ip)!;
    if (ip.family === 6) out.add(formatMAC(ipv6MulticastMAC(solicitedNodeAddress(ip))));
  }
  return out;
}

describe('diffTable + VipTable', () => {
  test('the first update is the whole table; an unchanged table sends nothing', () => {
    const vips: LinkVip[] = [{ ip: '192.0.2.1', mac: MACS[0]!, mode: 'answer' }];
    const first = diffTable(undefined, vips);
    expect(first.update).toEqual({ vips });
    const again = diffTable(first.sent, [...vips]);
    expect(again.update).toBeUndefined();
  });

  test('a change sends only the changed entries and the dropped addresses', () => {
    const a: LinkVip[] = Array.from({ length: 10 }, (_, i) => ({ ip: `192.0.2.${i + 1}`, mac: MACS[0]!, mode: 'answer' }));
    const { sent } = diffTable(undefined, a);
    const b = [...a.slice(1), { ip: '192.0.2.200', mac: MACS[1]!, mode: 'probe' as const }];
    b[0] = { ...b[0]!, mode: 'watch' };
    const { update } = diffTable(sent, b);
    expect(update).toEqual({ set: [{ ip: '192.0.2.2', mac: MACS[0]!, mode: 'watch' }, { ip: '192.0.2.200', mac: MACS[1]!, mode: 'probe' }], drop: ['192.0.2.1'] });
  });

  test('the previous slot of a changed address is what it was; an unchanged one reads the current', () => {
    const t = new VipTable();
    t.apply(encodeTable({ vips: [{ ip: '2001:db8::1', mac: MACS[0]!, mode: 'answer' }, { ip: '2001:db8::2', mac: MACS[0]!, mode: 'answer' }] }));
    const prev = t.apply(encodeTable({ set: [{ ip: '2001:db8::1', mac: MACS[1]!, mode: 'answer' }], drop: ['2001:db8::2'] }));
    const v = (text: string) => parseIP(text)!.value;
    expect(formatMAC(prev.v6.get(v('2001:db8::1'))!.mac)).toBe(MACS[0]!);
    expect(prev.v6.get(v('2001:db8::2'))?.mode).toBe('answer');
    expect(formatMAC(t.v6.get(v('2001:db8::1'))!.mac)).toBe(MACS[1]!);
    expect(t.v6.has(v('2001:db8::2'))).toBe(false);
    expect([...t.groups()]).toEqual([...groups([{ ip: '2001:db8::1', mac: MACS[1]!, mode: 'answer' }])]);
  });

  test('one parsed MAC per distinct MAC, shared by the slots', () => {
    const t = new VipTable();
    t.apply(encodeTable({ vips: Array.from({ length: 50 }, (_, i) => ({ ip: `198.51.100.${i}`, mac: MACS[i % 2]!, mode: 'answer' as const })) }));
    expect(new Set([...t.v4.values()].map((s) => s.mac)).size).toBe(2);
  });

  test('malformed entries are left out, as a full table build leaves them out', () => {
    const t = new VipTable();
    t.apply(encodeTable({ vips: [{ ip: 'not-an-ip', mac: MACS[0]!, mode: 'answer' }, { ip: '192.0.2.9', mac: 'zz', mode: 'answer' }, { ip: '192.0.2.10', mac: MACS[0]!, mode: 'answer' }] }));
    expect([...contents(t).keys()]).toEqual(['192.0.2.10']);
    t.apply(encodeTable({ set: [{ ip: '192.0.2.10', mac: 'bad', mode: 'answer' }] }));
    expect(t.size).toBe(0);
  });

  test('packed: 8 bytes an IPv4 entry, 20 an IPv6 one, in a buffer of its own (it is moved to the worker)', () => {
    const update: TableUpdate = {
      set: [{ ip: '192.0.2.1', mac: MACS[0]!, mode: 'answer' }, { ip: 'nonsense', mac: MACS[0]!, mode: 'answer' }, { ip: '2001:db8::1', mac: MACS[1]!, mode: 'watch' }],
      drop: ['192.0.2.2', '2001:db8::2', '::bad::'],
    };
    const e = encodeTable(update);
    expect(e.whole).toBe(false);
    expect(e.macs).toEqual([MACS[0]!, MACS[1]!]);
    expect(e.bytes.length).toBe(8 + 20 + 8 + 20);
    expect(e.bytes.byteOffset).toBe(0);
    expect(e.bytes.buffer.byteLength).toBe(e.bytes.length);
    expect(encodeTable({ vips: [] }).whole).toBe(true);
  });

  test('a truncated or unknown entry ends the update: the entries before it apply, nothing throws', () => {
    const t = new VipTable();
    const e = encodeTable({ vips: [{ ip: '192.0.2.1', mac: MACS[0]!, mode: 'answer' }, { ip: '2001:db8::1', mac: MACS[0]!, mode: 'answer' }] });
    t.apply({ ...e, bytes: e.bytes.slice(0, e.bytes.length - 1) });
    expect([...contents(t).keys()]).toEqual(['192.0.2.1']);
    const bad = e.bytes.slice();
    bad[0] = 5;
    t.apply({ ...e, bytes: bad });
    expect(t.size).toBe(0);
  });

  test('a slot asked for twice is the same object until its entry changes', () => {
    const t = new VipTable();
    t.apply(encodeTable({ vips: [{ ip: '2001:db8::1', mac: MACS[0]!, mode: 'answer' }] }));
    const v = parseIP('2001:db8::1')!.value;
    const a = t.v6.get(v)!;
    expect(t.v6.get(v)).toBe(a);
    expect(a.key).toBe('2001:db8::1');
    t.apply(encodeTable({ set: [{ ip: '2001:db8::1', mac: MACS[0]!, mode: 'probe' }] }));
    expect(t.v6.get(v)).not.toBe(a);
    expect(t.v6.get(v)?.mode).toBe('probe');
  });

  // Random tables over a small address space (so entries recur, change and vanish), both families: after
  // every update the patched table equals one built from scratch, and so do its multicast groups.
  test('randomized: patched table = table built from scratch (50 seeds x 60 steps)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = mulberry32(seed);
      const rand = () => next() / 2 ** 32;
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
      let sent: SentTable | undefined;
      const table = new VipTable();
      for (let step = 0; step < 60; step++) {
        const vips: LinkVip[] = [];
        const seen = new Set<string>();
        const n = Math.floor(rand() * 40);
        for (let i = 0; i < n; i++) {
          const ip = rand() < 0.5 ? `10.0.0.${Math.floor(rand() * 30)}` : formatIP(parseIP(`2001:db8::${Math.floor(rand() * 30).toString(16)}`)!);
          if (seen.has(ip)) continue;
          seen.add(ip);
          vips.push({ ip, mac: pick(MACS), mode: pick(MODES) });
        }
        const before = contents(table);
        const r = diffTable(sent, vips);
        sent = r.sent;
        const prev = r.update ? table.apply(encodeTable(r.update)) : undefined;
        expect(contents(table)).toEqual(expected(vips));
        expect(new Set(table.groups())).toEqual(groups(vips));
        expect(sent).toEqual(expected(vips));
        if (prev) {
          // Every address, changed or not, reads as it was before the update.
          for (const [ip, was] of before) {
            const p = parseIP(ip)!;
            const slot = (p.family === 4 ? prev.v4 : prev.v6).get(p.value);
            expect(slot && `${formatMAC(slot.mac)} ${slot.mode}`).toBe(was);
          }
        }
      }
    }
  });
});
