import { describe, expect, test } from 'bun:test';
import { type AddressProblem, addressProblem, clipRange, describeAddressProblem, hostExclusions } from '../../src/net/announceable.ts';
import { formatIP, parseIP } from '../../src/net/ip.ts';
import { formatRange, parseCIDR, parseRange } from '../../src/net/range.ts';

const ip = (t: string) => parseIP(t)!;
const host = {
  subnets: [parseCIDR('192.0.2.1/24')!, parseCIDR('198.51.100.9/31')!, parseCIDR('2001:db8::1/64')!],
  own: [ip('192.0.2.1'), ip('2001:db8::1'), ip('192.0.2.11')],
  ownedBy: new Map([['192.0.2.1', 'eth0'], ['192.0.2.11', 'node node-1']]),
};

describe('addressProblem: one rule for every address l2lb may announce', () => {
  const cases: [string, AddressProblem | undefined][] = [
    ['192.0.2.10', undefined], ['203.0.113.200', undefined], ['10.0.0.1', undefined], ['100.64.0.1', undefined],
    ['2001:db8::10', undefined], ['fd00::1', undefined], ['2001:db8::', undefined],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'],
    ['224.0.0.1', 'multicast'], ['239.255.255.255', 'multicast'], ['ff02::1', 'multicast'], ['ff05::1:3', 'multicast'],
    ['255.255.255.255', 'limited-broadcast'], ['240.0.0.1', 'reserved'], ['255.255.255.254', 'reserved'],
    ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'], ['fec0::1', undefined],
    ['::ffff:192.0.2.10', 'ipv4-mapped'],
    // What this host has.
    ['192.0.2.1', 'own-address'], ['192.0.2.11', 'own-address'], ['2001:db8::1', 'own-address'],
    ['192.0.2.0', 'subnet-network'], ['192.0.2.255', 'subnet-broadcast'],
    // A /31 has no network or broadcast address (RFC 3021).
    ['198.51.100.8', undefined], ['198.51.100.9', undefined],
  ];
  for (const [text, want] of cases) {
    test(`${text}: ${want ?? 'announceable'}`, () => {
      expect(addressProblem(ip(text), host)).toBe(want);
    });
  }

  test('without host facts only the fixed blocks count', () => {
    expect(addressProblem(ip('192.0.2.1'))).toBeUndefined();
    expect(addressProblem(ip('192.0.2.255'))).toBeUndefined();
    expect(addressProblem(ip('ff02::1'))).toBe('multicast');
  });

  test('the message names the address, what it is, the subnet or owner, and that it cannot be announced', () => {
    expect(describeAddressProblem(ip('224.0.0.1'), 'multicast')).toBe('224.0.0.1 is a multicast address: it cannot be announced');
    expect(describeAddressProblem(ip('192.0.2.255'), 'subnet-broadcast', host)).toBe('192.0.2.255 is the broadcast address of a connected subnet 192.0.2.0/24: it cannot be announced');
    expect(describeAddressProblem(ip('192.0.2.11'), 'own-address', host)).toBe('192.0.2.11 already belongs to a host on the segment (node node-1): it cannot be announced');
    expect(describeAddressProblem(ip('::ffff:192.0.2.10'), 'ipv4-mapped')).toContain('announce the IPv4 address instead');
  });
});

describe('pools', () => {
  const r = (t: string) => parseRange(t)!;

  test('a range running into a fixed block keeps its unicast part and says what it skipped', () => {
    const c = clipRange(r('223.255.255.250-224.0.0.10'));
    expect(formatRange(c.range!)).toBe('223.255.255.250-223.255.255.255');
    expect(c.clipped).toEqual(['224.0.0.0/4 (multicast)']);
    const low = clipRange(r('0.0.0.0/7'));
    expect(formatRange(low.range!)).toBe('1.0.0.0-1.255.255.255');
    // Adjacent blocks at one end: multicast, then reserved.
    const high = clipRange(r('223.0.0.0-255.255.255.255'));
    expect(formatRange(high.range!)).toBe('223.0.0.0-223.255.255.255');
    expect(high.clipped).toEqual(['255.255.255.255/32 (limited-broadcast)', '240.0.0.0/4 (reserved)', '224.0.0.0/4 (multicast)']);
  });

  test('a range wholly in blocks, or split by one, is refused with the reason', () => {
    const all = clipRange(r('224.0.0.0/24'));
    expect(all.range).toBeUndefined();
    expect(all.problem).toBe('every address of 224.0.0.0-224.0.0.255 is in 224.0.0.0/4 (multicast)');
    expect(clipRange(r('126.0.0.0-128.0.0.0')).problem).toBe('126.0.0.0-128.0.0.0 spans 127.0.0.0/8 (loopback), whose addresses cannot be announced: write it as two pools, one on each side');
    expect(clipRange(r('fe80::/64')).problem).toContain('fe80::/10 (link-local)');
  });

  test('an ordinary range is untouched', () => {
    expect(clipRange(r('192.0.2.200-192.0.2.207'))).toEqual({ range: r('192.0.2.200-192.0.2.207'), clipped: [] });
    expect(clipRange(r('2001:db8::/64')).clipped).toEqual([]);
  });

  test("the host's own addresses and connected subnets' network and broadcast addresses inside a range", () => {
    expect(hostExclusions(r('192.0.2.0-192.0.2.255'), host).map(formatIP)).toEqual(['192.0.2.0', '192.0.2.1', '192.0.2.11', '192.0.2.255']);
    expect(hostExclusions(r('192.0.2.200-192.0.2.207'), host)).toEqual([]);
    expect(hostExclusions(r('2001:db8::/120'), host).map(formatIP)).toEqual(['2001:db8::1']);
  });
});
