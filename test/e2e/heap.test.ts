/**
 * The heap target end to end (src/runtime/heap.ts): the compiled daemon executes itself again with
 * BUN_JSC_forceRAMSize set — same pid, same command line — and answers as usual; an operator's own value is
 * kept; inside a memory cgroup the target is half the limit.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { type Pair, arpingMacs, createPair, requireRoot, sh } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { DEFAULT_HEAP_TARGET, HEAP_TARGET_ENV } from '../../src/runtime/heap.ts';

setDefaultTimeout(30_000);
const root = requireRoot('e2e heap target');
const VIP = '192.0.2.10';
let pair: Pair;

const environ = (pid: number) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

/**
 * A child memory cgroup of this process's own with `limit`, and the shell lines that mount the hierarchy and
 * join it from inside `ip netns exec` (which mounts a fresh /sys without cgroups, unlike a container); undefined
 * when no memory cgroup can be made here.
 */
function memoryCgroup(name: string, limit: number): { join: string; remove(): void } | undefined {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'))?.split(':')[2];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const path = `${v1 ?? v2}/${name}`.replace(/^\/\//, '/');
  const dir = v1 !== undefined ? `/sys/fs/cgroup/memory${path}` : `/sys/fs/cgroup${path}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${v1 !== undefined ? 'memory.limit_in_bytes' : 'memory.max'}`, String(limit));
  } catch {
    return undefined;
  }
  const join = v1 !== undefined
    ? `mount -t tmpfs none /sys/fs/cgroup && mkdir /sys/fs/cgroup/memory && mount -t cgroup -o memory none /sys/fs/cgroup/memory && echo $$ > /sys/fs/cgroup/memory${path}/cgroup.procs`
    : `mount -t cgroup2 none /sys/fs/cgroup && echo $$ > /sys/fs/cgroup${path}/cgroup.procs`;
  return { join, remove: () => { try { rmdirSync(dir); } catch { /* a process still in it */ } } };
}

describe.skipIf(!root)('heap target (compiled binary)', () => {
  let l2: Running | undefined;

  beforeAll(() => {
    ensureBinary();
    pair = createPair('l2hp');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  const start = (env: Record<string, string> = {}, command?: string[]) =>
    startL2lb(pair.nsA, { interfaces: [pair.ifA], vips: [{ ip: VIP }], announce: { probeCount: 0 } }, { env, command });

  test('the daemon runs with the default target: same pid and command line, and it answers', async () => {
    l2 = await start();
    expect(environ(l2.pid)[HEAP_TARGET_ENV]).toBe(String(DEFAULT_HEAP_TARGET));
    expect(cmdline(l2.pid)).toEqual([ensureBinary(), '--config', `${l2.dir}/l2lb.json`]);
    expect(arpingMacs(pair.nsB, pair.ifB, VIP)).toEqual([pair.macA]);
    await l2.stop();
    l2 = undefined;
  });

  test("an operator's own value is kept (0: the engine's default)", async () => {
    l2 = await start({ [HEAP_TARGET_ENV]: '0' });
    expect(environ(l2.pid)[HEAP_TARGET_ENV]).toBe('0');
    expect(arpingMacs(pair.nsB, pair.ifB, VIP)).toEqual([pair.macA]);
    await l2.stop();
    l2 = undefined;
  });

  test('under a memory limit the target is half of it', async () => {
    const cg = memoryCgroup(`l2lb-heap-${process.pid}`, 200 * 1024 * 1024);
    if (!cg) {
      console.log('heap target: no memory cgroup can be made here; the limit case is skipped');
      return;
    }
    try {
      // The shell joins the cgroup, then becomes l2lb: the limit holds from l2lb's first instruction.
      l2 = await start({}, ['sh', '-c', `${cg.join} && exec "$0" "$@"`, ensureBinary()]);
      expect(environ(l2.pid)[HEAP_TARGET_ENV]).toBe(String(100 * 1024 * 1024));
      expect(arpingMacs(pair.nsB, pair.ifB, VIP)).toEqual([pair.macA]);
      await l2.stop();
      l2 = undefined;
    } finally {
      cg.remove();
    }
  });
});
