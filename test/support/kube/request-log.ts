/**
 * The stand-in's request log read as it grows (append-only JSON lines, `requests.jsonl` in its directory):
 * benches poll it for l2lb's writes, and reading only what was appended keeps the polling off the CPU the
 * measured process needs (the whole log is tens of thousands of lines at scale).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import type { RequestRecord } from './standin.ts';

/** Reads the stand-in's request log as it grows. */
export class LogTail {
  private fd: number | undefined;
  private rest = '';
  readonly records: RequestRecord[] = [];

  /** `offset`: where to start reading (0: from the first request; the file's size: only what comes next). */
  constructor(private readonly path: string, private offset = 0) {}

  /** Reads what was appended since the last call; returns the new records. */
  poll(): RequestRecord[] {
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return [];
      this.fd = openSync(this.path, 'r');
    }
    const out: RequestRecord[] = [];
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      const text = this.rest + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.rest = lines.pop()!;
      for (const line of lines) if (line) out.push(JSON.parse(line) as RequestRecord);
    }
    this.records.push(...out);
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
