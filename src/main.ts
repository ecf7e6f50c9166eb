/**
 * l2lb's command line: `l2lb [run]`, `l2lb check-config`, `l2lb status`, `--version`, `--help`.
 * Exit status: 0 fine, 1 runtime failure (e.g. no CAP_NET_RAW), 2 bad config or usage.
 */
import pkg from '../package.json' with { type: 'json' };
import { ConfigError, formatConfig, loadConfig } from './config/load.ts';
import { createLogger } from './log.ts';
import { History } from './history.ts';
import { App, ReloadError, StartError } from './app.ts';
import { PermissionError } from './link/errors.ts';
import { onSignal } from './runtime/index.ts';
import { reexecWithHeapTarget } from './runtime/heap.ts';
import { MAIN_USAGE, helpText } from './cli/help.ts';
import { versionLine } from './version.ts';

interface Args {
  command: 'run' | 'check-config' | 'status' | 'version';
  /** `--help` anywhere: the help of the command named (or of l2lb itself, when none was). */
  help: boolean;
  /** Whether a command was named (`l2lb run --help` is the help of `run`, `l2lb --help` is l2lb's). */
  named: boolean;
  config?: string;
  json: boolean;
  /** `status`: the arguments after it, which it parses itself (src/cli/status.ts). */
  rest?: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { command: 'run', help: false, named: false, json: false };
  let commandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--version' || a === '-v') args.command = 'version';
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--json') args.json = true;
    else if (a === '--config' || a === '-c') {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${a} needs a path`);
      args.config = next;
    } else if (a.startsWith('--config=')) args.config = a.slice('--config='.length);
    else if (!commandSeen && (a === 'run' || a === 'check-config')) {
      args.command = a;
      commandSeen = args.named = true;
    } else if (!commandSeen && a === 'status') {
      args.command = a;
      args.named = true;
      args.rest = argv.slice(i + 1);
      break;
    } else throw new UsageError(`unknown argument "${a}"`);
  }
  return args;
}

class UsageError extends Error {}

function env(): Record<string, string | undefined> {
  return { ...process.env };
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`l2lb: ${(err as Error).message}\n\n${MAIN_USAGE}`);
    return 2;
  }
  if (args.command === 'version') {
    process.stdout.write(versionLine());
    return 0;
  }
  if (args.help && args.command !== 'status') {
    process.stdout.write(helpText(args.named ? args.command : undefined));
    return 0;
  }
  if (args.command === 'status') {
    // Loaded only for this command (a lazy chunk in the binary); `--config`/`--json` before `status` count too.
    const { statusCommand } = await import('./cli/status.ts');
    const before = [...(args.config !== undefined ? ['--config', args.config] : []), ...(args.json ? ['--json'] : [])];
    return await statusCommand([...before, ...(args.help ? ['--help'] : []), ...args.rest!], { env: env(), stdout: process.stdout, stderr: process.stderr });
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file: args.config, env: env() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args.command === 'check-config') {
    process.stdout.write(formatConfig(loaded, args.json ? 'json' : 'yaml'));
    return 0;
  }

  // Before anything starts: the engine's heap target can only be set by executing again (runtime/heap.ts).
  reexecWithHeapTarget();
  const history = new History();
  const log = createLogger({ ...loaded.config.log, tap: (level, msg, fields, time) => history.record(level, msg, fields, time) });
  const app = new App(loaded.config, log, pkg.version, history);
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => {});
    if (err instanceof PermissionError) {
      log.error(err.message);
      return 1;
    }
    if (err instanceof StartError) {
      log.error(err.message);
      return err.exitCode;
    }
    log.error('startup failed', { error: (err as Error).message });
    return 1;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      void app.stop().finally(resolve);
    };
    onSignal('SIGTERM', () => stop('SIGTERM'));
    onSignal('SIGINT', () => stop('SIGINT'));
    // A terminal hang-up or `systemctl reload`: read the config again and apply what changed.
    onSignal('SIGHUP', () => {
      if (!stopping) reload(app, args, log);
    });
  });
  return 0;
}

/**
 * Reads the config file and the environment again, validates the whole, and hands it to the running
 * process; a bad config is logged with the same messages as at start and changes nothing.
 */
function reload(app: App, args: Args, log: ReturnType<typeof createLogger>): void {
  let next: ReturnType<typeof loadConfig>;
  try {
    next = loadConfig({ file: args.config, env: env() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error('config reload refused: the running config stays in force', { problems: err.message.split('\n') });
    return;
  }
  try {
    app.reload(next.config);
  } catch (err) {
    if (!(err instanceof ReloadError)) throw err;
    log.error('config reload refused: the running config stays in force', { problems: [err.message] });
  }
}

const code = await main(process.argv.slice(2));
process.exit(code);
