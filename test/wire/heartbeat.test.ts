import { expect, test } from 'bun:test';
import { parseMAC } from '../../src/net/mac.ts';
import { mulberry32 } from '../support/prng.ts';
import {
  FLAG_LEADER, HEARTBEAT_DROPS, type Heartbeat, decodeHeartbeat, deploymentId, encodeHeartbeat, vipDigest,
} from '../../src/wire/heartbeat.ts';

const DEP = deploymentId('l2lb-system/l2lb');
const KEY = new TextEncoder().encode('a shared secret');
const SRC = parseMAC('02:00:00:00:00:aa')!;
const hb = (o: Partial<Heartbeat> = {}): Heartbeat => ({
  deployment: DEP, flags: FLAG_LEADER, epoch: 1_764_000_000_000, sequence: 7, term: 3, termHolder: 'l2lb-a',
  identity: 'l2lb-a', priority: 100, interval: 100, misses: 3, vips: vipDigest(['192.0.2.10 02:00:00:00:00:bb']), ...o,
});

test('a heartbeat round-trips, with and without a key', () => {
  for (const key of [undefined, KEY]) {
    const frame = encodeHeartbeat(SRC, hb(), key);
    expect(frame[12]).toBe(0x88);
    expect(frame[13]).toBe(0xb5);
    const d = decodeHeartbeat(frame.subarray(14), DEP, key);
    if (!d.ok) throw new Error(d.reason);
    expect(d.value.identity).toBe('l2lb-a');
    expect(d.value.term).toBe(3);
    expect(d.value.epoch).toBe(1_764_000_000_000);
    expect(d.value.sequence).toBe(7);
    expect(d.value.flags & FLAG_LEADER).toBe(FLAG_LEADER);
  }
});

test('wrong key, missing key, unexpected MAC and another deployment are dropped by reason', () => {
  const signed = encodeHeartbeat(SRC, hb(), KEY).subarray(14);
  const plain = encodeHeartbeat(SRC, hb()).subarray(14);
  const reason = (d: ReturnType<typeof decodeHeartbeat>) => (d.ok ? 'ok' : d.reason);
  expect(reason(decodeHeartbeat(signed, DEP, new TextEncoder().encode('another secret')))).toBe('hb-bad-mac');
  expect(reason(decodeHeartbeat(plain, DEP, KEY))).toBe('hb-unauthenticated');
  expect(reason(decodeHeartbeat(signed, DEP))).toBe('hb-unexpected-auth');
  expect(reason(decodeHeartbeat(signed, deploymentId('other/l2lb'), KEY))).toBe('hb-other-deployment');
  const tampered = signed.slice();
  tampered[24 + 7]! ^= 1; // the term
  expect(reason(decodeHeartbeat(tampered, DEP, KEY))).toBe('hb-bad-mac');
});

test('the VIP digest ignores order and sees any change', () => {
  expect(vipDigest(['a', 'b'])).toEqual(vipDigest(['b', 'a']));
  expect(vipDigest(['a', 'b'])).not.toEqual(vipDigest(['a', 'c']));
});

test('fuzz: mutated and random heartbeats never throw and fail only with listed reasons', () => {
  const next = mulberry32(0x5eed_1234);
  const rnd = () => next() / 2 ** 32;
  const reasons = new Set<string>(HEARTBEAT_DROPS);
  const seeds = [encodeHeartbeat(SRC, hb()).subarray(14), encodeHeartbeat(SRC, hb(), KEY).subarray(14)];
  let ok = 0;
  for (let i = 0; i < 50_000; i++) {
    const base = seeds[i & 1]!;
    let p: Uint8Array;
    if (i % 5 === 0) {
      p = new Uint8Array(Math.floor(rnd() * 200));
      for (let j = 0; j < p.length; j++) p[j] = Math.floor(rnd() * 256);
    } else {
      p = base.slice(0, Math.max(0, base.length - (i % 7 === 0 ? Math.floor(rnd() * 20) : 0)));
      for (let n = Math.floor(rnd() * 4); n > 0; n--) p[Math.floor(rnd() * p.length)] = Math.floor(rnd() * 256);
    }
    const d = decodeHeartbeat(p, DEP, i & 1 ? KEY : undefined);
    if (d.ok) ok++;
    else expect(reasons.has(d.reason)).toBe(true);
  }
  expect(ok).toBeGreaterThan(0);
});
