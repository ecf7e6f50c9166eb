/**
 * The few things that differ between Bun and Deno, behind one surface. Everything else in l2lb uses web
 * standard APIs or `node:` modules, which both runtimes provide.
 */

declare const Deno: {
  version: { deno: string };
  addSignalListener(signal: string, handler: () => void): void;
  serve(opts: {
    hostname: string;
    port: number;
    onListen?: (addr: { port: number }) => void;
    signal?: AbortSignal;
  }, handler: (req: Request) => Response | Promise<Response>): { finished: Promise<void>; addr: { port: number } };
} | undefined;

/** Which runtime runs us; `other` (Node) has no FFI and cannot run the responder. */
export const runtimeName: 'bun' | 'deno' | 'other' =
  typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'other';

/** The runtime's own version, for build info. */
export function runtimeVersion(): string {
  if (typeof Deno !== 'undefined') return Deno.version.deno;
  return typeof Bun !== 'undefined' ? Bun.version : 'unknown';
}

/** Calls `handler` on SIGTERM / SIGINT / SIGHUP (which then no longer ends the process). */
export function onSignal(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', handler: () => void): void {
  if (typeof Deno !== 'undefined') Deno.addSignalListener(signal, handler);
  else process.on(signal, handler);
}

/** A listening HTTP server. */
export interface HttpServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Requests handled at once; more are answered 503 at once rather than queued without end. */
export const MAX_INFLIGHT = 256;
/** The largest request body either server reads (the API's own limits are smaller). */
const MAX_REQUEST_BODY = 64 * 1024;

/** Serves `fetch` on `hostname:port` with the runtime's native server (port 0 picks a free one). */
export async function serveHttp(
  hostname: string,
  port: number,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<HttpServer> {
  let inflight = 0;
  const fetch = async (req: Request): Promise<Response> => {
    if (inflight >= MAX_INFLIGHT) {
      return Response.json({ error: 'busy', detail: `more than ${MAX_INFLIGHT} requests at once: try again` }, { status: 503, headers: { 'Retry-After': '1' } });
    }
    inflight++;
    try {
      return await handler(req);
    } finally {
      inflight--;
    }
  };
  if (typeof Deno !== 'undefined') {
    const abort = new AbortController();
    let resolveListen!: (port: number) => void;
    const listening = new Promise<number>((r) => (resolveListen = r));
    const server = Deno.serve({ hostname, port, signal: abort.signal, onListen: (a) => resolveListen(a.port) }, fetch);
    const bound = await listening;
    return {
      port: bound,
      async stop() {
        abort.abort();
        await server.finished;
      },
    };
  }
  // Idle connections are closed after 10 s, so many idle clients cannot pile up sockets for long.
  const server = Bun.serve({ hostname, port, fetch, idleTimeout: 10, maxRequestBodySize: MAX_REQUEST_BODY });
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };
}

