/**
 * What a reload (`SIGHUP`) may change in a running process, and what only a restart can: a pure
 * comparison of two validated configs. A reload that touches a restart key applies nothing at all, so a
 * config is never half in force.
 */
import { type Config, ConfigSchema } from './schema.ts';
import { configKeys } from './shape.ts';

/**
 * Keys (and every key below them) a running process cannot take over: the sockets, listeners, files and
 * identities it set up at start, and the mode that decides which of them exist.
 */
export const RESTART_KEYS: readonly string[] = [
  'mode', 'interfaces', 'api.listen', 'stateFile', 'log.format',
  'kubernetes.kubeconfig', 'kubernetes.announce', 'kubernetes.nodeName', 'kubernetes.leaderElection',
  'kubernetes.eips', 'kubernetes.watchInactivity', 'kubernetes.maxInflight', 'membership', 'health.kubeProxy',
];

/** The leaf keys whose values differ between two configs, and those of them that need a restart. */
export interface ConfigChanges {
  changed: string[];
  needRestart: string[];
}

function at(config: unknown, segments: readonly string[]): unknown {
  let v = config;
  for (const s of segments) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[s];
  return v;
}

/** Compares `before` and `after` key by key (lists as a whole). */
export function configChanges(before: Config, after: Config): ConfigChanges {
  const changed: string[] = [];
  for (const key of configKeys(ConfigSchema)) {
    if (key.kind === 'object') continue;
    if (JSON.stringify(at(before, key.segments)) !== JSON.stringify(at(after, key.segments))) changed.push(key.path);
  }
  const needRestart = changed.filter((path) => RESTART_KEYS.some((k) => path === k || path.startsWith(`${k}.`)));
  return { changed, needRestart };
}
