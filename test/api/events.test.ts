import { describe, expect, test } from 'bun:test';
import { createApi } from '../../src/api/app.ts';
import { MAX_STREAMS } from '../../src/api/events.ts';
import { History } from '../../src/history.ts';

function api(history?: History) {
  return createApi({
    status: () => ({}),
    ready: () => ({ ready: true, reasons: [] }),
    metrics: () => '',
    vips: { list: () => [], get: () => undefined },
    ...(history ? { history } : {}),
  });
}

/** Reads SSE messages from a streaming response until `n` have arrived (or 2 s pass). */
async function readEvents(res: Response, n: number): Promise<{ id?: string; event?: string; data?: string }[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const out: { id?: string; event?: string; data?: string }[] = [];
  const deadline = Date.now() + 2_000;
  while (out.length < n && Date.now() < deadline) {
    const r = await Promise.race([reader.read(), Bun.sleep(100).then(() => undefined)]);
    if (!r) continue;
    if (r.done) break;
    buf += dec.decode(r.value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const msg: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const m = /^(\w+): ?(.*)$/.exec(line);
        if (m && m[1] !== 'retry') msg[m[1]!] = m[2]!;
      }
      if (Object.keys(msg).length > 0) out.push(msg);
    }
  }
  await reader.cancel();
  return out;
}

const moved = (h: History, n: number) => h.record('warn', 'address moved', { address: `192.0.2.${n}`, from: 'node-1', to: 'node-2', why: 'node-1 missed 3 probes' });

describe('GET /v1/history', () => {
  test('newest events, filtered, with the ids a stream can resume from; bad queries are 400 with the reason', async () => {
    const h = new History(10);
    for (let i = 1; i <= 12; i++) moved(h, i);
    h.record('info', 'vip announced', { vip: '192.0.2.99' });
    const app = api(h);
    const all = await (await app.request('/v1/history')).json();
    expect([all.oldest, all.newest, all.events.length]).toEqual([4, 13, 10]);
    const one = await (await app.request('/v1/history?address=192.0.2.12')).json();
    expect(one.events.map((e: { id: number }) => e.id)).toEqual([12]);
    const vips = await (await app.request('/v1/history?kind=vip&limit=5')).json();
    expect(vips.events).toEqual([expect.objectContaining({ kind: 'vip', address: '192.0.2.99' })]);
    expect((await (await app.request('/v1/history?node=node-2&after=11')).json()).events.map((e: { id: number }) => e.id)).toEqual([12]);
    for (const q of ['kind=nope', 'after=-1', 'limit=abc']) {
      const r = await app.request(`/v1/history?${q}`);
      expect([q, r.status, (await r.json()).error]).toEqual([q, 400, 'invalid-query']);
    }
    expect((await api().request('/v1/history')).status).toBe(404);
    expect((await app.request('/v1/history', { method: 'POST' })).status).toBe(405);
  });
});

describe('GET /v1/events (Server-Sent Events)', () => {
  test('live events as they are recorded, with id and event name', async () => {
    const h = new History();
    const res = await api(h).request('/v1/events');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => {
      moved(h, 1);
      h.record('info', 'vip announced', { vip: '192.0.2.10' });
    }, 20);
    const got = await readEvents(res, 2);
    expect(got.map((m) => [m.id, m.event])).toEqual([['1', 'address'], ['2', 'vip']]);
    expect(JSON.parse(got[0]!.data!)).toMatchObject({ msg: 'address moved', address: '192.0.2.1', nodes: ['node-1', 'node-2'] });
  });

  test('Last-Event-ID resumes with no gap and no duplicate; resuming before the oldest kept says so with a gap event', async () => {
    const h = new History(5);
    for (let i = 1; i <= 3; i++) moved(h, i);
    const app = api(h);
    const resumed = await app.request('/v1/events', { headers: { 'Last-Event-ID': '1' } });
    setTimeout(() => moved(h, 4), 20);
    expect((await readEvents(resumed, 3)).map((m) => m.id)).toEqual(['2', '3', '4']);
    for (let i = 5; i <= 9; i++) moved(h, i);
    const late = await app.request('/v1/events?after=2');
    const got = await readEvents(late, 6);
    expect(got[0]).toMatchObject({ event: 'gap' });
    expect(JSON.parse(got[0]!.data!)).toEqual({ missed: { from: 3, to: 4 } });
    expect(got.slice(1).map((m) => m.id)).toEqual(['5', '6', '7', '8', '9']);
  });

  test('filters apply to the stream; a closed stream unsubscribes; more than MAX_STREAMS at once are refused', async () => {
    const h = new History();
    const app = api(h);
    const res = await app.request('/v1/events?node=node-9');
    setTimeout(() => {
      moved(h, 1);
      h.record('info', 'node probe', { node: 'node-9', state: 'down' });
    }, 20);
    expect((await readEvents(res, 1)).map((m) => m.event)).toEqual(['node']);
    expect(h.subscribers).toBe(0);
    const open = await Promise.all(Array.from({ length: MAX_STREAMS }, () => app.request('/v1/events')));
    expect(h.subscribers).toBe(MAX_STREAMS);
    const refused = await app.request('/v1/events');
    expect([refused.status, (await refused.json()).error]).toEqual([503, 'busy']);
    await Promise.all(open.map((r) => r.body!.cancel()));
    expect(h.subscribers).toBe(0);
  });
});
