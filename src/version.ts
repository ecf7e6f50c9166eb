/**
 * What this program is: the version from package.json and, in a compiled binary, the git commit, the build
 * date and the target that build/compile.ts writes in with `bun build --define`. Run from source
 * (`bun src/main.ts`, `deno run src/main.ts`) nothing is defined: the commit and the date read "unknown" and
 * the target "source". No work at import time beyond reading those constants.
 */
import pkg from '../package.json' with { type: 'json' };
import { runtimeName, runtimeVersion } from './runtime/index.ts';

// Replaced by `bun build --define` in build/compile.ts; undeclared (typeof 'undefined') when run from source.
declare const L2LB_BUILD_COMMIT: string | undefined;
declare const L2LB_BUILD_DATE: string | undefined;
declare const L2LB_BUILD_TARGET: string | undefined;

/** The facts `l2lb --version` prints. */
export interface VersionInfo {
  /** From package.json, e.g. `0.1.0`. */
  version: string;
  /** The git commit the binary was built from (`-dirty` when the tree had changes), or `unknown`. */
  commit: string;
  /** When the source was committed, RFC 3339 UTC (the build's SOURCE_DATE_EPOCH), or `unknown`. */
  built: string;
  /** The runtime executing this process, e.g. `bun 1.4.5` or `deno 2.9.6`. */
  runtime: string;
  /** What the binary was compiled for, e.g. `linux-x64`; `source` when not compiled. */
  target: string;
}

/** This program's version, commit, build date, runtime and target. */
export function versionInfo(): VersionInfo {
  return {
    version: pkg.version,
    commit: typeof L2LB_BUILD_COMMIT === 'string' && L2LB_BUILD_COMMIT !== '' ? L2LB_BUILD_COMMIT : 'unknown',
    built: typeof L2LB_BUILD_DATE === 'string' && L2LB_BUILD_DATE !== '' ? L2LB_BUILD_DATE : 'unknown',
    runtime: `${runtimeName} ${runtimeVersion()}`,
    target: typeof L2LB_BUILD_TARGET === 'string' && L2LB_BUILD_TARGET !== '' ? L2LB_BUILD_TARGET : 'source',
  };
}

/**
 * The line `l2lb --version` prints; the version is the second word so `l2lb --version | cut -d' ' -f2` works:
 * `l2lb 0.1.0 (commit 5e9ea3e1f2a3, built 2026-12-07T06:14:00Z, bun 1.4.5, target linux-x64)`.
 */
export function versionLine(info: VersionInfo = versionInfo()): string {
  return `l2lb ${info.version} (commit ${info.commit}, built ${info.built}, ${info.runtime}, target ${info.target})\n`;
}
