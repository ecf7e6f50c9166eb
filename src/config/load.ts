/**
 * Loading the configuration: the embedded default, overridden by the config file, overridden by
 * `L2LB_*` variables; validated as a whole so every problem is reported at once, each with the
 * place its value came from.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import * as v from 'valibot';
import YAML from 'yaml';
import { CONFIG_FILE_ENV, envTable, readEnv } from './env.ts';
import { ConfigError, issue, maskSecret, type ConfigIssue } from './error.ts';
import { ConfigSchema, DEFAULT_CONFIG, type Config } from './schema.ts';
import { configKeys, unknownKeys } from './shape.ts';
import { closest } from './suggest.ts';

export { ConfigError, type ConfigIssue } from './error.ts';
export { formatConfig } from './format.ts';

/** A validated configuration and where each of its values came from. */
export interface LoadedConfig {
  config: Config;
  /** The config file read, if any. */
  file?: string;
  /** Key path (`api.listen`, `vips`) -> `default`, `file PATH` or `env NAME`, for every leaf that is set. */
  sources: Map<string, string>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Converts a character offset into 1-based line:column. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** Where JSON.parse failed, from the engine's message (V8 names it; JavaScriptCore does not). */
function jsonErrorPosition(text: string, message: string): string | undefined {
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) return `${lineCol[1]}:${lineCol[2]}`;
  const position = /position (\d+)/.exec(message);
  if (position) return lineColumn(text, Number(position[1]));
  // A JSON syntax error is nearly always a YAML one too, and YAML knows where it is.
  const yamlError = YAML.parseDocument(text).errors[0];
  return yamlError?.linePos ? `${yamlError.linePos[0].line}:${yamlError.linePos[0].col}` : undefined;
}

/**
 * Reads and parses a config file: `.json` as JSON, anything else as YAML.
 *
 * @returns The parsed mapping (an empty file is an empty mapping).
 * @throws ConfigError for an unreadable file, a syntax error (with line:column) or a top level that
 *   is not a mapping.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  const source = `file ${path}`;
  const fail = (where: string, message: string, expected = 'a readable YAML or JSON config file'): never => {
    throw new ConfigError([{ path: '', value: undefined, expected, source: where, message }]);
  };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    fail(source, `cannot read: ${error instanceof Error ? error.message : String(error)}`);
  }
  let parsed: unknown;
  if (extname(path).toLowerCase() === '.json') {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const position = jsonErrorPosition(text, message);
      // V8 quotes the text around the error, newlines included; one line is enough.
      fail(position ? `${source}:${position}` : source, `invalid JSON: ${message.replace(/\s+/g, ' ')}`);
    }
  } else {
    const document = YAML.parseDocument(text);
    const error = document.errors[0];
    if (error) {
      const position = error.linePos ? `:${error.linePos[0].line}:${error.linePos[0].col}` : '';
      // The library appends " at line L, column C:" and a code excerpt; the position goes in front instead.
      const reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      fail(`${source}${position}`, `invalid YAML: ${reason}`);
    }
    try {
      parsed = document.toJS();
    } catch (error) {
      fail(source, `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) fail(source, 'expected a mapping of config keys at the top level', 'a mapping of config keys');
  return parsed as Record<string, unknown>;
}

/** The path of the value holding `path`: `vips[1].ip` -> `vips[1]` -> `vips` -> ''. */
function parentPath(path: string): string {
  return path.endsWith(']') ? path.replace(/\[\d+\]$/, '') : path.replace(/\.?[^.[\]]+$/, '');
}

/** Looks `path` up in `map`, falling back to the nearest ancestor that is there. */
function nearest(map: ReadonlyMap<string, string>, path: string): string | undefined {
  for (let current = path; current !== ''; current = parentPath(current)) {
    const found = map.get(current);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Where the value at `path` came from, given the sources of the values (not mappings) each layer
 * set: its own, else that of a value inside it (a mapping where a scalar belongs, from a file or a
 * variable), else that of the value holding it (an item of a list), else the default.
 */
function sourceIn(taken: ReadonlyMap<string, string>, path: string): string {
  const own = taken.get(path);
  if (own !== undefined) return own;
  let inside: string | undefined;
  for (const [key, source] of taken) {
    // Later layers win, so a variable beats the file when both put something under `path`.
    if (key.startsWith(`${path}.`) || key.startsWith(`${path}[`)) inside = inside?.startsWith('env ') ? inside : source;
  }
  return inside ?? nearest(taken, path) ?? 'default';
}

/** Assigns without ever touching a prototype, even for a key named `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `over` laid over `base`: mappings merge key by key, anything else (lists included) replaces.
 * `null` means "not set" (what YAML gives for `key:` with nothing after it). The path of every
 * value taken from `over` that is not a mapping is reported to `taken`.
 */
function overlay(base: unknown, over: unknown, path: string, taken: (path: string) => void): unknown {
  if (over === undefined || over === null) return base;
  if (!isPlainObject(over)) {
    taken(path);
    return over;
  }
  const merged: Record<string, unknown> = {};
  if (isPlainObject(base)) for (const [key, value] of Object.entries(base)) setOwn(merged, key, value);
  for (const [key, value] of Object.entries(over)) {
    setOwn(merged, key, overlay(merged[key], value, path === '' ? key : `${path}.${key}`, taken));
  }
  return merged;
}

/** `vips[1].ip` from a valibot issue path. */
function issuePath(items: readonly v.IssuePathItem[] | undefined): string {
  let path = '';
  for (const item of items ?? []) {
    const key = item.key;
    path += typeof key === 'number' ? `[${key}]` : path === '' ? String(key) : `.${String(key)}`;
  }
  return path;
}

/** The value at `path` (`vips[1].ip`) inside `value`, or undefined. */
function valueAt(value: unknown, path: string): unknown {
  let node = value;
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    const key = match[1] ?? Number(match[2]);
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** The key `key` (in the mapping at `parent`) was probably meant to be: a sibling, else any key. */
function guessKey(parent: string, key: string, known: string[]): string | undefined {
  const sibling = closest(key, known);
  if (sibling !== undefined) return parent === '' ? sibling : `${parent}.${sibling}`;
  const anywhere = configKeys(ConfigSchema).map((entry) => entry.path);
  return closest(key, anywhere, (candidate) => candidate.slice(candidate.lastIndexOf('.') + 1));
}

/** Reads a secret file (`api.tokenFile`, `membership.keyFile`): trimmed, and neither missing nor empty. */
function readSecretFile(key: string, path: string, what: string, source: string): { secret: string } | { problem: ConfigIssue } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const problem = issue(key, path, `a readable file holding ${what}`, source);
    problem.message = `cannot read the ${what} file ${path}: ${error instanceof Error ? error.message : String(error)}`;
    return { problem };
  }
  const secret = text.trim();
  if (secret === '') {
    const problem = issue(key, path, `a file holding ${what}`, source);
    problem.message = `the ${what} file ${path} is empty`;
    return { problem };
  }
  return { secret };
}

/**
 * Loads the effective configuration: embedded default < file (`opts.file ?? env.L2LB_CONFIG`) < env.
 *
 * @throws ConfigError listing every problem, each with key path, value, expectation and source.
 */
export function loadConfig(opts: { file?: string; env: Record<string, string | undefined> }): LoadedConfig {
  const file = opts.file || opts.env[CONFIG_FILE_ENV] || undefined;
  const env = readEnv(opts.env);
  let fileValues: Record<string, unknown> = {};
  try {
    if (file !== undefined) fileValues = readConfigFile(file);
  } catch (error) {
    // Without the file there is nothing sensible to validate; report it with the env problems.
    if (error instanceof ConfigError) throw new ConfigError([...error.issues, ...env.issues]);
    throw error;
  }

  const taken = new Map<string, string>();
  let merged = overlay(undefined, DEFAULT_CONFIG, '', () => {});
  merged = overlay(merged, fileValues, '', (path) => taken.set(path, `file ${file}`));
  merged = overlay(merged, env.values, '', (path) => taken.set(path, `env ${nearest(env.sources, path)}`));
  const sourceOf = (path: string) => sourceIn(taken, path);

  const problems: ConfigIssue[] = [...env.issues];
  for (const { path, parent, key, known } of unknownKeys(ConfigSchema, merged)) {
    const guess = guessKey(parent, key, known);
    problems.push({
      path,
      // `api.tokne: hunter2` is a token all the same.
      value: maskSecret(guess?.replace(/\[\d+\]/g, '') ?? path, valueAt(merged, path)),
      expected: `one of ${parent === '' ? 'the top-level keys' : `the keys of ${parent}`}: ${known.join(', ')}`,
      source: sourceOf(path),
      message: `unknown key ${path}${guess ? ` (did you mean ${guess}?)` : ''}`,
    });
  }
  const result = v.safeParse(ConfigSchema, merged, { abortEarly: false });
  for (const found of result.issues ?? []) {
    const path = issuePath(found.path);
    const last = found.path?.[found.path.length - 1];
    const value = last ? last.value : found.input;
    problems.push({
      path,
      value: maskSecret(path, value),
      expected: found.message.replace(/^expected /, ''),
      // A missing token is missing because of where api.listen points: name that source.
      source: path === 'api.token' && value === undefined ? sourceOf('api.listen') : sourceOf(path),
      message: found.message,
    });
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);

  const config = result.output;
  // A relative path in a config file means "next to this file", as in kubeconfig.
  const near = (value: string, source: string) =>
    source.startsWith('file ') && file !== undefined && !isAbsolute(value) ? resolve(dirname(file), value) : value;
  if (config.api.tokenFile !== undefined) {
    const source = sourceOf('api.tokenFile');
    const path = near(config.api.tokenFile, source);
    const read = readSecretFile('api.tokenFile', path, 'API token', source);
    if ('problem' in read) throw new ConfigError([read.problem]);
    config.api = { ...config.api, token: read.secret, tokenFile: path };
    taken.set('api.token', `file ${path}`);
  }
  if (config.membership.keyFile !== undefined) {
    const source = sourceOf('membership.keyFile');
    const path = near(config.membership.keyFile, source);
    const read = readSecretFile('membership.keyFile', path, 'heartbeat key', source);
    if ('problem' in read) throw new ConfigError([read.problem]);
    if (read.secret.length < 16) {
      const problem = issue('membership.keyFile', path, 'a file holding a shared secret of at least 16 characters', source);
      problem.message = `the heartbeat key in ${path} is shorter than 16 characters`;
      throw new ConfigError([problem]);
    }
    config.membership = { ...config.membership, key: read.secret, keyFile: path };
    taken.set('membership.key', `file ${path}`);
  }

  // Per-node mode: the downward API gives the node's name as NODE_NAME (config/deploy/l2lb-daemonset.yaml).
  const k = config.kubernetes;
  if (config.mode === 'kubernetes' && k.announce === 'self' && k.nodeName === undefined) {
    const fromEnv = opts.env.NODE_NAME;
    if (fromEnv && /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(fromEnv)) {
      config.kubernetes = { ...k, nodeName: fromEnv };
      taken.set('kubernetes.nodeName', 'env NODE_NAME');
    } else {
      const problem = issue('kubernetes.nodeName', fromEnv, 'the name of the Node this instance runs on', fromEnv ? 'env NODE_NAME' : 'default');
      problem.message = fromEnv
        ? `NODE_NAME ${JSON.stringify(fromEnv)} is no Node name`
        : 'kubernetes.announce: self answers for one node\'s addresses: set kubernetes.nodeName, or NODE_NAME from the downward API (fieldRef spec.nodeName)';
      throw new ConfigError([problem]);
    }
  }

  const sources = new Map<string, string>();
  for (const key of envTable()) {
    if (key.kind !== 'object' && valueAt(config, key.path) !== undefined) sources.set(key.path, sourceOf(key.path));
  }
  return file === undefined ? { config, sources } : { config, file, sources };
}
