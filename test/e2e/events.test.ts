/**
 * The event history of the compiled binary over HTTP, end to end: `curl -N /v1/events` in the namespace sees
 * a VIP added through the API and a conflict on the wire as they happen, a quiet stream outlives the
 * server's 10 s idle timeout (a ping event every 5 s), and a reconnect with Last-Event-ID resumes exactly where
 * the last one stopped. `/v1/history` filters by address.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { type Pair, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';

setDefaultTimeout(60_000);
const root = requireRoot('e2e event history');
let pair: Pair;
let l2: Running;

/** `curl -sN` of the event stream inside namespace A, collecting SSE messages as they arrive. */
function stream(headers: string[] = []) {
  const proc = Bun.spawn(['ip', 'netns', 'exec', pair.nsA, 'curl', '-sN', ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${l2.port}/v1/events`], { stdout: 'pipe', stderr: 'pipe' });
  const messages: { id?: string; event?: string; data?: string; at: number }[] = [];
  let pings = 0;
  void (async () => {
    const dec = new TextDecoder();
    let buf = '';
    for await (const chunk of proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.includes('event: ping')) {
          pings++;
          continue;
        }
        const m: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const x = /^(id|event|data): ?(.*)$/.exec(line);
          if (x) m[x[1]!] = x[2]!;
        }
        if (Object.keys(m).length > 0) messages.push({ ...m, at: Date.now() });
      }
    }
  })();
  return { messages, pings: () => pings, stop: () => proc.kill(), exited: proc.exited };
}

describe.skipIf(!root)('event history over HTTP (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2ev');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA], vips: [],
      announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms', gratuitousCount: 1 },
      log: { level: 'warn', format: 'json' },
    });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('a VIP added through the API reaches a live stream within a second, even with the log level at warn', async () => {
    const s = stream();
    await Bun.sleep(300);
    const t0 = Date.now();
    expect(l2.api('PUT', '/v1/vips/192.0.2.50', { interface: pair.ifA }).status).toBe(201);
    const ev = await waitFor('vip announced on the stream', () => s.messages.find((m) => m.event === 'vip' && JSON.parse(m.data!).msg === 'vip announced'), 2_000, 20);
    expect(ev.at - t0).toBeLessThan(1_000);
    expect(JSON.parse(ev.data!)).toMatchObject({ address: '192.0.2.50', kind: 'vip', level: 'info' });
    s.stop();
  });

  test('a conflict seen on the wire is on the timeline, and /v1/history finds it by address', async () => {
    // B has the address: its kernel answers l2lb's conflict probe.
    sh(['ip', 'addr', 'add', '192.0.2.51/24', 'dev', pair.ifB], { ns: pair.nsB });
    expect(l2.api('PUT', '/v1/vips/192.0.2.51', { interface: pair.ifA }).status).toBe(201);
    const h = await waitFor('the conflict in the history', () => {
      const r = l2.api('GET', '/v1/history?address=192.0.2.51&kind=conflict').json;
      return r?.events?.length > 0 ? r : undefined;
    }, 5_000, 100);
    expect(h.events[0]).toMatchObject({ kind: 'conflict', address: '192.0.2.51' });
    sh(['ip', 'addr', 'del', '192.0.2.51/24', 'dev', pair.ifB], { ns: pair.nsB });
  });

  test('a quiet stream stays open past the server idle timeout; a reconnect with Last-Event-ID resumes with no gap and no duplicate', async () => {
    const s = stream();
    await Bun.sleep(12_000);
    expect(s.pings()).toBeGreaterThanOrEqual(2);
    l2.api('PUT', '/v1/vips/192.0.2.52', { interface: pair.ifA });
    await waitFor('the event on the long-open stream', () => s.messages.some((m) => JSON.parse(m.data ?? '{}').address === '192.0.2.52') || undefined, 2_000, 20);
    const last = s.messages.at(-1)!.id!;
    s.stop();
    // Events while nobody listens, then a reconnect from the last id seen.
    l2.api('PUT', '/v1/vips/192.0.2.53', { interface: pair.ifA });
    l2.api('DELETE', '/v1/vips/192.0.2.52');
    await Bun.sleep(500);
    const all = l2.api('GET', `/v1/history?after=${last}`).json.events.map((e: { id: number }) => String(e.id));
    expect(all.length).toBeGreaterThanOrEqual(2);
    const again = stream([`Last-Event-ID: ${last}`]);
    await waitFor('the missed events replayed', () => again.messages.length >= all.length || undefined, 2_000, 20);
    expect(again.messages.map((m) => m.id)).toEqual(all);
    again.stop();
  });
});
