/**
 * Lists one collection through KubeHttp/KubeClient and prints one JSON line; the same file runs under
 * `bun`, `deno run -A` and as a `bun build --compile` binary.
 * Usage: probe.ts <kubeconfig> <collection path> [inactivityMs]
 * Output: {"ok":true,"names":[…],"resourceVersion":"…"} or {"ok":false,"error":"…","status":401}; with
 * inactivityMs it also watches the (quiet) collection from the list's version and adds "watch":{"end":…,"ms":…}.
 */
import { loadKubeAccess } from '../../src/kube/access.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { KubeHttp } from '../../src/kube/http.ts';

const deno = (globalThis as { Deno?: { args: string[]; env: { toObject(): Record<string, string> } } }).Deno;
const [kubeconfig = '', path = '/api/v1/services', inactivity] = deno ? deno.args : process.argv.slice(2);
const env = deno ? deno.env.toObject() : process.env;

try {
  const client = new KubeClient(new KubeHttp(loadKubeAccess({ kubeconfig, env })));
  const list = await client.list<{ metadata: { name: string; namespace?: string } }>(path);
  const out: Record<string, unknown> = { ok: true, names: list.items.map((i) => i.metadata.name), resourceVersion: list.resourceVersion };
  if (inactivity) {
    const started = performance.now();
    const w = await client.watch(path, { resourceVersion: list.resourceVersion, signal: new AbortController().signal, inactivityMs: Number(inactivity) }, () => undefined);
    out.watch = { end: w.end, ms: Math.round(performance.now() - started) };
  }
  console.log(JSON.stringify(out));
} catch (error) {
  const e = error as Error & { status?: number; code?: string; cause?: unknown };
  console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}`, status: e.status, code: e.code }));
}
