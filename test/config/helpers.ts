/**
 * Shared helpers for the config tests: temporary config files and catching ConfigError.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type ConfigIssue } from '../../src/config/load.ts';

/** A temporary directory for config files; `cleanup()` removes it. */
export function tempDir(): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-config-test-'));
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn`, which must throw a ConfigError, and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** The issues of loading with this file text (if any) and env. */
export function loadIssues(opts: { file?: string; env?: Record<string, string> }): ConfigIssue[] {
  return configError(() => loadConfig({ file: opts.file, env: opts.env ?? {} })).issues;
}
