/**
 * Structured logging: one line per record, JSON (for collectors) or text (for people), to stderr.
 */

/** Severity of a record; a logger drops records below its level. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Extra data attached to a record. */
export type LogFields = Record<string, unknown>;

/** A logger; `child` returns one that adds `fields` to every record. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** Changes the level of this logger and every child of it, from the next record on (a config reload). */
  setLevel(level: LogLevel): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'text';
  /** Clock for the `time` field; tests pin it. */
  now?: () => Date;
  /**
   * Sees every record, whatever the level, before it is filtered (the event history, `history.ts`). It must
   * not throw; if it does, the record is still written.
   */
  tap?: (level: LogLevel, msg: string, fields: LogFields, time: Date) => void;
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys every JSON record starts with; fields of the same name are renamed `fields.<key>`. */
const RESERVED: ReadonlySet<string> = new Set(['level', 'time', 'msg']);

/**
 * A copy of `value` that JSON.stringify accepts and renders usefully: bigint as a string, Error as
 * {message, name} (+ code, for system errors), a cycle as "[Circular]".
 */
function plain(value: unknown, ancestors: object[] = []): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) {
    const code = (value as Error & { code?: unknown }).code;
    return code === undefined ? { message: value.message, name: value.name } : { message: value.message, name: value.name, code };
  }
  if (ancestors.includes(value)) return '[Circular]';
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return plain(toJSON.call(value), ancestors);
  const inner = [...ancestors, value];
  if (Array.isArray(value)) return value.map((element) => plain(element, inner));
  const copy: Record<string, unknown> = {};
  for (const [key, element] of Object.entries(value)) copy[key] = plain(element, inner);
  return copy;
}

/** {@link plain} that never throws, because a log call must not take the caller down. */
export function safePlain(value: unknown): unknown {
  try {
    return plain(value);
  } catch (error) {
    // Only a throwing getter or toJSON gets here.
    return `[unserializable: ${error instanceof Error ? error.message : String(error)}]`;
  }
}

function jsonLine(level: LogLevel, time: Date, msg: string, fields: LogFields): string {
  const record: LogFields = { level, time: time.toISOString(), msg };
  for (const [key, value] of Object.entries(fields)) record[RESERVED.has(key) ? `fields.${key}` : key] = safePlain(value);
  return JSON.stringify(record);
}

/** A text value: bare when it is one harmless word, JSON-quoted otherwise. */
function textValue(value: unknown): string {
  if (value instanceof Error) return textValue(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'undefined';
  return textValue(JSON.stringify(safePlain(value)) ?? String(value));
}

function textLine(level: LogLevel, time: Date, msg: string, fields: LogFields): string {
  // Newlines in a message would break the one-record-per-line promise.
  const parts = [time.toISOString(), level.toUpperCase().padEnd(5), msg.replace(/\r?\n/g, '\\n')];
  for (const [key, value] of Object.entries(fields)) parts.push(`${key}=${textValue(value)}`);
  return parts.join(' ');
}

function writeStderr(line: string): void {
  // console.error writes straight to stderr in both Bun and Deno, with no formatting of a string.
  console.error(line);
}

/**
 * A logger writing records at or above `opts.level` through `write` (one line, no newline).
 *
 * JSON: `{"level":"info","time":"2026-11-27T09:00:00.000Z","msg":"…",…fields}`.
 * Text: `2026-11-27T09:00:00.000Z INFO  msg key=value key2="quoted value"`.
 */
export function createLogger(opts: LoggerOptions, write: (line: string) => void = writeStderr): Logger {
  // Shared by every child, so a reload's new level reaches the parts that hold one.
  const state = { minimum: SEVERITY[opts.level] };
  const now = opts.now ?? (() => new Date());
  const format = opts.format === 'text' ? textLine : jsonLine;
  const make = (bound: LogFields): Logger => {
    const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      const tapped = opts.tap !== undefined;
      if (SEVERITY[level] < state.minimum && !tapped) return;
      const time = now();
      const all = fields ? { ...bound, ...fields } : bound;
      if (tapped) {
        try {
          opts.tap!(level, msg, all, time);
        } catch {
          // The history is a view; losing one event must not lose the log line.
        }
      }
      if (SEVERITY[level] < state.minimum) return;
      write(format(level, time, msg, all));
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (fields) => make({ ...bound, ...fields }),
      setLevel: (level) => {
        state.minimum = SEVERITY[level];
      },
    };
  };
  return make({});
}
