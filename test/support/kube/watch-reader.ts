/**
 * Reads a Kubernetes watch stream (chunked JSON lines) for tests: one event at a time, with a timeout, and
 * tells a clean end of stream from a connection error.
 */

/** One watch line. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  // The object is JSON from the wire (see KubeObject in standin.ts).
  object: { metadata: { name?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: any };
}

/** What {@link WatchReader.next} can return besides an event. */
export type WatchEnd = { end: 'done' } | { end: 'error'; error: Error } | { end: 'timeout' };

/** A watch opened with fetch. */
export class WatchReader {
  readonly status: number;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | undefined;

  private constructor(res: Response) {
    this.status = res.status;
    if (!res.body) throw new Error('watch response has no body');
    this.reader = res.body.getReader();
  }

  /** Opens a watch; `fetcher` performs the request (with TLS and credentials). */
  static async open(fetcher: () => Promise<Response>): Promise<WatchReader> {
    return new WatchReader(await fetcher());
  }

  /** The next event, or how the stream ended, or a timeout (the stream stays usable after a timeout). */
  async next(timeoutMs = 3000): Promise<WatchEvent | WatchEnd> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim()) return JSON.parse(line) as WatchEvent;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return { end: 'timeout' };
      // a read that timed out stays pending and is picked up by the next call
      this.pending ??= this.reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), left);
      });
      let r: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>> | 'timeout';
      try {
        r = await Promise.race([this.pending, timeout]);
      } catch (err) {
        this.pending = undefined;
        return { end: 'error', error: err as Error };
      } finally {
        clearTimeout(timer);
      }
      if (r === 'timeout') return { end: 'timeout' };
      this.pending = undefined;
      if (r.done) return { end: 'done' };
      this.buffer += this.decoder.decode(r.value, { stream: true });
    }
  }

  /** Collects events until `n` arrived (throws on end/timeout). */
  async take(n: number, timeoutMs = 3000): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    while (out.length < n) {
      const ev = await this.next(timeoutMs);
      if ('end' in ev) throw new Error(`watch ended (${ev.end}) after ${out.length} of ${n} events`);
      out.push(ev);
    }
    return out;
  }

  /** Closes the stream from the client side. */
  async close(): Promise<void> {
    try {
      await this.reader.cancel();
    } catch {
      // already closed
    }
  }
}
