/**
 * The heap target: the memory size JavaScriptCore plans its garbage collection around.
 *
 * JavaScriptCore lets its heap grow to twice the live size before a full collection for as long as the heap is
 * under a quarter of the machine's RAM (then 1.5x, then 1.24x above half). On a 24 GiB machine that is always
 * 2x, and the receive worker's heap does the same: 10,000 Services and 1,000 Nodes peaked at 237 MiB VmHWM,
 * 157–176 MiB with a 128 MiB target (issue 14, `test/bench/scale.ts`), at the same write pace against a
 * server paced like a real one but with more CPU per write (test/bench/RESULTS.md). A node agent must
 * plan around its own budget, and inside a pod with a memory limit around that limit, which the engine does
 * not read: without this a 128 MiB limit is reached by garbage the engine never hurried to collect.
 *
 * The engine reads its options once, from `BUN_JSC_*` environment variables, before any of our code runs.
 * So the daemon, finding `BUN_JSC_forceRAMSize` unset, sets it and executes itself again: same pid, same
 * arguments (from /proc/self/cmdline); the runtime's own descriptors close on exec (checked: the same set
 * open after as without). It costs one more runtime start: 124 against 90 ms from spawn to "l2lb started"
 * here (medians of 12). A `BUN_JSC_forceRAMSize` already set is left as it is: that is how an operator
 * chooses another target (`0` is the engine's own default, the machine's RAM). Above the target nothing
 * fails: collections only come sooner (100,000 Services: 714 MiB peak instead of 1,181).
 */
import { readFileSync } from 'node:fs';
import { libc } from './ffi.ts';
import { runtimeName } from './index.ts';

/** The engine option, as an environment variable. */
export const HEAP_TARGET_ENV = 'BUN_JSC_forceRAMSize';
/** Without a lower memory limit. */
export const DEFAULT_HEAP_TARGET = 128 * 1024 * 1024;

type Read = (path: string) => string | undefined;

const readOrUndefined: Read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The memory limit of this process's cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`), or undefined when
 * there is none. Inside a container the cgroup namespace shows the container's own at the mount's root.
 */
export function cgroupMemoryLimit(read: Read = readOrUndefined): number | undefined {
  const cgroups = read('/proc/self/cgroup') ?? '';
  const candidates: string[] = [];
  for (const line of cgroups.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    const rel = path === '/' ? '' : path;
    if (controllers === '') candidates.push(`/sys/fs/cgroup${rel}/memory.max`, '/sys/fs/cgroup/memory.max');
    else if (controllers!.split(',').includes('memory')) candidates.push(`/sys/fs/cgroup/memory${rel}/memory.limit_in_bytes`, '/sys/fs/cgroup/memory/memory.limit_in_bytes');
  }
  for (const file of candidates) {
    const text = read(file)?.trim();
    if (text === undefined || text === '') continue;
    if (text === 'max') return undefined;
    const n = Number(text);
    // cgroup v1 says "no limit" with the largest page-aligned 64-bit value.
    if (Number.isSafeInteger(n) && n > 0) return n;
    return undefined;
  }
  return undefined;
}

/** The target for a process under `limit` bytes: half of it (the binary's own pages and the worker need the rest), at most the default. */
export function heapTarget(limit: number | undefined): number {
  return limit === undefined ? DEFAULT_HEAP_TARGET : Math.min(DEFAULT_HEAP_TARGET, Math.max(16 << 20, Math.floor(limit / 2)));
}

/** What to execute again, or undefined when the target is set already or the command line cannot be read. */
export function reexecPlan(env: Record<string, string | undefined>, read: Read = readOrUndefined): { argv: string[]; env: string[] } | undefined {
  if (env[HEAP_TARGET_ENV] !== undefined) return undefined;
  const cmdline = read('/proc/self/cmdline');
  if (!cmdline) return undefined;
  const argv = cmdline.split('\0');
  if (argv.at(-1) === '') argv.pop();
  if (argv.length === 0) return undefined;
  const vars = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  vars.push(`${HEAP_TARGET_ENV}=${heapTarget(cgroupMemoryLimit(read))}`);
  return { argv, env: vars };
}

/** A NULL-terminated array of pointers to NUL-terminated copies of `strings`; `keep` holds the copies alive. */
function cStrings(strings: string[], keep: Uint8Array[]): Uint8Array {
  const table = new BigUint64Array(strings.length + 1);
  const lib = libc();
  const encoder = new TextEncoder();
  strings.forEach((s, i) => {
    const bytes = encoder.encode(`${s}\0`);
    const buf = new Uint8Array(new ArrayBuffer(bytes.length));
    buf.set(bytes);
    keep.push(buf);
    table[i] = lib.addressOf(buf);
  });
  return new Uint8Array(table.buffer);
}

/**
 * Under Bun, when the heap target is not set yet: executes this process again with it set. Returns only when
 * that is not possible (not Bun, no /proc, execve failed), and the process goes on with the engine's default.
 */
export function reexecWithHeapTarget(env: Record<string, string | undefined> = process.env): void {
  if (runtimeName !== 'bun') return;
  const plan = reexecPlan(env);
  if (!plan) return;
  try {
    const keep: Uint8Array[] = [];
    const path = new TextEncoder().encode('/proc/self/exe\0');
    libc().execve(path, cStrings(plan.argv, keep), cStrings(plan.env, keep));
  } catch {
    // No FFI (cannot happen under Bun) or libc refused: run as we are.
  }
}
