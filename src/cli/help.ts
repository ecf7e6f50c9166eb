/**
 * The help texts of l2lb's commands: `l2lb --help` and `l2lb COMMAND --help` for `run` and `check-config`,
 * each ending with what the exit status means. `status` keeps its own text beside its parser (status.ts,
 * loaded only for that command, so it is not imported here). Plain strings, no work at import time.
 */
import pkg from '../../package.json' with { type: 'json' };

/** What l2lb's exit status means, for every command but `status` (its own list is in its text). */
export const EXIT_STATUS = `Exit status:
  0  done: the config is valid (check-config), or the process was stopped by SIGTERM or SIGINT (run)
  1  runtime failure: e.g. no CAP_NET_RAW, the API address taken, an unexpected error (see the log)
  2  bad config or usage: an unknown argument, a config value refused (the message names the key and
     the fix), an address or interface the config names that cannot be used
`;

const ENVIRONMENT = `The config file may also be given as L2LB_CONFIG. Every key can be set by an environment variable:
L2LB_ + the key path in upper case with '_' between levels and words (api.listen -> L2LB_API_LISTEN).
Lists and objects are JSON. See README.md for every key.
`;

/** `l2lb --help`. */
export const MAIN_USAGE = `l2lb ${pkg.version} — Layer 2 load balancer: answers ARP/NDP for virtual IPs

Usage:
  l2lb [run] [--config PATH]            run (standalone mode by default; no file needed)
  l2lb check-config [--config PATH] [--json]
                                        print the effective config (secrets masked); exit 0 if valid, 2 if not
  l2lb status [--api URL] [--json] [--watch [SECONDS]]
                                        show the running l2lb's addresses, nodes, pools and last events
  l2lb --version                        print version, git commit, build date, runtime and target
  l2lb [COMMAND] --help                 this text, or the help of one command

${ENVIRONMENT}
${EXIT_STATUS}`;

/** `l2lb run --help`. */
export const RUN_USAGE = `Usage:
  l2lb [run] [--config PATH]

Answers ARP and IPv6 Neighbor Solicitations for the configured virtual IPs (standalone mode) or for the
addresses of LoadBalancer Services (mode: kubernetes) and serves the admin API, until SIGTERM or SIGINT.
SIGHUP reads the config again and applies what changed. With no file and no L2LB_* variables it runs the
built-in defaults: standalone mode on the interface of the default route, admin API on 127.0.0.1:9470.

  --config PATH, -c PATH   the config file (YAML, or JSON if it ends in .json); default: L2LB_CONFIG
  --help, -h               this text

Needs CAP_NET_RAW (AF_PACKET sockets); without it the process exits 1 saying how to grant it. It writes
only its log (stderr) and, in standalone mode, the state file (stateFile, default
/var/lib/l2lb/state.json; "" keeps no state).

${ENVIRONMENT}
${EXIT_STATUS}`;

/** `l2lb check-config --help`. */
export const CHECK_CONFIG_USAGE = `Usage:
  l2lb check-config [--config PATH] [--json]

Reads the config file and the L2LB_* environment as \`l2lb run\` would, and prints the effective config with
where each value came from (default, file, environment); secrets are masked. Opens no socket and needs no
privilege, so it can run before a deployment or in CI.

  --config PATH, -c PATH   the config file (YAML, or JSON if it ends in .json); default: L2LB_CONFIG
  --json                   print JSON instead of YAML
  --help, -h               this text

${ENVIRONMENT}
${EXIT_STATUS}`;

/** The help text for `command` (undefined: l2lb itself). */
export function helpText(command?: 'run' | 'check-config'): string {
  if (command === 'run') return RUN_USAGE;
  if (command === 'check-config') return CHECK_CONFIG_USAGE;
  return MAIN_USAGE;
}
