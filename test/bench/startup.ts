/**
 * Startup-to-ready of l2lb, run inside l2lb's namespace (its API listens on loopback there):
 * `ip netns exec A bun test/bench/startup.ts '<json>'`. Starts the binary `runs` times, each time measuring
 * from spawn to the first 200 on /readyz (polled every `pollMs`), then stops it with SIGTERM.
 * Prints one JSON object ({@link StartupResult}).
 */

/** Options of a startup run. */
export interface StartupArgs {
  command: string[];
  /** Port of `http://127.0.0.1:<port>/readyz`. */
  port: number;
  runs: number;
  pollMs: number;
  /** Give up on one start after this long. */
  timeoutMs: number;
}

/** Output of a startup run. */
export interface StartupResult {
  /** Spawn to first 200 on /readyz, per start, ms. */
  readyMs: number[];
  /** Exit status after SIGTERM, per start (0 is a clean shutdown). */
  exitCodes: (number | null)[];
}

async function ready(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false; // not listening yet
  }
}

/** Starts and stops the command `runs` times, timing each start. */
export async function measureStartup(a: StartupArgs): Promise<StartupResult> {
  const url = `http://127.0.0.1:${a.port}/readyz`;
  const readyMs: number[] = [];
  const exitCodes: (number | null)[] = [];
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    const proc = Bun.spawn({ cmd: a.command, stdout: 'ignore', stderr: 'pipe' });
    // Read stderr from the start so a chatty child never blocks on a full pipe.
    const stderr = new Response(proc.stderr).text();
    const deadline = t0 + BigInt(a.timeoutMs) * 1_000_000n;
    let ok = false;
    try {
      while (process.hrtime.bigint() < deadline && proc.exitCode === null) {
        if (await ready(url)) {
          ok = true;
          break;
        }
        await Bun.sleep(a.pollMs);
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!ok) {
        proc.kill('SIGKILL');
        await proc.exited;
        const err = await stderr;
        throw new Error(`start ${i + 1}: not ready after ${ms.toFixed(0)} ms (exit ${proc.exitCode})\n${err.slice(-2000)}`);
      }
      readyMs.push(ms);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      exitCodes.push(await proc.exited);
      clearTimeout(timer);
    }
  }
  return { readyMs, exitCodes };
}

if (import.meta.main) {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: startup.ts '<json options>'");
  const result = await measureStartup(JSON.parse(arg) as StartupArgs);
  process.stdout.write(JSON.stringify(result) + '\n');
}
