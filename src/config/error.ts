/**
 * Configuration errors: every problem found, each naming the key, the value, what was expected and
 * where the value came from, so a user can fix all of them in one go.
 */

/** One problem with one configuration value. */
export interface ConfigIssue {
  /** Key path: `api.listen`, `vips[2].mac`; empty for problems with a whole source (unreadable file). */
  path: string;
  /** The offending value as given (secrets masked). */
  value: unknown;
  /** What would have been accepted. */
  expected: string;
  /** Where the value came from: `default`, `file /etc/l2lb.yaml`, `env L2LB_API_LISTEN`. */
  source: string;
  /** The complete explanation; usually `expected <expected>`. */
  message: string;
}

/** Key paths whose values are never printed. */
const SECRET_PATHS: ReadonlySet<string> = new Set(['api.token', 'membership.key']);

/** The value of `path` as it may appear in logs and error messages. */
export function maskSecret(path: string, value: unknown): unknown {
  return SECRET_PATHS.has(path) && typeof value === 'string' && value !== '' ? '***' : value;
}

/** Longest rendering of a value in an error line; beyond it the line stops being readable. */
const MAX_VALUE_CHARS = 80;

function renderValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/**
 * One line for an issue:
 * `config: api.listen = "foo:bar" (env L2LB_API_LISTEN): expected host:port, e.g. 127.0.0.1:9470`,
 * or `config: file /etc/l2lb.yaml:3:5: invalid YAML: …` for a problem with a whole source.
 */
export function formatIssue(issue: ConfigIssue): string {
  if (issue.path === '') return `config: ${issue.source}: ${issue.message}`;
  return `config: ${issue.path} = ${renderValue(issue.value)} (${issue.source}): ${issue.message}`;
}

/** Builds an issue whose message is `expected <expected>`, masking secrets. */
export function issue(path: string, value: unknown, expected: string, source: string): ConfigIssue {
  return { path, value: maskSecret(path, value), expected, source, message: `expected ${expected}` };
}

/** Thrown by config loading; `message` has one line per issue. */
export class ConfigError extends Error {
  /** Every problem found, in the order found. */
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
