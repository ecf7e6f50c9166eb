/**
 * Network-namespace fixtures for tests that touch the wire: two namespaces joined by a veth pair,
 * shell helpers, and a way to open sockets inside a namespace from the test process.
 * Tests run under Bun only; everything here shells out to iproute2.
 */
import { closeSync, openSync } from 'node:fs';
import { libc } from '../../src/runtime/ffi.ts';

/** Whether this process runs as root (namespaces, veth and raw sockets need it). */
export const isRoot: boolean = process.getuid?.() === 0;

/** False, after `SKIP <suite>: needs root (network namespaces)` on stderr, when not root. */
export function requireRoot(suite: string): boolean {
  if (isRoot) return true;
  console.warn(`SKIP ${suite}: needs root (network namespaces)`);
  return false;
}

/** Result of {@link sh}. */
export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command (an argv, or a string for `sh -c`), optionally inside namespace `ns`.
 * With `check` (the default) a non-zero exit throws an Error carrying stderr.
 */
export function sh(cmd: string[] | string, opts: { ns?: string; check?: boolean } = {}): ShResult {
  const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
  const full = opts.ns ? ['ip', 'netns', 'exec', opts.ns, ...argv] : argv;
  const r = Bun.spawnSync({ cmd: full, stdout: 'pipe', stderr: 'pipe' });
  const out: ShResult = {
    code: r.exitCode ?? -1,
    stdout: r.stdout.toString(),
    stderr: r.stderr.toString(),
  };
  if ((opts.check ?? true) && out.code !== 0) {
    throw new Error(`command failed (exit ${out.code}): ${full.join(' ')}\n${out.stderr.trim()}`);
  }
  return out;
}

/**
 * arping from namespace `ns` out of `ifname`, one request at a time (iputils arping takes whole seconds as
 * its interval): the MACs that replied, lower case. `waitSeconds` is arping's `-w` for each request.
 */
export function arpingMacs(ns: string, ifname: string, ip: string, opts: { count?: number; waitSeconds?: number } = {}): string[] {
  const macs: string[] = [];
  for (let i = 0; i < (opts.count ?? 1); i++) {
    const r = sh(['arping', '-c', '1', '-w', String(opts.waitSeconds ?? 1), '-I', ifname, ip], { ns, check: false });
    macs.push(...[...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]+)\]/g)].map((m) => m[1]!.toLowerCase()));
  }
  return macs;
}

/** ndisc6 from namespace `ns` out of `ifname` (3 tries, 500 ms each): the target link-layer addresses answered, lower case. */
export function ndiscMacs(ns: string, ifname: string, ip: string): string[] {
  const r = sh(['ndisc6', '-r', '3', '-w', '500', ip, ifname], { ns, check: false });
  return [...r.stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]+)/g)].map((m) => m[1]!.toLowerCase());
}

/** Two namespaces joined by a veth pair. */
export interface Pair {
  prefix: string;
  nsA: string;
  nsB: string;
  /** veth end in nsA. */
  ifA: string;
  /** veth end in nsB. */
  ifB: string;
  macA: string;
  macB: string;
  /** Deletes both namespaces (and with them the veth pair); safe to call twice. */
  destroy(): void;
}

function listNetns(): string[] {
  return sh(['ip', 'netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** Deletes namespaces named `<prefix>-<word>` left behind by an earlier crashed run. */
export function removeLeftovers(prefix: string): void {
  const mine = new RegExp(`^${prefix.replace(/[^a-z0-9]/g, (c) => `\\${c}`)}-[a-z0-9]+$`);
  for (const ns of listNetns()) {
    if (mine.test(ns)) sh(['ip', 'netns', 'del', ns], { check: false });
  }
}

/**
 * Creates namespaces `<prefix>-a` and `<prefix>-b`, joined by veth `<prefix>-a` (in A) and
 * `<prefix>-b` (in B), both up, lo up, IPv6 enabled, with fixed MACs. The prefix (1-13 characters of
 * [a-z0-9-]) must be unique per test file so parallel runs do not collide.
 */
export function createPair(prefix: string, opts: { macA?: string; macB?: string } = {}): Pair {
  if (!/^[a-z0-9][a-z0-9-]{0,12}$/.test(prefix)) {
    throw new Error(`netns prefix must be 1-13 chars of [a-z0-9-] (got ${JSON.stringify(prefix)})`);
  }
  removeLeftovers(prefix);
  const nsA = `${prefix}-a`;
  const nsB = `${prefix}-b`;
  const ifA = `${prefix}-a`;
  const ifB = `${prefix}-b`;
  const macA = opts.macA ?? '02:00:00:00:0a:01';
  const macB = opts.macB ?? '02:00:00:00:0b:01';
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    sh(['ip', 'netns', 'del', nsA], { check: false });
    sh(['ip', 'netns', 'del', nsB], { check: false });
  };
  try {
    sh(['ip', 'netns', 'add', nsA]);
    sh(['ip', 'netns', 'add', nsB]);
    for (const ns of [nsA, nsB]) {
      sh(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0'], { ns });
      sh(['ip', 'link', 'set', 'lo', 'up'], { ns });
    }
    sh(['ip', '-n', nsA, 'link', 'add', ifA, 'address', macA, 'type', 'veth', 'peer', 'name', ifB, 'address', macB, 'netns', nsB]);
    sh(['ip', '-n', nsA, 'link', 'set', ifA, 'up']);
    sh(['ip', '-n', nsB, 'link', 'set', ifB, 'up']);
  } catch (e) {
    destroy();
    throw e;
  }
  return { prefix, nsA, nsB, ifA, ifB, macA, macB, destroy };
}

/** Starts `cmd` inside `ns` (or here when undefined) with extra environment; stderr is piped. */
export function spawnIn(
  ns: string | undefined,
  cmd: string[],
  opts: { env?: Record<string, string>; stdout?: 'pipe' | 'inherit' } = {},
): import('bun').Subprocess {
  const full = ns ? ['ip', 'netns', 'exec', ns, ...cmd] : cmd;
  return Bun.spawn({
    cmd: full,
    env: { ...process.env, ...opts.env },
    stdout: opts.stdout ?? 'pipe',
    stderr: 'pipe',
  });
}

/**
 * Calls `fn` until it returns something other than undefined, null or false, and returns that.
 * Throws `timed out after Nms waiting for <what>` (default 5000 ms, checking every 50 ms).
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await Bun.sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

const CLONE_NEWNET = 0x40000000;

/**
 * Runs `fn` with the calling thread inside namespace `ns`, then returns it to its own namespace.
 * Sockets created inside stay in `ns` for their whole life, so a test can open a PacketSocket in
 * either end of a {@link Pair} without a child process. `fn` must be synchronous: anything awaited
 * would run in the wrong namespace. sysfs and /proc/net keep showing the original namespace (they
 * follow the mount, not the thread); read interface facts in a child process instead.
 */
export function inNetns<T>(ns: string, fn: () => T): T {
  const lib = libc();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(`/run/netns/${ns}`, 'r');
    try {
      if (lib.setns(target, CLONE_NEWNET) !== 0) throw new Error(`setns(${ns}) failed: errno ${lib.errno()}`);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      if (lib.setns(home, CLONE_NEWNET) !== 0) {
        // Continuing in the wrong namespace could send test traffic onto the real network.
        console.error(`FATAL: cannot return from netns ${ns}: errno ${lib.errno()}`);
        process.exit(70);
      }
    }
  } finally {
    closeSync(home);
  }
}

/** Adds an address (`192.0.2.1/24`, `2001:db8::1/64`) to `ifname` in `ns`; IPv6 skips DAD. */
export function addAddress(ns: string, ifname: string, cidr: string): void {
  const extra = cidr.includes(':') ? ['nodad'] : [];
  sh(['ip', 'addr', 'add', cidr, 'dev', ifname, ...extra], { ns });
}
