import { describe, expect, test } from 'bun:test';
import { DEFAULT_HEAP_TARGET, HEAP_TARGET_ENV, cgroupMemoryLimit, heapTarget, reexecPlan } from '../../src/runtime/heap.ts';

const MiB = 1024 * 1024;
const files = (m: Record<string, string>) => (path: string) => m[path];

describe('cgroupMemoryLimit', () => {
  test('cgroup v2: the own cgroup\'s memory.max; "max" is no limit', () => {
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/sys/fs/cgroup/kubepods/pod1/c1/memory.max': '134217728\n' }))).toBe(128 * MiB);
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': '0::/user.slice\n', '/sys/fs/cgroup/user.slice/memory.max': 'max\n' }))).toBeUndefined();
  });

  test('inside a container (cgroup namespace) the limit is at the mount\'s root', () => {
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': '67108864' }))).toBe(64 * MiB);
    // v1 with the host's path shown but only the container's own cgroup mounted
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': '4:memory:/docker/abc\n0::/\n', '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456' }))).toBe(256 * MiB);
  });

  test('cgroup v1: memory.limit_in_bytes of the memory controller; the page-aligned maximum is no limit', () => {
    const cg = '12:cpu,cpuacct:/x\n4:memory:/process_api/abc\n0::/\n';
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': cg, '/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes': '209715200\n' }))).toBe(200 * MiB);
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': cg, '/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes': '9223372036854771712\n' }))).toBeUndefined();
  });

  test('no /proc or no cgroup files: no limit', () => {
    expect(cgroupMemoryLimit(files({}))).toBeUndefined();
    expect(cgroupMemoryLimit(files({ '/proc/self/cgroup': '0::/a\n' }))).toBeUndefined();
  });
});

describe('heapTarget', () => {
  test('the default without a limit, half a limit below twice the default, never below 16 MiB', () => {
    expect(heapTarget(undefined)).toBe(DEFAULT_HEAP_TARGET);
    expect(heapTarget(1024 * MiB)).toBe(DEFAULT_HEAP_TARGET);
    expect(heapTarget(200 * MiB)).toBe(100 * MiB);
    expect(heapTarget(8 * MiB)).toBe(16 * MiB);
  });
});

describe('reexecPlan', () => {
  const proc = { '/proc/self/cgroup': '0::/\n', '/proc/self/cmdline': 'l2lb\0--config\0/etc/l2lb/config.yaml\0' };

  test('the same command line, the environment plus the target', () => {
    const plan = reexecPlan({ PATH: '/usr/bin', L2LB_LOG_LEVEL: 'debug', GONE: undefined }, files(proc))!;
    expect(plan.argv).toEqual(['l2lb', '--config', '/etc/l2lb/config.yaml']);
    expect(plan.env).toEqual(['PATH=/usr/bin', 'L2LB_LOG_LEVEL=debug', `${HEAP_TARGET_ENV}=${DEFAULT_HEAP_TARGET}`]);
  });

  test('an argument with spaces or an empty argument survives', () => {
    const plan = reexecPlan({}, files({ ...proc, '/proc/self/cmdline': 'l2lb\0--config\0/a b/c.yaml\0\0' }))!;
    expect(plan.argv).toEqual(['l2lb', '--config', '/a b/c.yaml', '']);
  });

  test('nothing to do when the target is set already (an operator\'s choice, or the second start)', () => {
    expect(reexecPlan({ [HEAP_TARGET_ENV]: '0' }, files(proc))).toBeUndefined();
    expect(reexecPlan({ [HEAP_TARGET_ENV]: String(64 * MiB) }, files(proc))).toBeUndefined();
  });

  test('no /proc: runs as it is', () => {
    expect(reexecPlan({}, files({}))).toBeUndefined();
  });
});
