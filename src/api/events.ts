/**
 * The event history over HTTP: `GET /v1/history` (JSON, filterable) and `GET /v1/events` (Server-Sent
 * Events, live; `Last-Event-ID` or `?after=` resumes without gaps or duplicates while the ring still holds
 * the events, and says `event: gap` when it does not; `event: ping` every 5 s). Read-only, like every read of the API.
 */
import type { Context, Hono } from 'hono';
import { EVENT_KINDS, type EventKind, type History, type HistoryEvent, type HistoryFilter } from '../history.ts';

/** Streams open at once; more are refused (503) so viewers cannot pile up without end. */
export const MAX_STREAMS = 128;
/** A `ping` event this often keeps a quiet stream open through the server's idle timeout (10 s) and proxies, and shows it alive. */
const KEEPALIVE_MS = 5_000;
/** A client this many events behind is cut off (it reconnects with Last-Event-ID) rather than buffered without end. */
const MAX_BACKLOG = 1_000;

/** An error for the API's error handler (kept apart from `app.ts`'s ApiError to avoid a cycle). */
type Refuse = (status: 400 | 404 | 503, code: string, detail: string) => never;

function integer(raw: string | undefined, what: string, refuse: Refuse): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) refuse(400, 'invalid-query', `${what} must be a non-negative integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

/** The filter of a request's query (`after`, `address`, `node`, `kind`, `limit`). */
function filterOf(c: Context, refuse: Refuse): HistoryFilter {
  const f: HistoryFilter = {};
  const after = integer(c.req.header('last-event-id') ?? c.req.query('after'), 'after (or Last-Event-ID)', refuse);
  if (after !== undefined) f.after = after;
  const limit = integer(c.req.query('limit'), 'limit', refuse);
  if (limit !== undefined) f.limit = limit;
  const kind = c.req.query('kind');
  if (kind !== undefined) {
    if (!(EVENT_KINDS as readonly string[]).includes(kind)) refuse(400, 'invalid-query', `kind must be one of ${EVENT_KINDS.join(', ')}`);
    f.kind = kind as EventKind;
  }
  const address = c.req.query('address');
  if (address) f.address = address;
  const node = c.req.query('node');
  if (node) f.node = node;
  return f;
}

function matches(ev: HistoryEvent, f: HistoryFilter): boolean {
  return (f.kind === undefined || ev.kind === f.kind) && (f.address === undefined || ev.address === f.address) &&
    (f.node === undefined || (ev.nodes?.includes(f.node) ?? false));
}

/** One SSE message. */
function frame(ev: HistoryEvent): string {
  return `id: ${ev.id}\nevent: ${ev.kind}\ndata: ${JSON.stringify(ev)}\n\n`;
}

/** Adds the two routes to `app`; without a history both are 404. */
export function addEventRoutes(app: Hono, history: History | undefined, refuse: Refuse): void {
  app.get('/v1/history', (c) => {
    if (!history) refuse(404, 'not-found', 'no event history in this process');
    const f = filterOf(c, refuse);
    return c.json({ oldest: history!.oldest, newest: history!.newest, events: history!.list({ ...f, limit: f.limit ?? 200 }) });
  });

  app.get('/v1/events', (c) => {
    if (!history) refuse(404, 'not-found', 'no event history in this process');
    if (history!.subscribers >= MAX_STREAMS) refuse(503, 'busy', `${MAX_STREAMS} event streams are open already`);
    const f = filterOf(c, refuse);
    const enc = new TextEncoder();
    let stop = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        const push = (text: string) => ctrl.enqueue(enc.encode(text));
        // Browsers reconnect after this long (ms) and send Last-Event-ID.
        push('retry: 2000\n\n');
        if (f.after !== undefined) {
          const oldest = history!.oldest;
          if (oldest > 0 && f.after < oldest - 1) push(`event: gap\ndata: ${JSON.stringify({ missed: { from: f.after + 1, to: oldest - 1 } })}\n\n`);
          for (const ev of history!.list({ after: f.after })) if (matches(ev, f)) push(frame(ev));
        }
        // Same tick as the replay above: no event can fall between the two.
        const unsubscribe = history!.subscribe((ev) => {
          if (!matches(ev, f)) return;
          if ((ctrl.desiredSize ?? 0) < -MAX_BACKLOG) {
            stop();
            ctrl.close();
            return;
          }
          push(frame(ev));
        });
        // An event, not a comment: a browser's EventSource hides comments, and the page needs to see that a
        // stream that stays open is still alive (a stopped server keeps the connection but sends nothing).
        const timer = setInterval(() => {
          try {
            push(`event: ping\ndata: {"at":"${new Date().toISOString()}"}\n\n`);
          } catch {
            stop();
          }
        }, KEEPALIVE_MS);
        stop = () => {
          unsubscribe();
          clearInterval(timer);
        };
      },
      cancel() {
        stop();
      },
    });
    return new Response(body, {
      headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
    });
  });
}
