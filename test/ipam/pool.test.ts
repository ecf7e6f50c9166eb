import { describe, expect, test } from 'bun:test';
import { type IP, formatIP, parseIP } from '../../src/net/ip.ts';
import { ageRank } from '../../src/ipam/order.ts';
import { type Pool, type PoolSpec, availableTo, boundTo, buildPools, poolFor, poolHolds, poolRefusal } from '../../src/ipam/pool.ts';
import { parseCIDR } from '../../src/net/range.ts';

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
const ip = (t: string): IP => parseIP(t)!;
const eip = (name: string, address: string, extra: Partial<PoolSpec> = {}): PoolSpec =>
  ({ name, source: 'eip', protocol: 'layer2', address, createdAt: T(0), ...extra });
const one = (spec: PoolSpec): Pool => {
  const pools = buildPools([spec]);
  expect(pools).toHaveLength(1);
  return pools[0]!;
};
const view = (p: Pool) => ({ name: p.spec.name, usable: p.usable, problem: p.problem });

describe('pool addresses', () => {
  test.each([
    // address, family, first usable, last usable, size
    ['192.0.2.7', 4, '192.0.2.7', '192.0.2.7', 1n],
    [' 192.0.2.7 ', 4, '192.0.2.7', '192.0.2.7', 1n],
    ['192.0.2.7/32', 4, '192.0.2.7', '192.0.2.7', 1n],
    ['192.0.2.6/31', 4, '192.0.2.6', '192.0.2.7', 2n], // RFC 3021: both usable
    ['192.0.2.4/30', 4, '192.0.2.5', '192.0.2.6', 2n], // network .4 and broadcast .7 skipped
    ['192.0.2.0/29', 4, '192.0.2.1', '192.0.2.6', 6n],
    ['192.0.2.0/24', 4, '192.0.2.1', '192.0.2.254', 254n],
    ['198.51.100.77/24', 4, '198.51.100.1', '198.51.100.254', 254n], // host bits masked, then skipped
    ['192.0.2.0-192.0.2.255', 4, '192.0.2.0', '192.0.2.255', 256n], // a range is taken as written
    ['192.0.2.10 - 192.0.2.20', 4, '192.0.2.10', '192.0.2.20', 11n],
    ['2001:db8::1', 6, '2001:db8::1', '2001:db8::1', 1n],
    ['2001:db8::/128', 6, '2001:db8::', '2001:db8::', 1n],
    ['2001:db8::/127', 6, '2001:db8::', '2001:db8::1', 2n],
    ['2001:db8::/126', 6, '2001:db8::1', '2001:db8::3', 3n], // no broadcast; the subnet-router anycast address skipped
    ['2001:db8::/64', 6, '2001:db8::1', '2001:db8::ffff:ffff:ffff:ffff', 2n ** 64n - 1n],
    ['2001:db8::/32', 6, '2001:db8::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 2n ** 96n - 1n],
    ['2001:db8::-2001:db8::5', 6, '2001:db8::', '2001:db8::5', 6n], // a range is taken as written
    ['223.255.255.250-224.0.0.10', 4, '223.255.255.250', '223.255.255.255', 6n], // multicast taken off the end
    ['2001:db8::10-2001:db8::1:f', 6, '2001:db8::10', '2001:db8::1:f', 0x10000n],
  ] as const)('%p', (address, family, first, last, size) => {
    const p = one(eip('p', address));
    expect(p.usable).toBe(true);
    expect(p.valid).toBe(true);
    expect(p.problem).toBeUndefined();
    expect(p.family).toBe(family);
    expect([formatIP(p.first), formatIP(p.last)]).toEqual([first, last]);
    expect(p.size).toBe(size);
  });

  test('the written range keeps the network and broadcast address', () => {
    const p = one(eip('p', '192.0.2.0/24'));
    expect([formatIP(p.range.first), formatIP(p.range.last)]).toEqual(['192.0.2.0', '192.0.2.255']);
    expect(poolHolds(p, ip('192.0.2.0'))).toBe(false);
    expect(poolHolds(p, ip('192.0.2.255'))).toBe(false);
    expect(poolHolds(p, ip('192.0.2.1'))).toBe(true);
    expect(poolHolds(p, ip('192.0.2.254'))).toBe(true);
  });

  test.each(['', 'nope', '192.0.2.20-192.0.2.10', '192.0.2.1-2001:db8::1', '192.0.2.0/33', '192.0.2.1,192.0.2.2', '2001:db8::/129'])(
    'invalid address %p is reported, not used',
    (address) => {
      const p = one(eip('bad', address));
      expect(p.valid).toBe(false);
      expect(p.usable).toBe(false);
      expect(p.size).toBe(0n);
      expect(p.problem).toBe(`address ${JSON.stringify(address)} is not an IP, CIDR or range`);
    },
  );
});

describe('which pools are ours', () => {
  test.each([
    ['Eip layer2', eip('l2', '192.0.2.1'), true],
    ['Eip bgp', eip('bgp', '192.0.2.1', { protocol: 'bgp' }), false],
    ['Eip vip', eip('vip', '192.0.2.1', { protocol: 'vip' }), false],
    ['Eip without protocol (BGP in OpenELB)', eip('none', '192.0.2.1', { protocol: undefined }), false],
    ['config pool without protocol', { ...eip('cfg', '192.0.2.1', { protocol: undefined }), source: 'config' as const }, true],
    ['config pool with protocol bgp', { ...eip('cfg', '192.0.2.1', { protocol: 'bgp' }), source: 'config' as const }, false],
  ])('%s: ours = %p', (_, spec, ours) => {
    expect(buildPools([spec]).length).toBe(ours ? 1 : 0);
  });

  test('a BGP Eip overlapping a layer2 pool is not reported either', () => {
    const pools = buildPools([eip('bgp', '192.0.2.0/24', { protocol: 'bgp', createdAt: T(0) }), eip('l2', '192.0.2.10', { createdAt: T(5) })]);
    expect(pools.map(view)).toEqual([{ name: 'l2', usable: true, problem: undefined }]);
  });
});

describe('overlapping, disabled and duplicate pools', () => {
  test('the newer of two overlapping pools is reported and not used', () => {
    const pools = buildPools([eip('young', '192.0.2.100-192.0.2.200', { createdAt: T(9) }), eip('old', '192.0.2.0/24', { createdAt: T(1) })]);
    expect(pools.map(view)).toEqual([
      { name: 'old', usable: true, problem: undefined },
      { name: 'young', usable: false, problem: 'overlaps pool old (older)' },
    ]);
  });

  test('config pools count as older than any Eip', () => {
    const pools = buildPools([
      eip('eip', '192.0.2.10', { createdAt: '2000-01-01T00:00:00Z' }),
      { ...eip('cfg', '192.0.2.0/28', { createdAt: '' }), source: 'config' },
    ]);
    expect(pools.map(view)).toEqual([
      { name: 'cfg', usable: true, problem: undefined },
      { name: 'eip', usable: false, problem: 'overlaps pool cfg (older)' },
    ]);
  });

  test('timestamps compare as instants, not text', () => {
    // 00:30Z is older than 01:00+00:00 text-wise too, but 01:00+01:00 (= 00:00Z) is the oldest.
    const pools = buildPools([
      eip('a', '192.0.2.1-192.0.2.5', { createdAt: '2026-01-01T00:30:00Z' }),
      eip('b', '192.0.2.5-192.0.2.9', { createdAt: '2026-01-01T01:00:00+01:00' }),
    ]);
    expect(pools.map(view)).toEqual([
      { name: 'a', usable: false, problem: 'overlaps pool b (older)' },
      { name: 'b', usable: true, problem: undefined },
    ]);
  });

  test('same creation time: the name decides, so the answer never depends on list order', () => {
    const specs = [eip('b', '192.0.2.0/28'), eip('a', '192.0.2.8/29')];
    const want = [
      { name: 'a', usable: true, problem: undefined },
      { name: 'b', usable: false, problem: 'overlaps pool a (older)' },
    ];
    expect(buildPools(specs).map(view)).toEqual(want);
    expect(buildPools([...specs].reverse()).map(view)).toEqual(want);
  });

  test('a disabled older pool still owns its addresses (toggling disable moves nothing)', () => {
    const pools = buildPools([eip('old', '192.0.2.0/24', { disable: true, createdAt: T(1) }), eip('new', '192.0.2.50', { createdAt: T(2) })]);
    expect(pools.map(view)).toEqual([
      { name: 'new', usable: false, problem: 'overlaps pool old (older)' },
      { name: 'old', usable: false, problem: 'disabled' },
    ]);
    expect(poolFor(pools, ip('192.0.2.50'))?.spec.name).toBe('old');
  });

  test('an invalid pool overlaps nothing', () => {
    const pools = buildPools([eip('bad', 'x', { createdAt: T(1) }), eip('good', '192.0.2.0/24', { createdAt: T(2) })]);
    expect(pools.map(view)).toEqual([
      { name: 'bad', usable: false, problem: 'address "x" is not an IP, CIDR or range' },
      { name: 'good', usable: true, problem: undefined },
    ]);
  });

  test.each([
    ['adjacent IPv4 ranges', '192.0.2.0/25', '192.0.2.128/25', true],
    ['one shared address', '192.0.2.0-192.0.2.10', '192.0.2.10-192.0.2.20', false],
    ['same numbers, other family', '1.0.0.1-1.0.0.9', '::1:0:1-::1:0:9', true],
    ['IPv6 inside a /64', '2001:db8::/64', '2001:db8::ffff:1', false],
    ['adjacent IPv6 /64s', '2001:db8::/64', '2001:db8:0:1::/64', true],
  ])('%s: the second is usable = %p', (_, a, b, secondUsable) => {
    const pools = buildPools([eip('a', a, { createdAt: T(1) }), eip('b', b, { createdAt: T(2) })]);
    expect(pools.find((p) => p.spec.name === 'b')!.usable).toBe(secondUsable);
    expect(pools.find((p) => p.spec.name === 'a')!.usable).toBe(true);
  });

  test('a pool overlapping two older ones names the oldest', () => {
    const pools = buildPools([
      eip('mid', '192.0.2.20-192.0.2.29', { createdAt: T(2) }),
      eip('first', '192.0.2.0-192.0.2.9', { createdAt: T(1) }),
      eip('wide', '192.0.2.0/24', { createdAt: T(3) }),
    ]);
    expect(pools.find((p) => p.spec.name === 'wide')!.problem).toBe('overlaps pool first (older)');
  });

  test('a second pool with a used name is reported (config pool and Eip of the same name)', () => {
    const pools = buildPools([eip('lan', '198.51.100.0/24'), { ...eip('lan', '192.0.2.0/24'), source: 'config' }]);
    expect(pools.map((p) => [p.spec.source, p.usable, p.problem])).toEqual([
      ['config', true, undefined],
      ['eip', false, 'name lan is already used by an older pool'],
    ]);
  });

  test('disabled', () => {
    expect(view(one(eip('off', '192.0.2.0/24', { disable: true })))).toEqual({ name: 'off', usable: false, problem: 'disabled' });
  });

  test('output is sorted by name whatever the input order', () => {
    const specs = ['d', 'a', 'c', 'b'].map((n, i) => eip(n, `192.0.2.${i}`, { createdAt: T(10 - i) }));
    expect(buildPools(specs).map((p) => p.spec.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(buildPools([...specs].reverse())).toEqual(buildPools(specs));
  });
});

describe('poolFor', () => {
  const pools = buildPools([
    eip('v4', '192.0.2.0/24', { createdAt: T(1) }),
    eip('v6', '2001:db8::/64', { createdAt: T(1) }),
    eip('shadow', '192.0.2.128/25', { createdAt: T(2) }),
    eip('off', '198.51.100.0/24', { disable: true }),
  ]);
  test.each([
    ['192.0.2.1', 'v4'],
    ['192.0.2.200', 'v4'], // also in the newer, unusable "shadow": the usable pool wins
    ['192.0.2.0', 'v4'], // network address: in the pool as written (poolHolds says it is not usable)
    ['198.51.100.5', 'off'],
    ['2001:db8::', 'v6'],
    ['2001:db8::ffff:ffff:ffff:ffff', 'v6'],
    ['2001:db8:0:1::', undefined],
    ['203.0.113.1', undefined],
    ['::c000:201', undefined], // the IPv6 address with 192.0.2.1's number is not in the IPv4 pool
  ])('%s -> %p', (addr, name) => {
    expect(poolFor(pools, ip(addr))?.spec.name).toBe(name);
  });
});

describe('namespace binding', () => {
  const labels = { team: 'a', env: 'prod' };
  test.each([
    // title, spec fields, bound to ns "web" with labels {team: a, env: prod}, available to it
    ['{}', {}, false, true],
    ["{ namespaces: ['web'] }", { namespaces: ['web'] }, true, true],
    ["{ namespaces: ['other'] }", { namespaces: ['other'] }, false, false],
    ['{ namespaces: [] }', { namespaces: [] }, false, true], // an empty list binds nothing
    ["{ namespaceSelector: { team: 'a' } }", { namespaceSelector: { team: 'a' } }, true, true],
    ["{ namespaceSelector: { team: 'a', env: 'prod' } }", { namespaceSelector: { team: 'a', env: 'prod' } }, true, true],
    ["{ namespaceSelector: { team: 'a', env: 'dev' } }", { namespaceSelector: { team: 'a', env: 'dev' } }, false, false], // matchLabels: all pairs
    ["{ namespaceSelector: { team: 'b' } }", { namespaceSelector: { team: 'b' } }, false, false],
    ['{ namespaceSelector: {} }', { namespaceSelector: {} }, true, true], // empty selector matches every namespace (Kubernetes, OpenELB)
    ["{ namespaces: ['other'], namespaceSelector: { team: 'a' } }", { namespaces: ['other'], namespaceSelector: { team: 'a' } }, true, true], // either binds
    ["{ namespaces: ['other'], isDefault: true }", { namespaces: ['other'], isDefault: true }, false, true], // the default pool serves every namespace
  ] as const)('%s', (_, extra, bound, available) => {
    const spec = eip('p', '192.0.2.0/24', extra as Partial<PoolSpec>);
    expect(boundTo(spec, 'web', labels)).toBe(bound);
    expect(availableTo(spec, 'web', labels)).toBe(available);
  });
});

describe('ageRank', () => {
  test.each([
    ['2026-01-01T00:00:00Z', Date.UTC(2026, 0, 1)],
    ['2026-01-01t00:00:00z', Date.UTC(2026, 0, 1)],
    ['2026-01-01T01:00:00+01:00', Date.UTC(2026, 0, 1)],
    ['2025-12-31T19:00:00-05:00', Date.UTC(2026, 0, 1)],
    ['2026-01-01T00:00:00.5Z', Date.UTC(2026, 0, 1) + 500],
    ['2026-11-27T08:00:00.123456Z', Date.UTC(2026, 10, 27, 8) + 123], // MicroTime: six digits
    ['', -Infinity],
    ['2026-01-01', -Infinity], // no time: not RFC 3339
    ['Jan 1 2026 00:00:00', -Infinity], // engine-specific formats would depend on the local time zone
    ['2026-13-01T00:00:00Z', -Infinity],
  ])('%p', (text, want) => {
    expect(ageRank(text)).toBe(want);
  });

  test('the API server\'s own form, read without a parse, ranks as Date.parse does (10,000 random stamps and the edges)', () => {
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const two = (n: number) => String(n).padStart(2, '0');
    const stamps = ['1970-01-01T00:00:00Z', '2026-02-28T23:59:59Z', '2026-02-29T00:00:00Z', '2028-02-29T12:00:00Z', '2026-04-31T00:00:00Z', '2026-12-31T23:59:60Z', '2026-00-10T00:00:00Z', '0099-01-01T00:00:00Z', '2026-1a-01T00:00:00Z'];
    for (let i = 0; i < 10_000; i++) stamps.push(`${1970 + next(130)}-${two(1 + next(12))}-${two(1 + next(31))}T${two(next(24))}:${two(next(60))}:${two(next(60))}Z`);
    for (const t of stamps) {
      const parsed = Date.parse(t.replace('Z', '.000Z'));
      expect([t, ageRank(t)]).toEqual([t, Number.isNaN(parsed) ? -Infinity : parsed]);
    }
  });
});

describe('only announceable addresses are handed out', () => {
  const host = {
    subnets: [parseCIDR('192.0.2.1/24')!],
    own: [ip('192.0.2.1'), ip('192.0.2.11')],
    ownedBy: new Map([['192.0.2.1', 'configured on eth0'], ['192.0.2.11', 'InternalIP of node node-1']]),
  };

  test("addresses that belong to hosts are skipped, counted out of the size, and named", () => {
    const [p] = buildPools([eip('lan', '192.0.2.0-192.0.2.255')], host);
    expect(p!.usable).toBe(true);
    expect(p!.size).toBe(256n - 4n);
    expect(p!.skipped.map((s) => formatIP(s.ip))).toEqual(['192.0.2.0', '192.0.2.1', '192.0.2.11', '192.0.2.255']);
    expect(p!.skippedNote).toContain('192.0.2.11 already belongs to a host on the segment (InternalIP of node node-1)');
    expect(poolHolds(p!, ip('192.0.2.11'))).toBe(false);
    expect(poolRefusal(p!, ip('192.0.2.255'))).toBe('192.0.2.255 is the broadcast address of a connected subnet 192.0.2.0/24, skipped by pool lan');
    expect(poolRefusal(p!, ip('192.0.2.12'))).toBeUndefined();
  });

  test('a pool of nothing but host addresses is reported, not half-used', () => {
    const [p] = buildPools([eip('mine', '192.0.2.1')], host);
    expect(p!.usable).toBe(false);
    expect(p!.problem).toContain('every address of 192.0.2.1-192.0.2.1 belongs to a host already');
  });

  test('a range into a fixed block is clipped and says so; one wholly inside or split by one is not usable', () => {
    const [clipped] = buildPools([eip('edge', '223.255.255.250-224.0.0.10')]);
    expect(clipped!.skippedNote).toBe('skips 224.0.0.0/4 (multicast)');
    expect(poolRefusal(clipped!, ip('224.0.0.5'))).toBe('224.0.0.5 is a multicast address, skipped by pool edge');
    const [mc] = buildPools([eip('mc', '224.0.0.0/24')]);
    expect([mc!.usable, mc!.problem]).toEqual([false, 'every address of 224.0.0.1-224.0.0.254 is in 224.0.0.0/4 (multicast)']);
    const [split] = buildPools([eip('split', '126.0.0.0-128.0.0.0')]);
    expect(split!.problem).toContain('spans 127.0.0.0/8 (loopback)');
  });

  test("an IPv6 CIDR does not hand out its subnet-router anycast address; /127 and ranges keep every address", () => {
    const [p] = buildPools([eip('v6', '2001:db8::/120')]);
    expect(poolRefusal(p!, ip('2001:db8::'))).toBe('2001:db8:: is the subnet-router anycast address of pool v6');
    expect(formatIP(buildPools([eip('p2p', '2001:db8::/127')])[0]!.first)).toBe('2001:db8::');
  });
});
