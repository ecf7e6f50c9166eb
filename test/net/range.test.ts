import { describe, expect, test } from 'bun:test';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import {
  type IPRange,
  cidrRange,
  formatCIDR,
  formatRange,
  hostBitsSet,
  parseCIDR,
  parseRange,
  rangeContains,
  rangeSize,
  rangesOverlap,
} from '../../src/net/range.ts';

const ip = (t: string): IP => parseIP(t)!;
const range = (t: string): IPRange => {
  const r = parseRange(t);
  if (!r) throw new Error(`parseRange rejected ${t}`);
  return r;
};
const text = (r: IPRange | undefined) => r && [formatIP(r.first), formatIP(r.last)];

describe('parseCIDR', () => {
  test.each([
    ['192.0.2.0/24', '192.0.2.0/24'],
    ['192.0.2.77/24', '192.0.2.0/24'], // host bits masked off
    ['192.0.2.1/32', '192.0.2.1/32'],
    ['203.0.113.200/0', '0.0.0.0/0'],
    ['198.51.100.130/25', '198.51.100.128/25'],
    ['2001:db8::/64', '2001:db8::/64'],
    ['2001:db8::1/64', '2001:db8::/64'],
    ['2001:db8:ffff:ffff:ffff::/48', '2001:db8:ffff::/48'],
    ['2001:db8::1/128', '2001:db8::1/128'],
    ['::/0', '::/0'],
    ['ffff::/1', '8000::/1'],
  ])('%s -> %s', (t, want) => {
    expect(formatCIDR(parseCIDR(t)!)).toBe(want);
  });

  test.each([
    '192.0.2.0', '192.0.2.0/', '192.0.2.0/33', '192.0.2.0/-1', '192.0.2.0/024', '192.0.2.0/+24', '192.0.2.0/24/1',
    '192.0.2.0/ 24', '192.0.2/24', '2001:db8::/129', '2001:db8::/1000', '/24', 'fe80::%eth0/64', '192.0.2.0/2a',
  ])('rejects %p', (t) => {
    expect(parseCIDR(t)).toBeUndefined();
  });

  test('hostBitsSet reports what parseCIDR masked', () => {
    expect(hostBitsSet('192.0.2.77/24')).toBe(true);
    expect(hostBitsSet('192.0.2.0/24')).toBe(false);
    expect(hostBitsSet('192.0.2.1/32')).toBe(false);
    expect(hostBitsSet('0.0.0.1/0')).toBe(true);
    expect(hostBitsSet('2001:db8::1/64')).toBe(true);
    expect(hostBitsSet('2001:db8::/64')).toBe(false);
    expect(hostBitsSet('not a cidr')).toBe(false);
    expect(hostBitsSet('192.0.2.1')).toBe(false);
  });
});

describe('cidrRange and rangeSize', () => {
  test.each([
    ['192.0.2.0/24', '192.0.2.0', '192.0.2.255', 256n],
    ['192.0.2.5/32', '192.0.2.5', '192.0.2.5', 1n],
    ['192.0.2.4/31', '192.0.2.4', '192.0.2.5', 2n],
    ['0.0.0.0/0', '0.0.0.0', '255.255.255.255', 2n ** 32n],
    ['2001:db8::/64', '2001:db8::', '2001:db8::ffff:ffff:ffff:ffff', 2n ** 64n],
    ['2001:db8::/120', '2001:db8::', '2001:db8::ff', 256n],
    ['::/0', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 2n ** 128n],
    ['2001:db8::7/128', '2001:db8::7', '2001:db8::7', 1n],
  ])('%s is %s-%s, %p addresses', (cidr, first, last, size) => {
    const r = cidrRange(parseCIDR(cidr)!);
    expect(text(r)).toEqual([first, last]);
    expect(rangeSize(r)).toBe(size);
    expect(rangeSize(range(cidr))).toBe(size);
  });

  test('a /64 has exactly 2^64 addresses, beyond Number precision', () => {
    const size = rangeSize(range('2001:db8:1:2::/64'));
    expect(size).toBe(18446744073709551616n);
    expect(size - 1n).toBe(18446744073709551615n);
  });
});

describe('parseRange', () => {
  test.each([
    ['192.0.2.1', ['192.0.2.1', '192.0.2.1']],
    ['192.0.2.10-192.0.2.20', ['192.0.2.10', '192.0.2.20']],
    ['192.0.2.10 - 192.0.2.20', ['192.0.2.10', '192.0.2.20']],
    ['  192.0.2.10  -192.0.2.20 ', ['192.0.2.10', '192.0.2.20']],
    ['192.0.2.10-192.0.2.10', ['192.0.2.10', '192.0.2.10']],
    ['198.51.100.0/30', ['198.51.100.0', '198.51.100.3']],
    ['2001:db8::1', ['2001:db8::1', '2001:db8::1']],
    ['2001:db8::1-2001:db8::1:0', ['2001:db8::1', '2001:db8::1:0']],
    ['2001:db8::/126', ['2001:db8::', '2001:db8::3']],
  ])('%p', (t, want) => {
    expect(text(parseRange(t))).toEqual(want);
  });

  test.each([
    '', '-', '192.0.2.20-192.0.2.10', '192.0.2.1-2001:db8::1', '192.0.2.1-', '-192.0.2.1', '192.0.2.1--192.0.2.2',
    '192.0.2.1-192.0.2.2-192.0.2.3', '192.0.2.0/24-192.0.3.0', '192.0.2.0/33', '192.0.2.1,192.0.2.2', 'x',
    '2001:db8::2-2001:db8::1', '192.0.2.1 192.0.2.2',
  ])('rejects %p', (t) => {
    expect(parseRange(t)).toBeUndefined();
  });

  test('formatRange inverts parseRange', () => {
    for (const t of ['192.0.2.1', '192.0.2.10-192.0.2.20', '2001:db8::-2001:db8::ffff:ffff:ffff:ffff', '::1']) {
      expect(formatRange(range(t))).toBe(t);
      expect(formatRange(range(formatRange(range(t))))).toBe(t);
    }
    expect(formatRange(range('192.0.2.0/30'))).toBe('192.0.2.0-192.0.2.3');
    expect(formatRange(range('192.0.2.9/32'))).toBe('192.0.2.9');
  });
});

describe('rangeContains and rangesOverlap', () => {
  const r = range('192.0.2.10-192.0.2.20');
  test.each([
    ['192.0.2.9', false],
    ['192.0.2.10', true],
    ['192.0.2.15', true],
    ['192.0.2.20', true],
    ['192.0.2.21', false],
    ['::ffff:192.0.2.15', false], // another family, even if it "looks" the same
  ])('192.0.2.10-192.0.2.20 contains %s: %p', (addr, want) => {
    expect(rangeContains(r, ip(addr))).toBe(want);
  });

  test('contains at the edges of a /64', () => {
    const r6 = range('2001:db8::/64');
    expect(rangeContains(r6, ip('2001:db8::'))).toBe(true);
    expect(rangeContains(r6, ip('2001:db8::ffff:ffff:ffff:ffff'))).toBe(true);
    expect(rangeContains(r6, ip('2001:db8:0:1::'))).toBe(false);
    expect(rangeContains(r6, ip('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff'))).toBe(false);
  });

  test.each([
    ['192.0.2.10-192.0.2.20', '192.0.2.20-192.0.2.30', true], // touch at one address
    ['192.0.2.10-192.0.2.20', '192.0.2.21-192.0.2.30', false], // adjacent
    ['192.0.2.10-192.0.2.20', '192.0.2.0/24', true], // contained
    ['192.0.2.0/24', '192.0.2.15', true],
    ['192.0.2.0/25', '192.0.2.128/25', false],
    ['192.0.2.0/24', '::ffff:192.0.2.0/120', false], // families never overlap
    ['2001:db8::/64', '2001:db8::ffff:ffff:ffff:ffff-2001:db8:0:1::', true],
    ['2001:db8::/64', '2001:db8:0:1::/64', false],
    ['::/0', '2001:db8::1', true],
  ])('%s overlaps %s: %p', (a, b, want) => {
    expect(rangesOverlap(range(a), range(b))).toBe(want);
    expect(rangesOverlap(range(b), range(a))).toBe(want);
  });
});
