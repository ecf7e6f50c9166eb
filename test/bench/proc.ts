/**
 * What /proc says about a process: CPU time (whole process and per thread), resident memory, and finding a
 * process by its command line. /proc follows the PID namespace, not the network namespace, so these work
 * from inside `ip netns exec` too.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime/stime (USER_HZ): 100 on every Linux ABI Bun and Deno run on. */
export const CLOCK_TICKS = 100;

/** CPU time of one task, in clock ticks. */
export interface TaskCpu {
  tid: number;
  /** The thread's name (`comm`), e.g. the runtime's name for a Worker thread. */
  comm: string;
  ticks: number;
  /** From schedstat: ns on a CPU, ns runnable but waiting for one (contention). */
  runNs: number;
  waitNs: number;
  /** Switches away while still runnable (preempted), from the task's status. */
  involuntarySwitches: number;
}

/** A CPU-time snapshot of a process: the total and each thread. */
export interface CpuSnapshot {
  /** process.hrtime.bigint() when taken, in ns. */
  at: bigint;
  ticks: number;
  threads: TaskCpu[];
}

/** utime + stime (fields 14 and 15) of a `stat` line; the name may contain spaces and parentheses. */
function parseStat(text: string): { comm: string; ticks: number } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return { comm: text.slice(open + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** The process's CPU ticks so far, total and per thread. Throws when the process is gone. */
export function cpuSnapshot(pid: number): CpuSnapshot {
  const at = process.hrtime.bigint();
  const total = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks;
  const threads: TaskCpu[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const dir = `/proc/${pid}/task/${tid}`;
      const s = parseStat(readFileSync(`${dir}/stat`, 'utf8'));
      const [runNs, waitNs] = readFileSync(`${dir}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const inv = /^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`${dir}/status`, 'utf8'));
      threads.push({ tid: Number(tid), comm: s.comm, ticks: s.ticks, runNs: runNs!, waitNs: waitNs!, involuntarySwitches: Number(inv?.[1] ?? 0) });
    } catch {
      // the thread ended between readdir and read
    }
  }
  return { at, ticks: total, threads };
}

/** CPU use between two snapshots. */
export interface CpuUse {
  /** Percent of one core used by the whole process (can exceed 100 with several busy threads). */
  percent: number;
  /** The same from schedstat (ns precision, summed over threads): the figure to compare across processes. */
  runPercent: number;
  /** Per thread, busiest first; threads that used no CPU are left out. */
  threads: ThreadUse[];
}

/** One thread's use of the CPU between two snapshots. */
export interface ThreadUse {
  tid: number;
  comm: string;
  /** From utime + stime ticks, percent of one core. */
  percent: number;
  /** From schedstat (ns precision): percent of the interval on a CPU, and runnable but waiting for one. */
  runPercent: number;
  waitPercent: number;
  involuntarySwitches: number;
}

/** CPU percent of one core between `a` and `b` (clock-tick resolution: 10 ms per tick). */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const seconds = Number(b.at - a.at) / 1e9;
  const pct = (ticks: number) => (seconds > 0 ? (ticks / CLOCK_TICKS / seconds) * 100 : NaN);
  const ns = Number(b.at - a.at);
  const before = new Map(a.threads.map((t) => [t.tid, t]));
  const zero: TaskCpu = { tid: 0, comm: '', ticks: 0, runNs: 0, waitNs: 0, involuntarySwitches: 0 };
  const all = b.threads
    .map((t): ThreadUse => {
      const o = before.get(t.tid) ?? zero;
      return {
        tid: t.tid,
        comm: t.comm,
        percent: pct(t.ticks - o.ticks),
        runPercent: ns > 0 ? ((t.runNs - o.runNs) / ns) * 100 : NaN,
        waitPercent: ns > 0 ? ((t.waitNs - o.waitNs) / ns) * 100 : NaN,
        involuntarySwitches: t.involuntarySwitches - o.involuntarySwitches,
      };
    });
  const runPercent = all.reduce((sum, t) => sum + t.runPercent, 0);
  const threads = all.filter((t) => t.runPercent > 0.1 || t.percent > 0).sort((x, y) => y.runPercent - x.runPercent);
  return { percent: pct(b.ticks - a.ticks), runPercent, threads };
}

/** VmRSS of a process in KiB (threads share one address space, so this is the whole process). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** The argv of a process, or undefined when it is gone or unreadable. */
function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** Pids (other than this process) whose argv contains an argument that includes `needle`. */
export function findPids(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (cmdline(pid)?.some((a) => a.includes(needle))) out.push(pid);
  }
  return out;
}

/** Machine-wide CPU time (the `cpu` line of /proc/stat), in clock ticks summed over all CPUs. */
export interface MachineCpu {
  at: bigint;
  cpus: number;
  busy: number;
  idle: number;
  softirq: number;
  steal: number;
}

/** A snapshot of the machine's CPU time. */
export function machineSnapshot(): MachineCpu {
  const at = process.hrtime.bigint();
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const cpus = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length;
  return { at, cpus, busy: user! + nice! + system! + irq! + softirq!, idle: idle! + iowait!, softirq: softirq!, steal: steal! };
}

/** Machine CPU use between two snapshots, in percent of one core (a 2-core machine tops out at 200). */
export interface MachineUse {
  busyPercent: number;
  idlePercent: number;
  softirqPercent: number;
  /** Time the hypervisor ran something else while we wanted the CPU. */
  stealPercent: number;
}

/** Machine CPU use between `a` and `b`. */
export function machineBetween(a: MachineCpu, b: MachineCpu): MachineUse {
  const seconds = Number(b.at - a.at) / 1e9;
  const pct = (ticks: number) => (seconds > 0 ? (ticks / CLOCK_TICKS / seconds) * 100 : NaN);
  // Busy as "not idle": idle time is tracked exactly on tickless kernels, busy time only by tick sampling
  // (measured here: the sampled busy figure came out below what one busy-looping process alone used).
  const idlePercent = pct(b.idle - a.idle);
  return { busyPercent: a.cpus * 100 - idlePercent, idlePercent, softirqPercent: pct(b.softirq - a.softirq), stealPercent: pct(b.steal - a.steal) };
}
