/**
 * Environment overrides: every config key has a variable, `L2LB_` + its path in upper snake case
 * (`announce.gratuitousCount` -> `L2LB_ANNOUNCE_GRATUITOUS_COUNT`), derived from the schema.
 */
import { ConfigError, issue, type ConfigIssue } from './error.ts';
import { ConfigSchema } from './schema.ts';
import { configKeys, type ConfigKey } from './shape.ts';
import { closest } from './suggest.ts';

/** Prefix of every l2lb variable. */
export const ENV_PREFIX = 'L2LB_';

/** The variable naming the config file; it is not a key. */
export const CONFIG_FILE_ENV = 'L2LB_CONFIG';

/** A config key with the variable that overrides it. */
export interface EnvKey extends ConfigKey {
  env: string;
}

/** The variable for a key path: `api.tokenFile` -> `L2LB_API_TOKEN_FILE`. */
export function envName(path: string): string {
  return ENV_PREFIX + path.split('.').map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

let table: EnvKey[] | undefined;

/**
 * Every key with its variable, mappings before their children (so `L2LB_API` is applied before
 * `L2LB_API_LISTEN`, which then wins).
 */
export function envTable(): readonly EnvKey[] {
  if (table) return table;
  const keys = configKeys(ConfigSchema).map((key) => ({ ...key, env: envName(key.path) }));
  const names = new Set<string>([CONFIG_FILE_ENV]);
  for (const key of keys) {
    // Two keys mapping to one name would make one of them impossible to set.
    if (names.has(key.env)) throw new Error(`config: two keys map to the environment variable ${key.env}`);
    names.add(key.env);
  }
  table = keys;
  return table;
}

const NUMBER = /^[+-]?\d+(\.\d+)?$/;

/** What a JSON value for `key` should look like, for error messages. */
function jsonExample(key: EnvKey): string {
  return key.kind === 'object' ? 'a JSON object, e.g. {"listen":"127.0.0.1:9470"}' : 'a JSON list, e.g. [{"ip":"192.0.2.10"}]';
}

/**
 * Turns the text of a variable into the value for `key`: JSON for mappings and lists (a string
 * list may be comma-separated instead), numbers where the key takes numbers, otherwise the text.
 * Wrong types are left for the schema to report, with this variable as the source.
 */
function coerce(key: EnvKey, text: string): { value: unknown } | { problem: ConfigIssue } {
  if (key.kind === 'scalar') {
    const t = text.trim();
    if (key.acceptsBoolean && (t === 'true' || t === 'false')) return { value: t === 'true' };
    return { value: key.acceptsNumber && NUMBER.test(t) ? Number(text) : text };
  }
  const trimmed = text.trim();
  if (key.stringList && !trimmed.startsWith('[')) {
    return { value: trimmed === '' ? [] : trimmed.split(',').map((part) => part.trim()) };
  }
  try {
    return { value: JSON.parse(trimmed) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const expected = key.stringList ? `${jsonExample(key)} or a comma-separated list` : jsonExample(key);
    const problem = issue(key.path, text, expected, `env ${key.env}`);
    problem.message = `${problem.message} (${reason})`;
    return { problem };
  }
}

function setPath(target: Record<string, unknown>, segments: string[], value: unknown): void {
  let node = target;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[segments[segments.length - 1]!] = value;
}

/** What {@link readEnv} found: the values and their variables, and the problems. */
export interface EnvReading {
  /** A nested partial config. */
  values: Record<string, unknown>;
  /** Key path -> the variable that set it. */
  sources: Map<string, string>;
  /** `L2LB_*` variables that map to no key, or whose JSON is invalid. */
  issues: ConfigIssue[];
}

/**
 * Like {@link envOverrides}, but returns the problems instead of throwing, so loading can report
 * them together with the rest.
 */
export function readEnv(env: Record<string, string | undefined>): EnvReading {
  const keys = envTable();
  const byName = new Map(keys.map((key) => [key.env, key]));
  const issues: ConfigIssue[] = [];
  const found: Array<{ key: EnvKey; text: string }> = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_FILE_ENV || text === undefined) continue;
    const key = byName.get(name);
    if (key) {
      found.push({ key, text });
      continue;
    }
    // The value is not shown: a misspelt L2LB_API_TOKEN would otherwise leak into logs.
    const guess = closest(name, [...byName.keys(), CONFIG_FILE_ENV]);
    issues.push({
      path: '',
      value: undefined,
      expected: 'a known L2LB_ variable',
      source: `env ${name}`,
      message: `no config key has this variable (a typo?${guess ? ` did you mean ${guess}?` : ''})`,
    });
  }
  const values: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  found.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
  for (const { key, text } of found) {
    const result = coerce(key, text);
    if ('problem' in result) {
      issues.push(result.problem);
      continue;
    }
    setPath(values, key.segments, result.value);
    sources.set(key.path, key.env);
  }
  return { values, sources, issues };
}

/**
 * The config values set by `L2LB_*` variables, as a nested partial config, and which variable set
 * which key path. Variables other than `L2LB_*` are ignored; `L2LB_CONFIG` names the file.
 *
 * @throws ConfigError naming every `L2LB_*` variable that maps to no key, or whose JSON is invalid.
 */
export function envOverrides(env: Record<string, string | undefined>): {
  values: Record<string, unknown>;
  sources: Map<string, string>;
} {
  const { values, sources, issues } = readEnv(env);
  if (issues.length > 0) throw new ConfigError(issues);
  return { values, sources };
}
