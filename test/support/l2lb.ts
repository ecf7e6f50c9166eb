/**
 * Runs an l2lb process (the compiled binary by default) inside a network namespace for end-to-end tests and
 * talks to its admin API with curl from inside that namespace, as a user would.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sh, spawnIn, waitFor } from './netns.ts';
import { tempDir } from './tmp.ts';

export const ROOT = resolve(import.meta.dir, '../..');
export const BINARY = join(ROOT, 'dist/l2lb');
export const BUN = join(ROOT, 'node_modules/.bin/bun');
export const DENO = join(ROOT, 'node_modules/.bin/deno');

/**
 * Builds dist/l2lb unless it is already there (`npm test` builds it first). With `binary`, that file instead
 * (a test that runs another build, e.g. `L2LBTEST_BINARY`): it must exist.
 */
export function ensureBinary(binary?: string): string {
  if (binary !== undefined) {
    if (!existsSync(binary)) throw new Error(`no l2lb binary at ${binary}`);
    return binary;
  }
  if (!existsSync(BINARY)) sh([BUN, 'run', 'build'], {});
  return BINARY;
}

export interface Running {
  dir: string;
  /** The process's pid (the binary's own, as `ip netns exec` and `sh -c exec` replace themselves). */
  pid: number;
  port: number;
  token: string;
  logs(): string;
  api(method: string, path: string, body?: unknown): { status: number; json: any; text: string };
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT). */
  signal(signal: NodeJS.Signals): void;
}

let nextPort = 19470;

/** Starts l2lb in `ns` with the given config object (written to a YAML/JSON file) and waits until /readyz is 200. */
export async function startL2lb(ns: string, config: Record<string, unknown>, opts: { command?: string[]; binary?: string; dir?: string; env?: Record<string, string>; waitReady?: boolean } = {}): Promise<Running> {
  const dir = opts.dir ?? tempDir('l2lb-e2e-');
  const port = nextPort++;
  const token = 'e2e-token';
  const cfg = { api: { listen: `127.0.0.1:${port}`, token }, stateFile: join(dir, 'state.json'), log: { level: 'debug', format: 'json' }, ...config };
  // A test may put the API elsewhere: the helpers below follow it (0.0.0.0 is reached on loopback).
  const api0 = cfg.api as { listen: string; token?: string };
  const origin = `http://${api0.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
  const bearer = api0.token ?? token;
  const file = join(dir, 'l2lb.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  const cmd = [...(opts.command ?? [ensureBinary(opts.binary)]), '--config', file];
  const proc = spawnIn(ns, cmd, { env: opts.env ?? {}, stdout: 'pipe' });
  let out = '';
  const collect = async (stream: ReadableStream<Uint8Array> | null | undefined | number) => {
    if (!stream || typeof stream === 'number') return;
    const dec = new TextDecoder();
    for await (const chunk of stream) out += dec.decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const api = (method: string, path: string, body?: unknown) => {
    const args = ['curl', '-s', '-m', '5', '-o', '-', '-w', '\n%{http_code}', '-X', method, '-H', `Authorization: Bearer ${bearer}`];
    if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
    args.push(`${origin}${path}`);
    const r = sh(args, { ns, check: false });
    const nl = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, nl);
    const status = Number(r.stdout.slice(nl + 1)) || 0;
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status, json, text };
  };
  const running: Running = {
    dir, port, token, api, pid: proc.pid,
    logs: () => out,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      // A stopped process would never see the signal that ends it.
      if (signal !== 'SIGKILL') proc.kill('SIGCONT');
      return await proc.exited;
    },
    signal(signal) {
      proc.kill(signal);
    },
  };
  try {
    const want = opts.waitReady === false ? [200, 503] : [200];
    await waitFor('l2lb /readyz', () => proc.exitCode === null && want.includes(api('GET', '/readyz').status), 15000, 100);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nexit: ${proc.exitCode}\nlogs:\n${out}`);
  }
  return running;
}

/** Writes a file (helper for tests that prepare a state file). */
export function writeFile(path: string, text: string): void {
  writeFileSync(path, text);
}
