import { describe, expect, test } from 'bun:test';
import {
  type IP,
  IPV4_ANY,
  IPV6_ALL_NODES,
  IPV6_ANY,
  compareIP,
  formatIP,
  ipAdd,
  ipEquals,
  ipFromBytes,
  ipToBytes,
  writeIP,
  isLinkLocal,
  isMulticast,
  isSolicitedNode,
  isUnspecified,
  parseIP,
  solicitedNodeAddress,
} from '../../src/net/ip.ts';

const v4 = (value: bigint): IP => ({ family: 4, value });
const v6 = (value: bigint): IP => ({ family: 6, value });
const must = (text: string): IP => {
  const ip = parseIP(text);
  if (!ip) throw new Error(`parseIP rejected ${text}`);
  return ip;
};

/** xorshift32: deterministic, so a failing round trip can be replayed from the seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

describe('parseIP', () => {
  test.each([
    ['0.0.0.0', v4(0n)],
    ['192.0.2.1', v4(0xc0000201n)],
    ['255.255.255.255', v4(0xffffffffn)],
    ['10.0.0.10', v4(0x0a00000an)],
    ['::', v6(0n)],
    ['::1', v6(1n)],
    ['1::', v6(1n << 112n)],
    ['2001:db8::1', v6(0x20010db8n << 96n | 1n)],
    ['2001:DB8::A', v6(0x20010db8n << 96n | 0xan)],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', v6(0x20010db8n << 96n | 1n)],
    ['1:2:3:4:5:6:7:8', v6(0x0001_0002_0003_0004_0005_0006_0007_0008n)],
    ['1:2:3:4:5:6:7::', v6(0x0001_0002_0003_0004_0005_0006_0007_0000n)],
    ['::2:3:4:5:6:7:8', v6(0x0000_0002_0003_0004_0005_0006_0007_0008n)],
    ['::ffff:192.0.2.1', v6(0xffffc0000201n)],
    ['::192.0.2.1', v6(0xc0000201n)],
    ['64:ff9b::198.51.100.7', v6(0x0064ff9bn << 96n | 0xc6336407n)],
    ['1:2:3:4:5:6:192.0.2.1', v6(0x0001_0002_0003_0004_0005_0006_c000_0201n)],
    ['fe80::200:5eff:fe00:5301', v6(0xfe80n << 112n | 0x0200_5eff_fe00_5301n)],
  ])('%s', (text, want) => {
    expect(parseIP(text)).toEqual(want);
  });

  test.each([
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.256', '01.2.3.4', '1.2.3.04', '00.1.2.3', '1.2.3.-1', '1..2.3',
    '1.2.3.4 ', ' 1.2.3.4', '0x1.2.3.4', '1.2.3.4/32', '1e2.0.0.0',
    ':', ':::', '1::2::3', '::1::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8',
    '1:', ':1', '1:2:3:4:5:6:7:8:', ':1:2:3:4:5:6:7:8', '12345::', 'g::', '2001:db8::1 ',
    'fe80::1%eth0', 'fe80::1%1', '[::1]', '[::1]:80', '::ffff:1.2.3', '::ffff:01.2.3.4', '::1.2.3.4:5',
    '1.2.3.4::', '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5:6:1.2.3.4:8',
  ])('rejects %p', (text) => {
    expect(parseIP(text)).toBeUndefined();
  });
});

describe('formatIP', () => {
  // RFC 5952 section 4 and 5 cases, plus the ties and edges of zero-run compression.
  test.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3: first of two equal runs
    ['2001:0db8::0001', '2001:db8::1'], // 4.1: no leading zeros
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2: a single 0 group stays
    ['2001:DB8::AB:CD', '2001:db8::ab:cd'], // 4.3: lower case
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // 4.2.1: shorten as much as possible
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3: the longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'], // 5: IPv4-mapped keeps the dotted quad
    ['::ffff:0.0.0.0', '::ffff:0.0.0.0'],
    ['::c000:201', '::c000:201'], // deprecated IPv4-compatible form is not special
    ['fe80:0:0:0:200:5eff:fe00:5301', 'fe80::200:5eff:fe00:5301'],
    ['192.0.2.1', '192.0.2.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
  ])('%s -> %s', (text, want) => {
    expect(formatIP(must(text))).toBe(want);
  });

  test('10,000 random addresses: format is a fixed point of parse, and bytes round-trip', () => {
    const seed = 0x5eed1;
    const rnd = prng(seed);
    for (let n = 0; n < 10_000; n++) {
      let ip: IP;
      if (n % 3 === 0) {
        ip = v4(BigInt(rnd()));
      } else {
        // Groups are zero half of the time, so zero runs of every length and position come up.
        let value = 0n;
        for (let g = 0; g < 8; g++) value = (value << 16n) | BigInt(rnd() & 1 ? 0 : rnd() & 0xffff);
        if (n % 50 === 0) value = 0xffff_0000_0000n | BigInt(rnd()); // IPv4-mapped
        ip = v6(value);
      }
      const text = formatIP(ip);
      const back = parseIP(text);
      if (!back || !ipEquals(back, ip) || formatIP(back) !== text) {
        throw new Error(`seed ${seed} #${n}: ${ip.family}/${ip.value.toString(16)} -> ${text} -> ${back && formatIP(back)}`);
      }
      const bytes = ipToBytes(ip);
      expect(bytes.length).toBe(ip.family === 4 ? 4 : 16);
      if (!ipEquals(ipFromBytes(bytes), ip)) throw new Error(`seed ${seed} #${n}: bytes round trip of ${text}`);
      if (ip.family === 6) {
        // The uncompressed, upper-case, zero-padded spelling is the same address.
        const long = Array.from({ length: 8 }, (_, g) => ((ip.value >> BigInt(16 * (7 - g))) & 0xffffn).toString(16).toUpperCase().padStart(4, '0')).join(':');
        if (!ipEquals(must(long), ip)) throw new Error(`seed ${seed} #${n}: ${long}`);
      }
    }
  });
});

describe('bytes', () => {
  test('network byte order', () => {
    expect([...ipToBytes(must('192.0.2.1'))]).toEqual([192, 0, 2, 1]);
    expect([...ipToBytes(must('2001:db8::1'))]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  test('ipFromBytes reads at an offset, with or without the family', () => {
    const buf = new Uint8Array([9, 9, 192, 0, 2, 1, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 9]);
    expect(formatIP(ipFromBytes(buf, 2, 4))).toBe('192.0.2.1');
    expect(formatIP(ipFromBytes(buf, 6, 6))).toBe('2001:db8::7');
    expect(formatIP(ipFromBytes(buf.subarray(2, 6)))).toBe('192.0.2.1');
    expect(formatIP(ipFromBytes(buf.subarray(0, 22), 6))).toBe('2001:db8::7');
    // A view into a larger buffer reads its own bytes, not the buffer's start.
    expect(formatIP(ipFromBytes(buf.subarray(6), 0, 6))).toBe('2001:db8::7');
  });

  test('writeIP writes at an offset into a view, and refuses to write an IPv6 address past the end', () => {
    const buf = new Uint8Array(20);
    writeIP(buf.subarray(2), 1, must('2001:db8::7'));
    expect([...buf]).toEqual([0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0]);
    expect(() => writeIP(new Uint8Array(16), 1, must('2001:db8::7'))).toThrow(RangeError);
  });

  test('ipFromBytes refuses lengths that are no address and reads past the end', () => {
    expect(() => ipFromBytes(new Uint8Array(5))).toThrow(RangeError);
    expect(() => ipFromBytes(new Uint8Array(16), 14, 4)).toThrow(RangeError);
    expect(() => ipFromBytes(new Uint8Array(16), 4, 6)).toThrow(RangeError);
  });
});

describe('comparison and arithmetic', () => {
  test('compareIP sorts IPv4 before IPv6, then numerically', () => {
    const list = ['2001:db8::1', '192.0.2.10', '::', '192.0.2.9', '0.0.0.0', 'ff02::1', '255.255.255.255'].map(must);
    expect(list.sort(compareIP).map(formatIP)).toEqual(['0.0.0.0', '192.0.2.9', '192.0.2.10', '255.255.255.255', '::', '2001:db8::1', 'ff02::1']);
    expect(compareIP(must('::1'), must('0:0::1'))).toBe(0);
  });

  test('ipEquals needs the same family', () => {
    expect(ipEquals(must('0.0.0.1'), must('::1'))).toBe(false);
    expect(ipEquals(must('::1'), v6(1n))).toBe(true);
  });

  test('ipAdd is exact and stops at the ends of the address space', () => {
    expect(formatIP(ipAdd(must('192.0.2.255'), 1n)!)).toBe('192.0.3.0');
    expect(formatIP(ipAdd(must('192.0.2.0'), -1n)!)).toBe('192.0.1.255');
    expect(ipAdd(must('255.255.255.255'), 1n)).toBeUndefined();
    expect(ipAdd(must('0.0.0.0'), -1n)).toBeUndefined();
    expect(formatIP(ipAdd(must('2001:db8::'), 2n ** 64n)!)).toBe('2001:db8:0:1::');
    expect(formatIP(ipAdd(must('::'), 2n ** 128n - 1n)!)).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(ipAdd(must('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 1n)).toBeUndefined();
    expect(ipAdd(must('::'), -1n)).toBeUndefined();
    expect(ipAdd(must('::1'), 0n)).toEqual(must('::1'));
  });
});

describe('constants and classification', () => {
  test('constants', () => {
    expect(formatIP(IPV4_ANY)).toBe('0.0.0.0');
    expect(formatIP(IPV6_ANY)).toBe('::');
    expect(formatIP(IPV6_ALL_NODES)).toBe('ff02::1');
    expect(IPV6_ALL_NODES.family).toBe(6);
  });

  test.each([
    ['169.254.0.1', true, false, false],
    ['169.255.0.1', false, false, false],
    ['224.0.0.1', false, true, false],
    ['239.255.255.255', false, true, false],
    ['240.0.0.0', false, false, false],
    ['223.255.255.255', false, false, false],
    ['0.0.0.0', false, false, true],
    ['192.0.2.1', false, false, false],
    ['fe80::1', true, false, false],
    ['febf:ffff::1', true, false, false],
    ['fec0::1', false, false, false],
    ['ff02::1', false, true, false],
    ['ff02::1:ff00:2', false, true, false],
    ['fe00::', false, false, false],
    ['::', false, false, true],
    ['::1', false, false, false],
    ['2001:db8::1', false, false, false],
  ])('%s: link-local %p, multicast %p, unspecified %p', (text, ll, mc, un) => {
    const ip = must(text);
    expect(isLinkLocal(ip)).toBe(ll);
    expect(isMulticast(ip)).toBe(mc);
    expect(isUnspecified(ip)).toBe(un);
  });

  test('solicitedNodeAddress keeps the low 24 bits (RFC 4291 2.7.1)', () => {
    expect(formatIP(solicitedNodeAddress(must('2001:db8::1:2345:6789')))).toBe('ff02::1:ff45:6789');
    expect(formatIP(solicitedNodeAddress(must('fe80::200:5eff:fe00:5301')))).toBe('ff02::1:ff00:5301');
    expect(formatIP(solicitedNodeAddress(must('::')))).toBe('ff02::1:ff00:0');
    expect(isSolicitedNode(solicitedNodeAddress(must('2001:db8::ab')))).toBe(true);
    expect(isSolicitedNode(must('ff02::1'))).toBe(false);
    expect(isSolicitedNode(must('ff02::1:fe00:1'))).toBe(false);
    expect(() => solicitedNodeAddress(must('192.0.2.1'))).toThrow(RangeError);
  });
});
