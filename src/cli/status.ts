/**
 * `l2lb status`: the state of the local l2lb in a terminal — addresses with their state, node or interface,
 * MAC, age and counters; in Kubernetes mode the nodes and pools; the last events — read from the admin API.
 * `--json` prints the same as one object for scripts, `--watch` redraws until interrupted.
 *
 * Exit status: 0 shown, 1 the API could not be read (one line naming the address tried), 2 bad arguments or
 * an `api.listen` that is no address.
 */
import { ConfigError } from '../config/error.ts';
import { ApiFlagError, type ApiTarget, parseApiFlag, resolveApi } from './api-address.ts';
import { ApiUnreachable, readSnapshot } from './api-client.ts';
import { buildReport, clockTime, renderReport } from './status-format.ts';

/** Usage of the command, also printed for `l2lb status --help`. */
export const STATUS_USAGE = `Usage:
  l2lb status [--api URL] [--config PATH] [--json] [--watch [SECONDS]] [--events N]

Shows the local l2lb's addresses (state, node or interface, MAC, since, requests/replies), in Kubernetes
mode its Services, nodes and pools, and the last events, read from its admin API (reads need no token).

  --api URL          the admin API, e.g. http://127.0.0.1:9470 (default: api.listen from L2LB_API_LISTEN,
                     the config file, or 127.0.0.1:9470)
  --config PATH      the config file to take api.listen from (default: L2LB_CONFIG)
  --json             one JSON object with the same data (with --watch: one line per refresh)
  --watch [SECONDS]  redraw every SECONDS (default 2) until Ctrl-C
  --events N         how many recent events to show (default 10, 0: none)

Exit status: 0 shown, 1 the admin API could not be reached, 2 bad arguments.
`;

/** A bad command line (exit 2). */
export class StatusUsageError extends Error {}

/** The parsed command line of `l2lb status`. */
export interface StatusArgs {
  help: boolean;
  /** Already checked by {@link parseApiFlag}. */
  api?: string;
  config?: string;
  json: boolean;
  /** Seconds between refreshes; absent: show once. */
  watch?: number;
  events: number;
}

/** Seconds between refreshes when `--watch` has no value. */
export const DEFAULT_WATCH_SECONDS = 2;
/** Events shown when `--events` is not given. */
export const DEFAULT_EVENTS = 10;
/** The history keeps at most 500 events (`history.ts`). */
const MAX_EVENTS = 500;

/**
 * Parses the arguments after `status`.
 *
 * @throws StatusUsageError naming the argument and what was expected.
 */
export function parseStatusArgs(argv: string[]): StatusArgs {
  const args: StatusArgs = { help: false, json: false, events: DEFAULT_EVENTS };
  const valueOf = (i: number, flag: string, what: string): string => {
    const next = argv[i];
    if (next === undefined || next.startsWith('-')) throw new StatusUsageError(`${flag} needs ${what}`);
    return next;
  };
  const seconds = (text: string): number => {
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n >= 0.1 && n <= 86_400)) {
      throw new StatusUsageError(`--watch ${JSON.stringify(text)}: expected seconds between refreshes, from 0.1 to 86400, e.g. --watch 2`);
    }
    return n;
  };
  const events = (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) > MAX_EVENTS) throw new StatusUsageError(`--events ${JSON.stringify(text)}: expected a whole number from 0 to ${MAX_EVENTS}`);
    return Number(text);
  };
  const api = (text: string): string => {
    try {
      return parseApiFlag(text);
    } catch (err) {
      if (err instanceof ApiFlagError) throw new StatusUsageError(err.message);
      throw err;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (flag === '--help' || flag === '-h') args.help = true;
    else if (flag === '--json' && inline === undefined) args.json = true;
    else if (flag === '--api') args.api = api(inline ?? valueOf(++i, '--api', 'a URL, e.g. http://127.0.0.1:9470'));
    else if (flag === '--config' || flag === '-c') args.config = inline ?? valueOf(++i, flag, 'a path');
    else if (flag === '--events') args.events = events(inline ?? valueOf(++i, '--events', 'a number'));
    else if (flag === '--watch' || flag === '-w') {
      // The value is optional: `--watch --json` and `--watch` at the end refresh every 2 s.
      if (inline !== undefined) args.watch = seconds(inline);
      else if (argv[i + 1] !== undefined && /^[\d.]+$/.test(argv[i + 1]!)) args.watch = seconds(argv[++i]!);
      else args.watch = DEFAULT_WATCH_SECONDS;
    } else throw new StatusUsageError(`unknown argument "${a}"`);
  }
  return args;
}

/** What the command reads and writes; the real process by default, stand-ins in tests. */
export interface StatusIO {
  env: Record<string, string | undefined>;
  /** `callback` runs once the text is handed to the OS (process.stdout's `write`). */
  stdout: { write(text: string, callback?: (err?: Error | null) => void): unknown; isTTY?: boolean };
  stderr: { write(text: string, callback?: (err?: Error | null) => void): unknown };
  fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
  now?: () => Date;
  /** Resolves after `ms` (tests make it instant). */
  sleep?: (ms: number) => Promise<void>;
  /** Stop `--watch` after this many frames (tests); default: never. */
  maxFrames?: number;
}

/**
 * Writes `text` and waits until it is out: the caller exits the process next, and an exit with output still
 * queued for a pipe cuts it at 64 KiB (`l2lb status --json | jq` of a few thousand VIPs).
 */
function writeOut(stream: StatusIO['stdout'], text: string): Promise<void> {
  // A closed pipe (`| head`) calls back with an error: nothing more can be shown, so it ends the wait too.
  return new Promise<void>((resolve) => void stream.write(text, () => resolve()));
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM is dumb. */
export function useColor(io: Pick<StatusIO, 'env' | 'stdout'>): boolean {
  return io.stdout.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}

/** One frame: the picture (or the JSON) of what the API answers now, or why it could not be read. */
async function frame(target: ApiTarget, args: StatusArgs, io: StatusIO, color: boolean): Promise<{ text: string; error?: string }> {
  const now = io.now ?? (() => new Date());
  try {
    const snap = await readSnapshot(target, { events: args.events, fetch: io.fetch, now });
    const report = buildReport(snap);
    if (args.json) return { text: `${JSON.stringify(report, null, args.watch === undefined ? 2 : undefined)}\n` };
    return { text: renderReport(report, { now: now(), color }) };
  } catch (err) {
    if (!(err instanceof ApiUnreachable)) throw err;
    const at = now();
    const text = args.json
      ? `${JSON.stringify({ api: target.url, at: at.toISOString(), error: err.message })}\n`
      : `${clockTime(at.toISOString(), at)}  ${err.message}\n`;
    return { text, error: err.message };
  }
}

/**
 * Runs `l2lb status` with the arguments after `status`; returns the exit status.
 */
export async function statusCommand(argv: string[], io: StatusIO): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseStatusArgs(argv);
  } catch (err) {
    if (!(err instanceof StatusUsageError)) throw err;
    await writeOut(io.stderr, `l2lb status: ${err.message}\n\n${STATUS_USAGE}`);
    return 2;
  }
  if (args.help) {
    await writeOut(io.stdout, STATUS_USAGE);
    return 0;
  }
  let target: ApiTarget;
  try {
    target = resolveApi({ flag: args.api, configFile: args.config, env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    await writeOut(io.stderr, `${err.message}\n`);
    return 2;
  }
  const color = !args.json && useColor(io);

  if (args.watch === undefined) {
    const f = await frame(target, args, io, color);
    if (f.error !== undefined) {
      await writeOut(io.stderr, `l2lb status: ${f.error}\n`);
      return 1;
    }
    await writeOut(io.stdout, f.text);
    return 0;
  }

  // Watching: a failed read is shown and tried again (the process may be restarting), never an exit.
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const redraw = io.stdout.isTTY === true && !args.json;
  const intervalMs = args.watch * 1000;
  for (let n = 0; io.maxFrames === undefined || n < io.maxFrames; n++) {
    const started = Date.now();
    const f = await frame(target, args, io, color);
    if (redraw) {
      // Home, each line cleared to its end, then the rest of the screen: no flicker of a blank screen.
      const body = f.text.replace(/\n$/, '').split('\n').map((l) => `${l}\x1b[K`).join('\n');
      await writeOut(io.stdout, `\x1b[H${n === 0 ? '\x1b[2J' : ''}${body}\n\x1b[J`);
    } else {
      // Piped: frames one after another, a blank line between pictures (JSON: one object per line).
      // Waiting for the write also keeps a slow reader from piling frames up in memory.
      await writeOut(io.stdout, args.json || n === 0 ? f.text : `\n${f.text}`);
    }
    if (io.maxFrames !== undefined && n + 1 >= io.maxFrames) break;
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  return 0;
}
