/**
 * Durations in the config: a number of milliseconds, or a string with a unit.
 */

/** Milliseconds per unit suffix accepted in duration strings. */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/**
 * Parses a duration into whole milliseconds: `250`, `'250'`, `'250ms'`, `'1s'`, `'1.5s'`, `'2m'`, `'1h'`.
 * A bare number (or numeric string) is milliseconds. The result is rounded to a whole millisecond
 * because timers cannot do better and `1.1s` is not exactly representable.
 *
 * @returns The duration in ms, or undefined for anything else (negative, NaN, unknown unit).
 */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const match = DURATION.exec(input.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Formats milliseconds the way a person would write them in the config: `250ms`, `1.5s`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1_000) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
