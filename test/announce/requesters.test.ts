import { describe, expect, test } from 'bun:test';
import { CHECK_AFTER_MS, FORGET_AFTER_MS, MAX_SHARED_HOSTS, MAX_SHARED_PAIRS, Requesters, decodeShared, encodeShared } from '../../src/announce/requesters.ts';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { formatMAC, parseMAC } from '../../src/net/mac.ts';

const ip = (t: string): IP => parseIP(t)!;
const mac = (t: string) => parseMAC(t)!;
const VIP = ip('192.0.2.10');
const VIP2 = ip('192.0.2.11');
const VIP6 = ip('2001:db8::10');
const names = (rs: { ip: IP }[]) => rs.map((r) => formatIP(r.ip)).sort();

describe('Requesters', () => {
  test('remembers each host once, with every VIP it asked for, per family', () => {
    const t = new Requesters();
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 0);
    t.asked(VIP2, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 1);
    t.asked(VIP, ip('192.0.2.3'), mac('02:00:00:00:00:03'), 2);
    t.asked(VIP6, ip('2001:db8::2'), mac('02:00:00:00:00:02'), 3);
    expect(t.size).toBe(3);
    const h = t.list().find((r) => formatIP(r.ip) === '192.0.2.2')!;
    expect([...h.vips]).toEqual([VIP.value, VIP2.value]);
    expect(h.lastSeen).toBe(1);
    expect(names(t.round(10).confirm)).toEqual(['192.0.2.2', '192.0.2.3', '2001:db8::2']);
  });

  test('copies the MAC (the frame buffer is reused) and follows a changed MAC', () => {
    const t = new Requesters();
    const buf = mac('02:00:00:00:00:02');
    t.asked(VIP, ip('192.0.2.2'), buf, 0);
    buf.fill(0xee);
    expect(formatMAC(t.list()[0]!.mac)).toBe('02:00:00:00:00:02');
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:99'), 1);
    expect(formatMAC(t.list()[0]!.mac)).toBe('02:00:00:00:00:99');
  });

  test('a silent host is checked after CHECK_AFTER_MS, kept while it answers, forgotten after FORGET_AFTER_MS', () => {
    const t = new Requesters();
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 0);
    t.asked(VIP, ip('192.0.2.3'), mac('02:00:00:00:00:03'), 0);
    expect(t.round(CHECK_AFTER_MS - 1).check).toEqual([]);
    const r = t.round(CHECK_AFTER_MS);
    expect(names(r.check)).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(names(r.confirm)).toEqual(['192.0.2.2', '192.0.2.3']);
    // .2 answers its check; .3 stays silent.
    t.alive(ip('192.0.2.2'), mac('02:00:00:00:00:02'), CHECK_AFTER_MS + 5);
    expect(names(t.round(CHECK_AFTER_MS + 10).check)).toEqual(['192.0.2.3']);
    const late = t.round(FORGET_AFTER_MS);
    expect(names(late.confirm)).toEqual(['192.0.2.2']);
    expect(t.size).toBe(1);
  });

  test('a sign of life from an unknown host adds nothing', () => {
    const t = new Requesters();
    t.alive(ip('192.0.2.7'), mac('02:00:00:00:00:07'), 0);
    expect(t.size).toBe(0);
  });

  test('a full table refuses new hosts (a flood of forged senders) and keeps the ones it has', () => {
    const t = new Requesters(2);
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 0);
    t.asked(VIP, ip('192.0.2.3'), mac('02:00:00:00:00:03'), 0);
    t.asked(VIP, ip('192.0.2.4'), mac('02:00:00:00:00:04'), 0);
    t.asked(VIP2, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 0);
    expect(t.size).toBe(2);
    expect(t.refused).toBe(1);
    expect(names(t.list())).toEqual(['192.0.2.2', '192.0.2.3']);
  });
});

describe('sharing requesters through the Lease', () => {
  test('round trip, most recently seen first', () => {
    const text = encodeShared([
      { ip: '192.0.2.2', mac: '02:00:00:00:00:02', vips: ['192.0.2.10'], lastSeen: 1 },
      { ip: '2001:db8::2', mac: '02:00:00:00:00:03', vips: ['2001:db8::10', '2001:db8::11'], lastSeen: 2 },
    ]);
    expect(decodeShared(text)).toEqual([
      { ip: '2001:db8::2', mac: '02:00:00:00:00:03', vips: ['2001:db8::10', '2001:db8::11'] },
      { ip: '192.0.2.2', mac: '02:00:00:00:00:02', vips: ['192.0.2.10'] },
    ]);
  });

  test('bounded: at most MAX_SHARED_HOSTS hosts and MAX_SHARED_PAIRS host-VIP pairs', () => {
    const many = Array.from({ length: MAX_SHARED_HOSTS + 10 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, mac: '02:00:00:00:00:02', vips: ['192.0.2.10'], lastSeen: i }));
    const hosts = decodeShared(encodeShared(many));
    expect(hosts.length).toBe(MAX_SHARED_HOSTS);
    expect(hosts[0]!.ip).toBe(many.at(-1)!.ip); // the newest kept
    const wide = [{ ip: '192.0.2.2', mac: '02:00:00:00:00:02', vips: Array.from({ length: MAX_SHARED_PAIRS + 5 }, (_, i) => `198.51.100.${i}`), lastSeen: 0 }];
    expect(decodeShared(encodeShared(wide))[0]!.vips.length).toBe(MAX_SHARED_PAIRS);
  });

  test('an edited or foreign annotation is read as far as it makes sense, never thrown', () => {
    expect(decodeShared('not json')).toEqual([]);
    expect(decodeShared('{"requesters": 5}')).toEqual([]);
    expect(decodeShared('{"requesters": [[1, 2, 3], ["192.0.2.2", "02:00:00:00:00:02", ["192.0.2.10", 7]]]}'))
      .toEqual([{ ip: '192.0.2.2', mac: '02:00:00:00:00:02', vips: ['192.0.2.10'] }]);
  });

  test('the version moves when there is something new to share, not on every request', () => {
    const t = new Requesters();
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 0);
    const v = t.version;
    t.asked(VIP, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 1);
    expect(t.version).toBe(v);
    t.asked(VIP2, ip('192.0.2.2'), mac('02:00:00:00:00:02'), 2);
    expect(t.version).toBe(v + 1);
    t.round(FORGET_AFTER_MS + 2);
    expect(t.version).toBe(v + 2);
  });
});
