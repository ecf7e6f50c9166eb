import { describe, expect, test } from 'bun:test';
import { type AllocationResult, type Namespace, type ServiceClaim, allocate, poolUsage } from '../../src/ipam/allocate.ts';
import { type PoolSpec, buildPools } from '../../src/ipam/pool.ts';

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
const eip = (name: string, address: string, extra: Partial<PoolSpec> = {}): PoolSpec =>
  ({ name, source: 'eip', protocol: 'layer2', address, createdAt: T(0), ...extra });
const dflt = (name: string, address: string, extra: Partial<PoolSpec> = {}): PoolSpec => eip(name, address, { isDefault: true, ...extra });

let age = 100;
/** A claim; each call is one second newer than the one before unless createdAt is given. */
function svc(key: string, extra: Partial<ServiceClaim> = {}): ServiceClaim {
  return {
    key,
    namespace: key.split('/')[0]!,
    createdAt: T(age++),
    families: [4],
    familyPolicy: 'SingleStack',
    current: [],
    requested: [],
    ports: [{ port: 80, protocol: 'TCP' }],
    ...extra,
  };
}

/** Allocates and shows each Service's addresses ("ip@pool") or its reason. */
function run(specs: PoolSpec[], claims: ServiceClaim[], namespaces: Namespace[] = []): Record<string, string[] | string> {
  const r = allocate(buildPools(specs), namespaces, claims);
  return Object.fromEntries([...r].map(([k, v]) => [k, show(v)]));
}
function show(v: AllocationResult): string[] | string {
  if (!v.ok) return v.reason;
  const a = v.addresses.map((x) => `${x.ip}@${x.pool}`);
  return v.partial ? [...a, `partial: ${v.partial}`] : a;
}

describe('dynamic allocation', () => {
  test('lowest free address first, oldest Service first, then full', () => {
    const claims = [svc('ns/c', { createdAt: T(3) }), svc('ns/a', { createdAt: T(1) }), svc('ns/b', { createdAt: T(2) })];
    expect(run([dflt('p', '192.0.2.10-192.0.2.11')], claims)).toEqual({
      'ns/a': ['192.0.2.10@p'],
      'ns/b': ['192.0.2.11@p'],
      'ns/c': 'pool p is full (2/2)',
    });
  });

  test.each([
    ['/32', '192.0.2.7/32', ['192.0.2.7'], 'pool p is full (1/1)'],
    ['/31', '192.0.2.6/31', ['192.0.2.6', '192.0.2.7'], 'pool p is full (2/2)'],
    ['/30 skips .4 and .7', '192.0.2.4/30', ['192.0.2.5', '192.0.2.6'], 'pool p is full (2/2)'],
    ['/29 skips .0 and .7', '192.0.2.0/29', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6'], 'pool p is full (6/6)'],
    ['range to the last unicast IPv4 address', '223.255.255.254-223.255.255.255', ['223.255.255.254', '223.255.255.255'], 'pool p is full (2/2)'],
    ['range into multicast: clipped', '223.255.255.255-224.0.0.1', ['223.255.255.255'], 'pool p is full (1/1)'],
    ['IPv6 /127', '2001:db8::/127', ['2001:db8::', '2001:db8::1'], 'pool p is full (2/2)'],
    ['IPv6 /126 skips its subnet-router anycast address', '2001:db8::/126', ['2001:db8::1', '2001:db8::2', '2001:db8::3'], 'pool p is full (3/3)'],
    ['range to the last unicast IPv6 address', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      ['feff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], 'pool p is full (2/2)'],
  ])('%s: fills exactly the usable addresses', (_, address, want, full) => {
    const family = address.includes(':') ? 6 : 4;
    const claims = [...want, 'one too many'].map((_, i) => svc(`ns/s${i}`, { createdAt: T(i), families: [family] }));
    const r = run([dflt('p', address)], claims);
    expect(Object.values(r)).toEqual([...want.map((ip) => [`${ip}@p`]), full]);
  });

  test('IPv6 /64: exact size and no scan (half a million addresses held below the free one)', () => {
    const pools = buildPools([dflt('v6', '2001:db8::/64')]);
    expect(pools[0]!.size).toBe(2n ** 64n - 1n); // less the subnet-router anycast address
    const claims: ServiceClaim[] = [svc('ns/held', { createdAt: T(0), families: [6], current: ['2001:db8::ffff:ffff:ffff:ffff'] })];
    for (let i = 0; i < 3; i++) claims.push(svc(`ns/new${i}`, { createdAt: T(10 + i), families: [6] }));
    const r = allocate(pools, [], claims);
    expect([...r.values()].map(show)).toEqual([
      ['2001:db8::ffff:ffff:ffff:ffff@v6'], ['2001:db8::1@v6'], ['2001:db8::2@v6'], ['2001:db8::3@v6'],
    ]);
    const u = poolUsage(pools, r).get('v6')!;
    expect(u.size).toBe(18446744073709551615n);
    expect(u.free).toBe(18446744073709551611n);
    expect([u.firstIP, u.lastIP]).toEqual(['2001:db8::1', '2001:db8::ffff:ffff:ffff:ffff']);
  });

  test('a nearly full /16 does not make allocation scan the pool', () => {
    // 60,000 of the 65,534 addresses held; 3,000 new Services. A linear scan per allocation would do
    // ~10^8 steps here and take many seconds; the cursor takes one sort and one walk.
    const pools = buildPools([dflt('big', '198.18.0.0/16')]);
    const claims: ServiceClaim[] = [];
    for (let i = 0; i < 63_000; i++) {
      const v = 1 + Math.floor((i * 65_533) / 60_000);
      claims.push(svc(`ns/s${i}`, { createdAt: T(i), current: i < 60_000 ? [`198.18.${v >> 8}.${v & 255}`] : [] }));
    }
    const t = performance.now();
    const r = allocate(pools, [], claims);
    const ms = performance.now() - t;
    expect([...r.values()].filter((x) => !x.ok)).toEqual([]);
    expect(poolUsage(pools, r).get('big')!.used).toBe(63_000);
    expect(ms).toBeLessThan(3_000); // typically ~0.3 s on the 2-core test machine
  });
});

describe('keeping current addresses', () => {
  test('a Service keeps its address even when a lower one is free', () => {
    expect(run([dflt('p', '192.0.2.0/24')], [svc('ns/a', { current: ['192.0.2.77'] })])).toEqual({ 'ns/a': ['192.0.2.77@p'] });
  });

  test('a newer Service that has an address keeps it against an older one asking for it', () => {
    const r = run([dflt('p', '192.0.2.0/24')], [
      svc('ns/old', { createdAt: T(1), requested: ['192.0.2.9'] }),
      svc('ns/new', { createdAt: T(2), current: ['192.0.2.9'] }),
    ]);
    expect(r).toEqual({ 'ns/old': '192.0.2.9 is used by ns/new without a matching allow-shared-ip key', 'ns/new': ['192.0.2.9@p'] });
  });

  test('of two Services claiming the same current address, the older keeps it', () => {
    const r = run([dflt('p', '192.0.2.8/30')], [
      svc('ns/new', { createdAt: T(2), current: ['192.0.2.9'] }),
      svc('ns/old', { createdAt: T(1), current: ['192.0.2.9'] }),
    ]);
    expect(r).toEqual({ 'ns/old': ['192.0.2.9@p'], 'ns/new': ['192.0.2.10@p'] });
  });

  test.each<[string, PoolSpec[], Partial<ServiceClaim>, string[]]>([
    // Not ours to keep: never in a pool of ours (no pool label), or not announceable at all.
    ['address in no pool, never ours', [dflt('p', '192.0.2.0/30')], { current: ['203.0.113.5'] }, ['192.0.2.1@p']],
    ['an address nobody may announce', [dflt('p', '192.0.2.0/30'), eip('q', '224.0.0.0/24')], { current: ['224.0.0.5'], currentPool: 'q' }, ['192.0.2.1@p']],
    ['another pool named', [dflt('p', '192.0.2.0/30'), eip('q', '198.51.100.0/24')], { current: ['192.0.2.2'], pool: 'q' }, ['198.51.100.1@q']],
    ['another address requested', [dflt('p', '192.0.2.0/29')], { current: ['192.0.2.2'], requested: ['192.0.2.5'] }, ['192.0.2.5@p']],
    ['family no longer wanted', [dflt('p', '192.0.2.0/30'), dflt('p6', '2001:db8::/120')], { current: ['192.0.2.2'], families: [6] }, ['2001:db8::1@p6']],
    ['hostname or junk in status', [dflt('p', '192.0.2.0/30')], { current: ['lb.example.com', ''] }, ['192.0.2.1@p']],
    ['still valid: kept', [dflt('p', '192.0.2.0/30')], { current: ['192.0.2.2'] }, ['192.0.2.2@p']],
    ['in a pool that is neither bound nor default: kept', [dflt('p', '192.0.2.0/30'), eip('q', '198.51.100.0/24')], { current: ['198.51.100.9'] }, ['198.51.100.9@q']],
  ])('%s', (_, specs, extra, want) => {
    expect(run(specs, [svc('ns/a', extra)])).toEqual({ 'ns/a': want });
  });
});

describe('never taking an address away by mistake', () => {
  test.each<[string, PoolSpec[], Partial<ServiceClaim>, string, string]>([
    ['its pool disabled', [dflt('p', '192.0.2.0/30'), eip('off', '198.51.100.0/24', { disable: true })], { current: ['198.51.100.5'], currentPool: 'off' },
      '198.51.100.5@off', 'pool off is disabled: 198.51.100.5 stays with this Service, and no new address comes from the pool'],
    ['its pool deleted (the Service still carries its label)', [dflt('p', '192.0.2.0/30')], { current: ['192.0.2.200'], currentPool: 'gone' },
      '192.0.2.200@gone', 'pool gone no longer exists: 192.0.2.200 stays with this Service until it is deleted or asks for another address or pool'],
    ['its pool edited so that the address is its network address', [dflt('p', '192.0.2.0/30')], { current: ['192.0.2.0'], currentPool: 'p' },
      '192.0.2.0@p', '192.0.2.0 is the network address of pool p now: it stays with this Service'],
    ['its pool bound to another namespace since', [dflt('p', '192.0.2.0/30'), eip('q', '198.51.100.0/24', { namespaces: ['other'] })], { current: ['198.51.100.5'], currentPool: 'q' },
      '198.51.100.5@q', 'pool q is not available to namespace ns any more: 198.51.100.5 stays with this Service'],
    ['a requested address that is a typo', [dflt('p', '192.0.2.0/29')], { current: ['192.0.2.2'], requested: ['192.0.2.1000'] },
      '192.0.2.2@p', '"192.0.2.1000" is not an IP address'],
    ['a requested address in no pool', [dflt('p', '192.0.2.0/29')], { current: ['192.0.2.2'], requested: ['203.0.113.9'] },
      '192.0.2.2@p', '203.0.113.9 is in no pool: the Service keeps 192.0.2.2 until the request can be met'],
    ['a requested address another Service has', [dflt('p', '192.0.2.0/29')], { current: ['192.0.2.2'], requested: ['192.0.2.3'] },
      '192.0.2.2@p', 'the request can be met'],
    ['a named pool that does not exist', [dflt('p', '192.0.2.0/29')], { current: ['192.0.2.2'], pool: 'nope' },
      '192.0.2.2@p', 'pool nope does not exist: the Service keeps 192.0.2.2 until the request can be met'],
    ['a named pool that is full', [dflt('p', '192.0.2.0/29'), eip('q', '198.51.100.1')], { current: ['192.0.2.2'], pool: 'q' },
      '192.0.2.2@p', 'pool q has no free address: the Service keeps 192.0.2.2 until the request can be met'],
  ])('%s: it keeps its address, with a note saying why', (_, specs, extra, addr, note) => {
    const others = extra.requested?.[0] === '192.0.2.3' ? [svc('ns/other', { createdAt: T(0), current: ['192.0.2.3'] })]
      : extra.pool === 'q' ? [svc('ns/other', { createdAt: T(0), current: ['198.51.100.1'] })] : [];
    const r = allocate(buildPools(specs), [], [...others, svc('ns/a', { createdAt: T(5), ...extra })]).get('ns/a')!;
    expect(r.ok && r.addresses.map((a) => `${a.ip}@${a.pool}`)).toEqual([addr]);
    expect(r.ok && r.kept).toContain(note);
  });

  test('a request that can be met moves the Service, and its old address is free for others in the same pass', () => {
    const r = allocate(buildPools([dflt('p', '192.0.2.1-192.0.2.2'), eip('q', '198.51.100.1')]), [], [
      svc('ns/mover', { createdAt: T(1), current: ['192.0.2.1'], pool: 'q' }),
      svc('ns/asker', { createdAt: T(0), requested: ['192.0.2.1'] }),
      svc('ns/new', { createdAt: T(2) }),
    ]);
    expect(r.get('ns/mover')).toEqual({ ok: true, addresses: [{ ip: '198.51.100.1', pool: 'q' }] });
    expect(r.get('ns/asker')).toEqual({ ok: true, addresses: [{ ip: '192.0.2.1', pool: 'p' }] });
    expect(r.get('ns/new')).toEqual({ ok: true, addresses: [{ ip: '192.0.2.2', pool: 'p' }] });
  });

  test('a kept address goes to nobody else while it is kept', () => {
    const r = allocate(buildPools([dflt('p', '192.0.2.0/30'), eip('off', '198.51.100.5', { disable: true })]), [], [
      svc('ns/keeper', { createdAt: T(1), current: ['198.51.100.5'], currentPool: 'off' }),
      svc('ns/asker', { createdAt: T(0), requested: ['198.51.100.5'] }),
    ]);
    expect(r.get('ns/keeper')).toMatchObject({ ok: true, addresses: [{ ip: '198.51.100.5', pool: 'off' }] });
    expect(r.get('ns/asker')).toEqual({ ok: false, reason: 'pool off is disabled' });
  });

  test('one address per family: a second current address of the same family is dropped', () => {
    expect(run([dflt('p', '192.0.2.0/24')], [svc('ns/a', { current: ['192.0.2.9', '192.0.2.8'] })])).toEqual({ 'ns/a': ['192.0.2.9@p'] });
  });
});

describe('requested addresses', () => {
  const pools = [dflt('p', '192.0.2.0/24'), eip('q', '198.51.100.0/24'), eip('off', '203.0.113.0/25', { disable: true }),
    eip('bound', '203.0.113.128/25', { namespaces: ['team'] }), dflt('p6', '2001:db8::/64')];
  test.each<[string, Partial<ServiceClaim>, string[] | string]>([
    ['in a default pool', { requested: ['192.0.2.50'] }, ['192.0.2.50@p']],
    ['in a pool that is neither bound nor default', { requested: ['198.51.100.7'] }, ['198.51.100.7@q']],
    ['comma-separated annotation, one per family', { requested: ['192.0.2.50, 2001:db8::50'], families: [4, 6], familyPolicy: 'RequireDualStack' }, ['192.0.2.50@p', '2001:db8::50@p6']],
    ['non-canonical IPv6 text', { requested: ['2001:DB8:0::0050'], families: [6] }, ['2001:db8::50@p6']],
    ['with the pool it is in', { requested: ['198.51.100.7'], pool: 'q' }, ['198.51.100.7@q']],
    ['in no pool', { requested: ['192.0.3.7'] }, '192.0.3.7 is in no pool'],
    ['not in the pool named', { requested: ['192.0.2.7'], pool: 'q' }, '192.0.2.7 is not in pool q'],
    ['in a disabled pool', { requested: ['203.0.113.7'] }, 'pool off is disabled'],
    ['in a pool bound to another namespace', { requested: ['203.0.113.200'] }, 'pool bound is not available to namespace ns'],
    ['network address', { requested: ['192.0.2.0'] }, '192.0.2.0 is the network address of pool p'],
    ['broadcast address', { requested: ['192.0.2.255'] }, '192.0.2.255 is the broadcast address of pool p'],
    ['not an address', { requested: ['192.0.2.300'] }, '"192.0.2.300" is not an IP address'],
    ['of a family the Service does not have', { requested: ['2001:db8::5'] }, '2001:db8::5 is IPv6 but the Service\'s ipFamilies are IPv4'],
    ['two of one family', { requested: ['192.0.2.5,192.0.2.6'] }, 'more than one IPv4 address requested: 192.0.2.5, 192.0.2.6'],
    ['the same address twice is one', { requested: ['192.0.2.5', '192.0.2.5'] }, ['192.0.2.5@p']],
    ['a multicast address', { requested: ['224.0.0.5'] }, '224.0.0.5 is a multicast address: it cannot be announced'],
    ['the unspecified address (spec.loadBalancerIP: 0.0.0.0)', { requested: ['0.0.0.0'] }, '0.0.0.0 is the unspecified address ("this network"): it cannot be announced'],
    ['an IPv4-mapped IPv6 address', { requested: ['::ffff:192.0.2.5'], families: [6] }, '::ffff:192.0.2.5 is an IPv4-mapped IPv6 address (announce the IPv4 address instead): it cannot be announced'],
    ["an IPv6 CIDR pool's subnet-router anycast address", { requested: ['2001:db8::'], families: [6] }, '2001:db8:: is the subnet-router anycast address of pool p6'],
  ])('%s', (_, extra, want) => {
    expect(run(pools, [svc('ns/a', extra)])['ns/a']).toEqual(want);
  });

  test('in an unusable (overlapping) pool', () => {
    const r = run([dflt('a', '192.0.2.0/25', { createdAt: T(1) }), eip('b', '192.0.2.100-192.0.2.200', { createdAt: T(2) })], [svc('ns/s', { requested: ['192.0.2.150'] })]);
    expect(r['ns/s']).toBe('pool b is not usable: overlaps pool a (older)');
  });

  test('requested addresses go before dynamic ones, oldest first', () => {
    const r = run([dflt('p', '192.0.2.1-192.0.2.3')], [
      svc('ns/dyn', { createdAt: T(1) }),
      svc('ns/req2', { createdAt: T(3), requested: ['192.0.2.1'] }),
      svc('ns/req1', { createdAt: T(2), requested: ['192.0.2.1'] }),
    ]);
    expect(r).toEqual({
      'ns/dyn': ['192.0.2.2@p'],
      'ns/req1': ['192.0.2.1@p'],
      'ns/req2': '192.0.2.1 is used by ns/req1 without a matching allow-shared-ip key',
    });
  });
});

describe('sharing an address', () => {
  const pools = [dflt('p', '192.0.2.0/24')];
  const a = (extra: Partial<ServiceClaim>) => svc('ns/a', { createdAt: T(1), requested: ['192.0.2.7'], ...extra });
  const b = (extra: Partial<ServiceClaim>) => svc('ns/b', { createdAt: T(2), requested: ['192.0.2.7'], ...extra });
  test.each<[string, Partial<ServiceClaim>, Partial<ServiceClaim>, string[] | string]>([
    ['same key, other ports', { sharingKey: 'k', ports: [{ port: 80, protocol: 'TCP' }] }, { sharingKey: 'k', ports: [{ port: 443, protocol: 'TCP' }] }, ['192.0.2.7@p']],
    ['same key, same port, other protocol', { sharingKey: 'k', ports: [{ port: 53, protocol: 'UDP' }] }, { sharingKey: 'k', ports: [{ port: 53, protocol: 'TCP' }] }, ['192.0.2.7@p']],
    ['same key, overlapping port', { sharingKey: 'k', ports: [{ port: 80, protocol: 'TCP' }] }, { sharingKey: 'k', ports: [{ port: 443, protocol: 'TCP' }, { port: 80, protocol: 'TCP' }] },
      '192.0.2.7 is shared with ns/a but port 80/TCP overlaps'],
    ['different keys', { sharingKey: 'k' }, { sharingKey: 'j', ports: [{ port: 81, protocol: 'TCP' }] }, '192.0.2.7 is used by ns/a without a matching allow-shared-ip key'],
    ['only the newer has a key', {}, { sharingKey: 'k', ports: [{ port: 81, protocol: 'TCP' }] }, '192.0.2.7 is used by ns/a without a matching allow-shared-ip key'],
    ['only the older has a key', { sharingKey: 'k' }, { ports: [{ port: 81, protocol: 'TCP' }] }, '192.0.2.7 is used by ns/a without a matching allow-shared-ip key'],
    ['no keys', {}, { ports: [{ port: 81, protocol: 'TCP' }] }, '192.0.2.7 is used by ns/a without a matching allow-shared-ip key'],
    ['an empty key is no key', { sharingKey: '' }, { sharingKey: '', ports: [{ port: 81, protocol: 'TCP' }] }, '192.0.2.7 is used by ns/a without a matching allow-shared-ip key'],
  ])('%s', (_, ea, eb, wantB) => {
    const r = run(pools, [a(ea), b(eb)]);
    expect(r['ns/a']).toEqual(['192.0.2.7@p']);
    expect(r['ns/b']).toEqual(wantB);
  });

  test('a third sharer must be compatible with both', () => {
    const r = run(pools, [
      a({ sharingKey: 'k', ports: [{ port: 80, protocol: 'TCP' }] }),
      b({ sharingKey: 'k', ports: [{ port: 443, protocol: 'TCP' }] }),
      svc('ns/c', { createdAt: T(3), requested: ['192.0.2.7'], sharingKey: 'k', ports: [{ port: 443, protocol: 'TCP' }] }),
    ]);
    expect(r['ns/c']).toBe('192.0.2.7 is shared with ns/b but port 443/TCP overlaps');
  });

  test('sharing is kept across runs (current) and counted once in usage', () => {
    const pools2 = buildPools(pools);
    const claims = [
      svc('ns/a', { createdAt: T(1), current: ['192.0.2.7'], sharingKey: 'k', ports: [{ port: 53, protocol: 'UDP' }] }),
      svc('ns/b', { createdAt: T(2), current: ['192.0.2.7'], sharingKey: 'k', ports: [{ port: 53, protocol: 'TCP' }] }),
    ];
    const r = allocate(pools2, [], claims);
    expect([...r.values()].map(show)).toEqual([['192.0.2.7@p'], ['192.0.2.7@p']]);
    const u = poolUsage(pools2, r).get('p')!;
    expect(u.used).toBe(1);
    expect(u.usedIPs).toEqual({ '192.0.2.7': ['ns/a', 'ns/b'] });
    expect(u.free).toBe(253n);
  });

  test('dynamic allocation never shares: a key alone does not put two Services on one address', () => {
    const r = run([dflt('p', '192.0.2.1-192.0.2.2')], [svc('ns/a', { sharingKey: 'k' }), svc('ns/b', { sharingKey: 'k', ports: [{ port: 81, protocol: 'TCP' }] })]);
    expect(r).toEqual({ 'ns/a': ['192.0.2.1@p'], 'ns/b': ['192.0.2.2@p'] });
  });
});

describe('choosing the pool', () => {
  const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({ name, labels });

  test('namespace-bound pools by priority (lower first), falling through when full, then the default pool', () => {
    const specs = [
      dflt('zz-default', '192.0.2.100-192.0.2.101'),
      eip('p2', '192.0.2.20', { namespaces: ['web'], priority: 2 }),
      eip('p1', '192.0.2.10', { namespaces: ['web'], priority: 1 }),
      eip('p3', '192.0.2.30', { namespaceSelector: { team: 'a' }, priority: 3 }),
    ];
    const claims = [0, 1, 2, 3, 4, 5].map((i) => svc(`web/s${i}`, { createdAt: T(i) }));
    expect(Object.values(run(specs, claims, [ns('web', { team: 'a' })]))).toEqual([
      ['192.0.2.10@p1'], ['192.0.2.20@p2'], ['192.0.2.30@p3'], ['192.0.2.100@zz-default'], ['192.0.2.101@zz-default'],
      'pool p1 is full (1/1), pool p2 is full (1/1), pool p3 is full (1/1), pool zz-default is full (2/2)',
    ]);
  });

  test('priority ties are broken by name; priority defaults to 0 and may be negative', () => {
    const specs = [eip('b', '192.0.2.2', { namespaces: ['web'] }), eip('a', '192.0.2.1', { namespaces: ['web'] }), eip('neg', '192.0.2.3', { namespaces: ['web'], priority: -1 })];
    const claims = [0, 1, 2].map((i) => svc(`web/s${i}`, { createdAt: T(i) }));
    expect(Object.values(run(specs, claims))).toEqual([['192.0.2.3@neg'], ['192.0.2.1@a'], ['192.0.2.2@b']]);
  });

  test('namespace-bound pools come before the default pool whatever their priority', () => {
    const specs = [dflt('d', '192.0.2.1', { priority: -100 }), eip('bound', '192.0.2.2', { namespaces: ['web'], priority: 100 })];
    expect(run(specs, [svc('web/s')])).toEqual({ 'web/s': ['192.0.2.2@bound'] });
  });

  test('namespaceSelector matches labels; other namespaces use the default pool', () => {
    const specs = [dflt('d', '192.0.2.1-192.0.2.9'), eip('sel', '198.51.100.0/24', { namespaceSelector: { team: 'a', env: 'prod' } })];
    const r = run(specs, [svc('a/s'), svc('b/s'), svc('c/s')], [ns('a', { team: 'a', env: 'prod' }), ns('b', { team: 'a' })]);
    expect(r).toEqual({ 'a/s': ['198.51.100.1@sel'], 'b/s': ['192.0.2.1@d'], 'c/s': ['192.0.2.2@d'] });
  });

  test('a pool bound to nothing and not default is used only when asked for', () => {
    const specs = [eip('plain', '192.0.2.0/24')];
    expect(run(specs, [svc('ns/auto'), svc('ns/named', { pool: 'plain' })])).toEqual({
      'ns/auto': 'no pool for namespace ns',
      'ns/named': ['192.0.2.1@plain'],
    });
  });

  test.each<[string, PoolSpec[], Partial<ServiceClaim>, string]>([
    ['no pool at all', [], {}, 'no pool for namespace web'],
    ['only a bound pool of another namespace', [eip('x', '192.0.2.0/24', { namespaces: ['other'] })], {}, 'no pool for namespace web'],
    ['only a disabled default pool', [dflt('d', '192.0.2.0/24', { disable: true })], {}, 'no pool for namespace web'],
    ['IPv6 wanted, only IPv4 pools', [dflt('d', '192.0.2.0/24')], { families: [6] }, 'no IPv6 pool for namespace web'],
    ['IPv4 wanted, only IPv6 pools', [eip('d6', '2001:db8::/64', { namespaces: ['web'] })], {}, 'no IPv4 pool for namespace web'],
    ['named pool does not exist', [dflt('d', '192.0.2.0/24')], { pool: 'nope' }, 'pool nope does not exist'],
    ['named pool is disabled', [eip('off', '192.0.2.0/24', { disable: true })], { pool: 'off' }, 'pool off is disabled'],
    ['named pool is bound to another namespace', [eip('x', '192.0.2.0/24', { namespaces: ['other'] })], { pool: 'x' }, 'pool x is not available to namespace web'],
    ['named pool is full', [eip('one', '192.0.2.1', {})], { pool: 'one', current: [] }, 'pool one is full (1/1)'],
    ['named pool is of the other family', [eip('v6', '2001:db8::/64')], { pool: 'v6' }, 'pool v6 is IPv6 but the Service needs IPv4'],
    ['named pool has an invalid address', [eip('bad', '192.0.2.0/24/1')], { pool: 'bad' }, 'pool bad is not usable: address "192.0.2.0/24/1" is not an IP, CIDR or range'],
  ])('%s', (_, specs, extra, reason) => {
    const claims = [svc('web/s', extra)];
    if (reason === 'pool one is full (1/1)') claims.unshift(svc('web/first', { createdAt: T(0), pool: 'one' }));
    expect(run(specs, claims)['web/s']).toBe(reason);
  });

  test('a named bound pool is available to its namespace; the default pool to everyone', () => {
    const specs = [eip('x', '192.0.2.0/24', { namespaces: ['web'] }), dflt('d', '198.51.100.0/24', { namespaces: ['web'] })];
    expect(run(specs, [svc('web/s', { pool: 'x' }), svc('other/s', { pool: 'd' })])).toEqual({ 'web/s': ['192.0.2.1@x'], 'other/s': ['198.51.100.1@d'] });
  });

  test('several named pools: tried in order, one per family', () => {
    const specs = [eip('a', '192.0.2.1'), eip('b', '192.0.2.2'), eip('v6', '2001:db8::/120')];
    const r = run(specs, [
      svc('ns/s1', { createdAt: T(1), pool: 'a, b' }),
      svc('ns/s2', { createdAt: T(2), pool: 'a,b' }),
      svc('ns/s3', { createdAt: T(3), pool: 'a,b,v6', families: [4, 6], familyPolicy: 'PreferDualStack' }),
    ]);
    expect(r).toEqual({
      'ns/s1': ['192.0.2.1@a'],
      'ns/s2': ['192.0.2.2@b'],
      'ns/s3': ['2001:db8::1@v6', 'partial: pool a is full (1/1), pool b is full (1/1)'],
    });
  });
});

describe('IP families', () => {
  const specs = [dflt('v4', '192.0.2.0/24'), dflt('v6', '2001:db8::/64')];
  test.each<[string, Partial<ServiceClaim>, string[]]>([
    ['SingleStack IPv4 (default families)', { families: [] }, ['192.0.2.1@v4']],
    ['SingleStack IPv6', { families: [6] }, ['2001:db8::1@v6']],
    ['SingleStack takes only the primary family', { families: [6, 4] }, ['2001:db8::1@v6']],
    ['RequireDualStack, IPv4 primary', { families: [4, 6], familyPolicy: 'RequireDualStack' }, ['192.0.2.1@v4', '2001:db8::1@v6']],
    ['PreferDualStack, IPv6 primary', { families: [6, 4], familyPolicy: 'PreferDualStack' }, ['2001:db8::1@v6', '192.0.2.1@v4']],
    ['PreferDualStack on a single-stack Service (ipFamilies has one)', { families: [4], familyPolicy: 'PreferDualStack' }, ['192.0.2.1@v4']],
  ])('%s', (_, extra, want) => {
    expect(run(specs, [svc('ns/s', extra)])['ns/s']).toEqual(want);
  });

  test('PreferDualStack is best effort: one family is enough, with the reason for the other', () => {
    expect(run([dflt('v4', '192.0.2.0/24')], [svc('ns/s', { families: [4, 6], familyPolicy: 'PreferDualStack' })])['ns/s'])
      .toEqual(['192.0.2.1@v4', 'partial: no IPv6 pool for namespace ns']);
  });

  test('PreferDualStack with neither family fails', () => {
    expect(run([], [svc('ns/s', { families: [4, 6], familyPolicy: 'PreferDualStack' })])['ns/s']).toBe('no pool for namespace ns');
  });

  test('PreferDualStack fails when an address it asked for explicitly is not available', () => {
    const r = run(specs, [
      svc('ns/a', { createdAt: T(1), requested: ['192.0.2.9'] }),
      svc('ns/s', { createdAt: T(2), families: [4, 6], familyPolicy: 'PreferDualStack', requested: ['192.0.2.9'] }),
    ]);
    expect(r['ns/s']).toBe('192.0.2.9 is used by ns/a without a matching allow-shared-ip key');
  });

  test('RequireDualStack gets both or nothing: a new one gives back what it took, at once', () => {
    const r = run([dflt('v4', '192.0.2.1'), dflt('v6', '2001:db8::1', { disable: true })], [
      svc('ns/dual', { createdAt: T(1), families: [4, 6], familyPolicy: 'RequireDualStack' }),
      svc('ns/single', { createdAt: T(2) }),
    ]);
    // The reason describes the final state: its IPv4 address went to ns/single, as a replay would see it.
    expect(r).toEqual({ 'ns/dual': 'pool v4 is full (1/1); no IPv6 pool for namespace ns', 'ns/single': ['192.0.2.1@v4'] });
  });

  test('RequireDualStack that has an address keeps it when the other family cannot be had', () => {
    const r = allocate(buildPools([dflt('v4', '192.0.2.1'), dflt('v6', '2001:db8::1', { disable: true })]), [], [
      svc('ns/dual', { createdAt: T(1), current: ['192.0.2.1'], families: [4, 6], familyPolicy: 'RequireDualStack' }),
      svc('ns/single', { createdAt: T(2) }),
    ]);
    expect(r.get('ns/dual')).toEqual({ ok: true, addresses: [{ ip: '192.0.2.1', pool: 'v4' }], kept: 'no IPv6 pool for namespace ns: the Service keeps 192.0.2.1 until the request can be met' });
    expect(r.get('ns/single')).toEqual({ ok: false, reason: 'pool v4 is full (1/1)' });
  });

  test('the reason names every failing family once', () => {
    const r = run([dflt('v4', '192.0.2.1'), dflt('v6', '2001:db8::1')], [
      svc('ns/first', { createdAt: T(1), families: [4, 6], familyPolicy: 'RequireDualStack' }),
      svc('ns/second', { createdAt: T(2), families: [4, 6], familyPolicy: 'RequireDualStack' }),
    ]);
    expect(r['ns/second']).toBe('pool v4 is full (1/1); pool v6 is full (1/1)');
  });
});

describe('determinism', () => {
  const specs = [
    dflt('d', '192.0.2.0/28', { createdAt: T(1) }), eip('b', '192.0.2.8/29', { createdAt: T(2), namespaces: ['x'] }),
    eip('c', '198.51.100.0/29', { namespaces: ['x'], priority: 1 }), dflt('d6', '2001:db8::/124'),
  ];
  const claims = [
    svc('x/a', { createdAt: T(5) }), svc('x/b', { createdAt: T(5) }), svc('y/c', { createdAt: T(4), families: [6, 4], familyPolicy: 'RequireDualStack' }),
    svc('y/d', { createdAt: T(3), requested: ['192.0.2.3'], sharingKey: 'k' }), svc('x/e', { createdAt: T(3), requested: ['192.0.2.3'], sharingKey: 'k', ports: [{ port: 8080, protocol: 'TCP' }] }),
    svc('y/f', { createdAt: 'not a time' }), svc('y/g', { createdAt: '' }),
  ];

  test('input order does not matter; ties on creation time are broken by key; bad timestamps count as oldest', () => {
    const want = run(specs, claims);
    expect(Object.keys(want)).toEqual(['y/g', 'y/f', 'x/e', 'y/d', 'y/c', 'x/a', 'x/b']);
    expect(run([...specs].reverse(), [...claims].reverse())).toEqual(want);
    expect(run([specs[2]!, specs[0]!, specs[3]!, specs[1]!], [claims[3]!, claims[6]!, claims[0]!, claims[5]!, claims[1]!, claims[4]!, claims[2]!])).toEqual(want);
  });

  test('the result fed back as current gives the same result (replay after restart)', () => {
    const pools = buildPools(specs);
    const first = allocate(pools, [], claims);
    const again = allocate(pools, [], claims.map((c) => {
      const r = first.get(c.key)!;
      return { ...c, current: r.ok ? r.addresses.map((a) => a.ip) : [] };
    }));
    expect(again).toEqual(first);
  });

  test('a duplicate key: the oldest claim counts', () => {
    const r = run([dflt('d', '192.0.2.0/24')], [svc('ns/a', { createdAt: T(2), requested: ['192.0.2.9'] }), svc('ns/a', { createdAt: T(1), requested: ['192.0.2.8'] })]);
    expect(r).toEqual({ 'ns/a': ['192.0.2.8@d'] });
  });
});

describe('poolUsage', () => {
  test('counts addresses, lists users, reports every pool including unusable ones', () => {
    const pools = buildPools([dflt('d', '192.0.2.0/29'), eip('off', '198.51.100.0/24', { disable: true }), eip('bad', 'nope')]);
    const r = allocate(pools, [], [svc('ns/b', { createdAt: T(2), requested: ['192.0.2.5'] }), svc('ns/a', { createdAt: T(1) }), svc('ns/c', { requested: ['203.0.113.1'] })]);
    const u = poolUsage(pools, r);
    expect([...u.keys()]).toEqual(['bad', 'd', 'off']);
    expect(u.get('d')).toEqual({ size: 6n, used: 2, usedIPs: { '192.0.2.1': ['ns/a'], '192.0.2.5': ['ns/b'] }, firstIP: '192.0.2.1', lastIP: '192.0.2.6', free: 4n });
    expect(u.get('off')).toEqual({ size: 254n, used: 0, usedIPs: {}, firstIP: '198.51.100.1', lastIP: '198.51.100.254', free: 254n });
    expect(u.get('bad')).toEqual({ size: 0n, used: 0, usedIPs: {}, firstIP: '', lastIP: '', free: 0n });
  });

  test('every address in use is listed once with the keys of its Services sorted', () => {
    const pools = buildPools([dflt('d', '192.0.2.0/24')]);
    const r = allocate(pools, [], [
      svc('ns/z', { current: ['192.0.2.10'], sharingKey: 'k' }), svc('ns/b', { current: ['192.0.2.9'] }),
      svc('ns/a', { current: ['192.0.2.10'], sharingKey: 'k', ports: [{ port: 81, protocol: 'TCP' }] }), svc('ns/c', { current: ['192.0.2.100'] }),
    ]);
    const u = poolUsage(pools, r).get('d')!;
    expect(u.used).toBe(3);
    expect(Object.fromEntries(Object.entries(u.usedIPs).sort())).toEqual({ '192.0.2.10': ['ns/a', 'ns/z'], '192.0.2.100': ['ns/c'], '192.0.2.9': ['ns/b'] });
  });
});

describe('between', () => {
  test('is called between the loops over every claim, and the result is the same without it', () => {
    const specs = [dflt('p', '192.0.2.0/28')];
    const claims = Array.from({ length: 20 }, (_, i) => svc(`ns/s${i}`, i === 3 ? { requested: ['192.0.2.9'] } : {}));
    let calls = 0;
    const seen = allocate(buildPools(specs), [], claims, () => calls++);
    // ordered, prepared; then per round: kept, requested and named pools, allocated, results
    expect(calls).toBeGreaterThanOrEqual(6);
    expect(Object.fromEntries([...seen].map(([k, v]) => [k, show(v)]))).toEqual(run(specs, claims));
  });
});
