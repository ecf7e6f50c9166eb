/**
 * Addresses that must never be announced, end to end against the compiled binary in a namespace whose
 * interface has 192.0.2.1/24 and 2001:db8::1/64: the admin API refuses them with the reason and the VIP
 * table stays as it was; a config naming one exits 2 with the key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { type Pair, createPair, requireRoot, sh } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { tempDir } from '../support/tmp.ts';

const root = requireRoot('e2e addresses');
let pair: Pair;
let l2: Running;

describe.skipIf(!root)('addresses that cannot be announced (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2addr');
    sh(['ip', 'addr', 'add', '192.0.2.1/24', 'dev', pair.ifA], { ns: pair.nsA });
    sh(['ip', 'addr', 'add', '2001:db8::1/64', 'dev', pair.ifA, 'nodad'], { ns: pair.nsA });
    l2 = await startL2lb(pair.nsA, { interfaces: [pair.ifA], vips: [{ ip: '192.0.2.10' }] });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  const refused: [string, RegExp][] = [
    ['0.0.0.0', /unspecified/], ['255.255.255.255', /limited broadcast/], ['224.0.0.1', /multicast/],
    ['ff02::1', /multicast/], ['127.0.0.1', /loopback/], ['::1', /loopback/], ['169.254.1.1', /link-local/],
    ['fe80::10', /link-local/], ['::ffff:192.0.2.10', /IPv4-mapped/], ['240.0.0.1', /reserved/],
    ['192.0.2.1', /belongs to a host on the segment \(configured on l2addr-a\)/],
    ['2001:db8::1', /belongs to a host/],
    ['192.0.2.0', /network address of a connected subnet 192\.0\.2\.0\/24/],
    ['192.0.2.255', /broadcast address of a connected subnet 192\.0\.2\.0\/24/],
  ];

  test('PUT of every kind of address that cannot be announced is a 400 with the reason; nothing changes', () => {
    const before = l2.api('GET', '/v1/vips').json.vips.map((v: { ip: string }) => v.ip);
    for (const [ip, why] of refused) {
      const r = l2.api('PUT', `/v1/vips/${encodeURIComponent(ip)}`, {});
      expect([ip, r.status, r.json?.error]).toEqual([ip, 400, 'not-announceable']);
      expect(r.json.detail).toMatch(why);
      expect(r.json.detail).toContain('cannot be announced');
    }
    expect(l2.api('GET', '/v1/vips').json.vips.map((v: { ip: string }) => v.ip)).toEqual(before);
    // An ordinary address is still accepted, and a /31's ends are ordinary.
    expect(l2.api('PUT', '/v1/vips/192.0.2.11', {}).status).toBe(201);
    expect(l2.api('DELETE', '/v1/vips/192.0.2.11').status).toBe(204);
  });

  test("a config VIP that is the interface's own address or its subnet's broadcast exits 2 naming the key", () => {
    const dir = tempDir('l2lb-addr-');
    for (const [ip, why] of [['192.0.2.1', /configured on l2addr-a/], ['192.0.2.255', /broadcast address/]] as const) {
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ interfaces: [pair.ifA], api: { listen: '127.0.0.1:19999' }, stateFile: '', vips: [{ ip: '192.0.2.10' }, { ip }] }));
      const r = sh(['ip', 'netns', 'exec', pair.nsA, ensureBinary(), '--config', file], { check: false });
      expect([ip, r.code]).toEqual([ip, 2]);
      expect(r.stderr + r.stdout).toContain(`vips[1].ip = \\"${ip}\\"`);
      expect(r.stderr + r.stdout).toMatch(why);
    }
  });

  test('a config VIP in a fixed block is refused by check-config, exit 2, with the key', () => {
    const dir = tempDir('l2lb-addr-');
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ vips: [{ ip: 'ff02::1' }] }));
    const r = sh([ensureBinary(), 'check-config', '--config', file], { check: false });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('vips[0].ip = "ff02::1"');
    expect(r.stderr).toContain('multicast');
  });
});
