/**
 * Builds the single executable: `bun run build` -> dist/l2lb (Linux x86-64).
 * `bun build/compile.ts --target=bun-linux-arm64 --outfile dist/l2lb-arm64` cross-compiles (the aarch64
 * runtime comes from the npm package @oven/bun-linux-aarch64).
 *
 * The receive worker is a second entry point: a compiled binary only contains the worker if it is named here.
 * Both entries live under src/, so Bun's embedded root is src/ and `new URL('./worker.ts', import.meta.url)`
 * resolves inside the binary (DESIGN: an entry name that shares only a character prefix breaks this).
 *
 * `--splitting`: without it the binary parses the whole bundle at start, @kubernetes/client-node included
 * although standalone mode never imports it (measured: `--version` 130 ms / 51 MB RSS, startup to ready
 * ~200 ms); with it a dynamically imported module stays an unparsed chunk until imported (40 ms / 42 MB,
 * ~105 ms).
 *
 * Build facts for `l2lb --version` (src/version.ts) are written in with `--define`: the git commit (`-dirty`
 * when tracked files differ from it), the commit's time as the build date, and the target. Both can be
 * given instead of read from git, as in a container build without `.git`: `L2LB_COMMIT` and
 * `SOURCE_DATE_EPOCH` (seconds). The date is the commit's, not the clock's, so the same commit compiles to
 * the same bytes (checked: Bun's output differs only by the output file's name, which it embeds).
 */
import { $ } from 'bun';

/** What `l2lb --version` reports about the build. */
export interface BuildFacts {
  /** 12 hex digits of the commit, `-dirty` appended when tracked files changed; `unknown` without git. */
  commit: string;
  /** The commit's time (or SOURCE_DATE_EPOCH) as RFC 3339 UTC; `unknown` without either. */
  date: string;
  /** The commit's time in seconds since the epoch, or undefined. */
  epoch: number | undefined;
}

/** Reads the commit and its time from `L2LB_COMMIT` / `SOURCE_DATE_EPOCH`, else from git in `dir`. */
export async function buildFacts(dir = '.', env: Record<string, string | undefined> = process.env): Promise<BuildFacts> {
  const git = async (...args: string[]) => {
    const r = await $`git -C ${dir} ${args}`.quiet().nothrow();
    return r.exitCode === 0 ? r.stdout.toString().trim() : undefined;
  };
  // A full hash given from outside (a container build's REVISION) is cut like one read from git.
  let commit = env.L2LB_COMMIT?.trim().replace(/^([0-9a-f]{12})[0-9a-f]{28}$/, '$1') || undefined;
  if (commit === undefined) {
    const head = await git('rev-parse', 'HEAD');
    if (head !== undefined) {
      const dirty = (await git('status', '--porcelain', '--untracked-files=no')) ?? '';
      commit = head.slice(0, 12) + (dirty === '' ? '' : '-dirty');
    }
  }
  const epochText = env.SOURCE_DATE_EPOCH?.trim() || (await git('log', '-1', '--format=%ct'));
  const epoch = epochText !== undefined && /^\d+$/.test(epochText) ? Number(epochText) : undefined;
  return {
    commit: commit ?? 'unknown',
    date: epoch === undefined ? 'unknown' : new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    epoch,
  };
}

/** Compiles src/main.ts (and its worker) for `target` into `outfile` with the build facts defined. */
export async function compile(target: string, outfile: string, facts: BuildFacts): Promise<void> {
  const defines = [
    ['L2LB_BUILD_COMMIT', facts.commit],
    ['L2LB_BUILD_DATE', facts.date],
    ['L2LB_BUILD_TARGET', target.replace(/^bun-/, '')],
  ].flatMap(([name, value]) => ['--define', `${name}=${JSON.stringify(value)}`]);
  await $`bun build --compile --splitting --minify-syntax --minify-whitespace --target=${target} ${defines} src/main.ts src/link/worker.ts --outfile ${outfile}`;
}

/**
 * `--target=T` / `--target T` and `--outfile=F` / `--outfile F`; anything else is refused (an ignored
 * `--outfile F` once overwrote dist/l2lb with an arm64 build while tests used it).
 */
export function parseCompileArgs(argv: string[]): { target: string; outfile: string } {
  const out = { target: 'bun-linux-x64', outfile: 'dist/l2lb' };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(target|outfile)(?:=(.*))?$/.exec(argv[i]!);
    const value = m && (m[2] ?? argv[++i]);
    if (!m || !value) throw new Error(`build/compile.ts: unexpected argument "${argv[i - (m ? 1 : 0)]}" (expected --target=bun-linux-x64|bun-linux-arm64, --outfile=PATH)`);
    out[m[1] as 'target' | 'outfile'] = value;
  }
  return out;
}

if (import.meta.main) {
  let parsed: ReturnType<typeof parseCompileArgs>;
  try {
    parsed = parseCompileArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const { target, outfile } = parsed;
  const facts = await buildFacts();
  await compile(target, outfile, facts);
  console.log(`built ${outfile} (${target}, commit ${facts.commit}, ${facts.date})`);
}
