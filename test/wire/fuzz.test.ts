/**
 * Fuzz: random and mutated frames through decodeEthernet + decodeArp / decodeNdp and through the
 * responder's decision (the whole receive path short of the socket). No input may throw, every failure must
 * be a listed DropReason, every frame the responder ignores must say why with a listed IgnoreReason, every
 * reply it builds must decode, and whatever decodes must satisfy the checks it claims. Seeded: a failure
 * prints the seed, the iteration and the frame, and L2LB_FUZZ_SEED=<seed> replays it.
 */
import { expect, test } from 'bun:test';
import { parseIP } from '../../src/net/ip.ts';
import { parseMAC } from '../../src/net/mac.ts';
import { arpProbeFrame, arpReplyFrame, arpRequestFrame, decodeArp, encodeArp, gratuitousArpFrames } from '../../src/wire/arp.ts';
import { DROP_REASONS, type DropReason } from '../../src/wire/decoded.ts';
import { mulberry32 } from '../support/prng.ts';
import { ETHERTYPE_ARP, decodeEthernet } from '../../src/wire/ethernet.ts';
import { dadProbeFrame, decodeNdp, icmpv6Checksum, naReplyFrame, nsRequestFrame, unsolicitedNAFrame } from '../../src/wire/ndp.ts';
import { FIXTURE_NAMES, fixChecksum, fixture, toHex } from './fixtures/fixtures.ts';
import { IGNORE_REASONS, type ResponderState, respond, slotMaps } from '../../src/announce/responder.ts';

/**
 * The responder's view of an interface whose VIPs are the corpus's addresses, in every mode; once with
 * the corpus's own MAC as ours (so our own frames come back), once with another.
 */
function responderStates(): (ResponderState & ReturnType<typeof slotMaps>)[] {
  const ip = (t: string) => parseIP(t)!;
  const mac = parseMAC('02:00:00:00:00:bb')!;
  const slots = [
    { key: '192.0.2.100', ip: ip('192.0.2.100'), mac, mode: 'answer' as const },
    { key: '192.0.2.1', ip: ip('192.0.2.1'), mac, mode: 'probe' as const },
    { key: '192.0.2.10', ip: ip('192.0.2.10'), mac, mode: 'watch' as const },
    { key: '2001:db8::100', ip: ip('2001:db8::100'), mac, mode: 'answer' as const },
    { key: '2001:db8::10', ip: ip('2001:db8::10'), mac, mode: 'probe' as const },
    { key: 'fe80::aa', ip: ip('fe80::aa'), mac, mode: 'watch' as const },
  ];
  return [parseMAC('02:00:00:00:00:aa')!, parseMAC('02:00:00:00:00:cc')!].map((ifMac) => ({ ifMac, ...slotMaps(slots) }));
}

const SEED = Number(process.env.L2LB_FUZZ_SEED ?? 0x2b1f_9e37) >>> 0;
const ITERATIONS = 1_000_000;
const REASONS = new Set<string>(DROP_REASONS);

function corpus(): Uint8Array[] {
  const ip = (t: string) => parseIP(t)!;
  const ours = parseMAC('02:00:00:00:00:aa')!;
  const node = parseMAC('02:00:00:00:00:bb')!;
  const frames: Uint8Array[] = FIXTURE_NAMES.map((n) => fixture(n));
  const request = decodeArp(fixture('arp-request-kernel').subarray(14));
  const ns = decodeNdp(fixture('ns-multicast-kernel').subarray(14));
  if (!request.ok || !ns.ok || ns.value.type !== 135) throw new Error('fixtures do not decode');
  frames.push(
    arpReplyFrame(ours, request.value, node),
    arpProbeFrame(ours, ip('192.0.2.100')),
    arpRequestFrame(ours, ip('192.0.2.1'), ip('192.0.2.100')),
    ...gratuitousArpFrames(ours, node, ip('192.0.2.100')),
    naReplyFrame(ours, ns.value, node, node, ip('fe80::aa')),
    nsRequestFrame(ours, ip('fe80::aa'), ip('2001:db8::100')),
    dadProbeFrame(ours, ip('2001:db8::100'), new Uint8Array([1, 2, 3, 4, 5, 6])),
    dadProbeFrame(ours, ip('2001:db8::100')),
    unsolicitedNAFrame(ours, node, ip('fe80::aa'), ip('2001:db8::100')),
  );
  return frames;
}

test(`${ITERATIONS} random and mutated frames never throw and only drop for listed reasons (seed ${SEED})`, { timeout: 60_000 }, () => {
  const rnd = mulberry32(SEED);
  const below = (n: number) => rnd() % n;
  const seeds = corpus();
  const hits = new Map<string, number>();
  let decodedArp = 0;
  let decodedNdp = 0;
  const states = responderStates();
  const keys = new Set([...states[0]!.v4.values(), ...states[0]!.v6.values()].map((s) => s.key));
  const IGNORED = new Set<string>(IGNORE_REASONS);
  const outcomes = new Map<string, number>();

  const randomBytes = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rnd() & 0xff;
    return b;
  };

  /** One input: random bytes, random bytes dressed as ARP/NDP, or a mutated corpus frame. */
  function generate(): { frame: Uint8Array; how: string } {
    const kind = below(10);
    if (kind === 0) return { frame: randomBytes(below(201)), how: 'random' };
    if (kind === 1) {
      // Random body with a plausible header, so the random bytes reach the deeper checks.
      const f = randomBytes(14 + below(120));
      const v6 = below(2) === 0;
      if (f.length >= 14) f.set(v6 ? [0x86, 0xdd] : [0x08, 0x06], 12);
      if (v6 && f.length >= 14 + 48) {
        f[14] = 0x60;
        f[14 + 4] = 0;
        f[14 + 5] = Math.max(0, f.length - 54 - below(4));
        f[14 + 6] = 58;
        f[14 + 7] = 255;
        f[54] = 135 + below(2);
        f[55] = 0;
        if (below(2) === 0) fixChecksum(f);
      } else if (!v6 && f.length >= 22) {
        f.set([0, 1, 8, 0, 6, 4, 0, 1 + below(2)], 14);
      }
      return { frame: f, how: v6 ? 'random-ipv6' : 'random-arp' };
    }
    const base = seeds[below(seeds.length)]!;
    let f: Uint8Array = base.slice();
    const hows: string[] = [];
    const rounds = 1 + below(3);
    for (let r = 0; r < rounds; r++) {
      switch (below(8)) {
        case 0: { // bit flips
          const flips = 1 + below(8);
          for (let i = 0; i < flips && f.length > 0; i++) f[below(f.length)]! ^= 1 << below(8);
          hows.push('flip');
          break;
        }
        case 1: // truncation
          f = f.slice(0, below(f.length + 1));
          hows.push('truncate');
          break;
        case 2: { // extension with random bytes (padding or junk options)
          const g = new Uint8Array(f.length + 1 + below(40));
          g.set(f);
          g.set(randomBytes(g.length - f.length), f.length);
          f = g;
          hows.push('extend');
          break;
        }
        case 3: // length fields: ARP hlen/plen, IPv6 payload length, the first option length
          if (f.length > 20 && f[12] === 0x08) f[18 + below(2)] = below(3) === 0 ? rnd() & 0xff : [4, 6, 16, 0][below(4)]!;
          else if (f.length > 20) f[18 + below(2)] = rnd() & 0xff;
          if (f.length > 79) f[79] = below(4);
          hows.push('length');
          break;
        case 4: // one random byte anywhere
          if (f.length > 0) f[below(f.length)] = rnd() & 0xff;
          hows.push('byte');
          break;
        case 5: // EtherType from the interesting ones, or anything
          if (f.length >= 14) {
            const t = [0x0806, 0x86dd, 0x0800, 0x8100, 0x88a8, rnd() & 0xffff][below(6)]!;
            f[12] = t >>> 8;
            f[13] = t & 0xff;
          }
          hows.push('ethertype');
          break;
        case 6: { // splice in an option (link-layer address, nonce or unknown) and grow the payload length
          const len = 1 + (below(4) === 0 ? below(3) : 0);
          const opt = randomBytes(len * 8);
          opt[0] = [1, 2, 14, rnd() & 0xff][below(4)]!;
          opt[1] = len;
          const g = new Uint8Array(f.length + opt.length);
          g.set(f);
          g.set(opt, f.length);
          if (g.length >= 20) {
            const pl = Math.max(0, g.length - 54);
            g[18] = pl >>> 8;
            g[19] = pl & 0xff;
          }
          f = g;
          hows.push('option');
          break;
        }
        default: // keep the checksum right so the checks after it run too
          hows.push('fix-checksum');
          break;
      }
    }
    if (below(2) === 0) {
      fixChecksum(f);
      if (!hows.includes('fix-checksum')) hows.push('fix-checksum');
    }
    return { frame: f, how: hows.join('+') };
  }

  const fail = (i: number, how: string, frame: Uint8Array, why: string): never => {
    throw new Error(`fuzz failure (seed ${SEED}, iteration ${i}, ${how}): ${why}\nframe ${toHex(frame)}\nreplay: L2LB_FUZZ_SEED=${SEED} bun test test/wire/fuzz.test.ts`);
  };
  const count = (key: string) => hits.set(key, (hits.get(key) ?? 0) + 1);
  const start = performance.now();

  for (let i = 0; i < ITERATIONS; i++) {
    const { frame, how } = generate();
    try {
      // The responder's decision on the same frame: it never throws and always says what it did and why.
      const o = respond(frame, states[i & 1]!);
      outcomes.set(o.kind === 'ignored' || o.kind === 'drop' ? `${o.kind}:${o.reason}` : o.kind, (outcomes.get(o.kind === 'ignored' || o.kind === 'drop' ? `${o.kind}:${o.reason}` : o.kind) ?? 0) + 1);
      if (o.kind === 'drop' && !REASONS.has(o.reason)) fail(i, how, frame, `responder: unknown drop reason ${o.reason}`);
      if (o.kind === 'ignored' && !IGNORED.has(o.reason)) fail(i, how, frame, `responder: unknown ignore reason ${o.reason}`);
      if (o.kind === 'conflict' && !keys.has(o.vip)) fail(i, how, frame, `responder: conflict on ${o.vip}, not one of ours`);
      if (o.kind === 'reply') {
        const e = decodeEthernet(o.frame);
        const inner = e.ok ? (e.value.etherType === ETHERTYPE_ARP ? decodeArp(e.value.payload) : decodeNdp(e.value.payload)) : e;
        if (!inner.ok) fail(i, how, frame, `responder built a reply that does not decode: ${inner.reason}`);
        if (!keys.has(o.vip) || o.slot.mode !== 'answer') fail(i, how, frame, `responder answered ${o.vip} (${o.slot.mode})`);
      }
      // Also straight into the inner decoders: the worker may hand them payloads directly.
      if ((i & 7) === 0) {
        for (const r of [decodeArp(frame), decodeNdp(frame)]) {
          if (!r.ok && !REASONS.has(r.reason)) fail(i, how, frame, `inner decoder: unknown reason ${r.reason}`);
        }
      }
      const eth = decodeEthernet(frame);
      if (!eth.ok) {
        if (!REASONS.has(eth.reason)) fail(i, how, frame, `unknown reason ${eth.reason}`);
        count(eth.reason);
        continue;
      }
      const payload = eth.value.payload;
      if (eth.value.etherType === ETHERTYPE_ARP) {
        const r = decodeArp(payload);
        if (!r.ok) {
          if (!REASONS.has(r.reason)) fail(i, how, frame, `unknown reason ${r.reason}`);
          count(r.reason);
          continue;
        }
        // What decodes re-encodes to the packet it came from.
        if (toHex(encodeArp(r.value)) !== toHex(payload.subarray(0, 28))) fail(i, how, frame, 'ARP does not round-trip');
        decodedArp++;
      } else {
        const r = decodeNdp(payload);
        if (!r.ok) {
          if (!REASONS.has(r.reason)) fail(i, how, frame, `unknown reason ${r.reason}`);
          count(r.reason);
          continue;
        }
        const m = r.value;
        const end = 40 + ((payload[4]! << 8) | payload[5]!);
        if (icmpv6Checksum(m.src, m.dst, payload.subarray(40, end)) !== 0) fail(i, how, frame, 'accepted a bad checksum');
        if (m.hopLimit !== 255 || m.target.value >> 120n === 0xffn) fail(i, how, frame, 'accepted an invalid NS/NA');
        const lla = m.type === 135 ? m.sourceLLA : m.targetLLA;
        if (lla !== undefined && lla.length !== 6) fail(i, how, frame, 'link-layer address not 6 bytes');
        decodedNdp++;
      }
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('fuzz failure')) throw e;
      fail(i, how, frame, `threw ${e instanceof Error ? e.stack : String(e)}`);
    }
  }

  const ms = performance.now() - start;
  console.log(`fuzz: ${ITERATIONS} frames in ${ms.toFixed(0)} ms, ${decodedArp} ARP and ${decodedNdp} NDP decoded, drops: ${JSON.stringify(Object.fromEntries([...hits].sort()))}`);
  console.log(`fuzz: responder outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
  // It answered, saw conflicts and ignored frames for many reasons: the decision was exercised, not bypassed.
  for (const kind of ['reply', 'conflict', 'ignored:not-a-vip', 'ignored:probing', 'ignored:standby', 'ignored:own-frame']) expect([kind, (outcomes.get(kind) ?? 0) > 0]).toEqual([kind, true]);
  // The generator must reach every check, or "no failures" would mean little.
  const missed = DROP_REASONS.filter((r: DropReason) => !hits.has(r));
  expect(missed).toEqual([]);
  expect(decodedArp).toBeGreaterThan(1000);
  expect(decodedNdp).toBeGreaterThan(1000);
});
