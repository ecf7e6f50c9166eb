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
 */
import { $ } from 'bun';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

const target = arg('target', 'bun-linux-x64');
const outfile = arg('outfile', 'dist/l2lb');

await $`bun build --compile --splitting --minify-syntax --minify-whitespace --target=${target} src/main.ts src/link/worker.ts --outfile ${outfile}`;
console.log(`built ${outfile} (${target})`);
