/**
 * Printing the effective configuration (`l2lb check-config`): secrets masked, and in YAML a
 * comment on every value that does not come from the default, naming where it came from.
 */
import YAML from 'yaml';
import type { LoadedConfig } from './load.ts';
import type { Config } from './schema.ts';

/** What a masked secret prints as. */
export const MASK = '***';

/**
 * The config as it may be shown: the token masked, or left out when it was read from `tokenFile`
 * (printing the file keeps the output loadable as it is).
 */
function printable(config: Config): Config {
  const { token, tokenFile, ...api } = config.api;
  return {
    ...config,
    api: tokenFile !== undefined ? { ...api, tokenFile } : token !== undefined ? { ...api, token: MASK } : api,
  };
}

function annotate(map: YAML.YAMLMap, prefix: string, sources: ReadonlyMap<string, string>): void {
  for (const pair of map.items) {
    const key = YAML.isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const value = pair.value;
    if (YAML.isMap(value)) {
      annotate(value, path, sources);
      continue;
    }
    // A list of scalars reads best on one line, which also gives the comment a place to go.
    if (YAML.isSeq(value) && value.items.every((element) => YAML.isScalar(element))) value.flow = true;
    const source = sources.get(path);
    if (source === undefined || source === 'default') continue;
    if (YAML.isScalar(value) || (YAML.isSeq(value) && value.flow)) value.comment = ` ${source}`;
    else if (YAML.isScalar(pair.key)) pair.key.comment = ` ${source}`;
  }
}

/**
 * The effective configuration as YAML (default) or JSON. The YAML names the source of every value
 * that is not the default in a trailing comment, and loads back into the same configuration
 * (except a masked `api.token`).
 */
export function formatConfig(loaded: LoadedConfig, format: 'yaml' | 'json' = 'yaml'): string {
  const config = printable(loaded.config);
  if (format === 'json') return `${JSON.stringify(config, null, 2)}\n`;
  const document = new YAML.Document(config);
  document.commentBefore = [
    ' l2lb effective configuration',
    loaded.file === undefined ? ' no config file' : ` config file: ${loaded.file}`,
    ' values without a comment are defaults',
  ].join('\n');
  if (YAML.isMap(document.contents)) annotate(document.contents, '', loaded.sources);
  return document.toString({ lineWidth: 0 });
}
