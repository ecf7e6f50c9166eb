/**
 * Where the admin API of the local l2lb is, for `l2lb status`: `--api URL`, else `api.listen` with the same
 * precedence as the main command (default < config file < `L2LB_API_LISTEN`), the file given by `--config`
 * or `L2LB_CONFIG`.
 *
 * Only `api.listen` is read, not the whole config: reads need no token, and validating everything would make
 * the command fail for a user who may not read the token file (`api.tokenFile`, often root-only) or whose
 * file has an unrelated mistake the running process does not have yet.
 */
import { readConfigFile } from '../config/load.ts';
import { CONFIG_FILE_ENV, envName } from '../config/env.ts';
import { ConfigError, issue } from '../config/error.ts';
import { DEFAULT_CONFIG } from '../config/schema.ts';
import { formatListen, LISTEN_EXPECTED, parseListen } from '../config/listen.ts';

/** The API's base URL and where it came from (`--api`, `env L2LB_API_LISTEN`, `file PATH`, `default`). */
export interface ApiTarget {
  url: string;
  from: string;
}

/** `--api` was given something that is not an http(s) URL or host:port. */
export class ApiFlagError extends Error {}

/**
 * Parses `--api`: `http://host:port`, `https://host:port/prefix`, or `host:port` (http). A trailing slash is
 * dropped so paths can be appended.
 */
export function parseApiFlag(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ApiFlagError(`--api ${JSON.stringify(text)} is not a URL: expected http://host:port, e.g. http://127.0.0.1:9470`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiFlagError(`--api ${JSON.stringify(text)}: expected an http:// or https:// URL, e.g. http://127.0.0.1:9470`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ApiFlagError(`--api ${JSON.stringify(text)}: expected a base URL without query, fragment or credentials`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The URL a process listening on `listen` is reached at from this host: a wildcard address (`0.0.0.0`, `::`)
 * is reached on loopback.
 */
export function urlOfListen(listen: string): string | undefined {
  const parsed = parseListen(listen);
  if (!parsed.ok) return undefined;
  const { host, port } = parsed.address;
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${formatListen({ host: reach, port })}`;
}

/**
 * Finds the API: `flag` (already parsed by {@link parseApiFlag}) when given, else `api.listen` from the
 * environment, the config file, or the default.
 *
 * @throws ConfigError (one line naming the key, the value, its source and what was expected) for a config
 *   file that cannot be read or an `api.listen` that is not an address.
 */
export function resolveApi(opts: {
  flag?: string;
  configFile?: string;
  env: Record<string, string | undefined>;
  /** Reads a config file (tests pass a fake); default: the main command's reader. */
  readFile?: (path: string) => Record<string, unknown>;
}): ApiTarget {
  if (opts.flag !== undefined) return { url: opts.flag, from: '--api' };
  const variable = envName('api.listen');
  let listen = DEFAULT_CONFIG.api.listen;
  let from = 'default';
  const file = opts.configFile || opts.env[CONFIG_FILE_ENV] || undefined;
  if (opts.env[variable] !== undefined) {
    listen = opts.env[variable]!;
    from = `env ${variable}`;
  } else if (file !== undefined) {
    const values = (opts.readFile ?? readConfigFile)(file);
    const api = values.api;
    const fromFile = typeof api === 'object' && api !== null ? (api as Record<string, unknown>).listen : undefined;
    if (fromFile !== undefined) {
      if (typeof fromFile !== 'string') throw new ConfigError([issue('api.listen', fromFile, LISTEN_EXPECTED, `file ${file}`)]);
      listen = fromFile;
      from = `file ${file}`;
    }
  }
  const url = urlOfListen(listen);
  if (url === undefined) {
    const parsed = parseListen(listen);
    throw new ConfigError([issue('api.listen', listen, parsed.ok ? LISTEN_EXPECTED : parsed.expected, from)]);
  }
  return { url, from };
}
