/**
 * Temporary directories for tests and benches, removed afterwards so runs do not litter /tmp. Under
 * `bun test` (which fires no process 'exit' event) each is removed after the file or describe block that
 * made it; in a plain script (a bench), when the process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'bun:test';

/**
 * A new directory under the system temp dir, named `<prefix>XXXXXX`, removed when its test scope ends: call it
 * at file level, in a test, or in a describe block's hook — not in a file-level `beforeAll`, where Bun ties the
 * removal to the first describe block.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    afterAll(remove);
  } catch {
    process.once('exit', remove);
  }
  return dir;
}
