/** Label selectors in their `matchLabels` form, as pools use them for namespaces and nodes. */

/** True when every pair of `selector` is among `labels` (an empty selector matches everything). */
export function matchLabels(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const key of Object.keys(selector)) {
    if (labels?.[key] !== selector[key]) return false;
  }
  return true;
}

/**
 * Parses the text form of a `matchLabels` selector used in annotations, `k=v,k2=v2` (spaces around items
 * allowed); undefined when an item is not `key=value`. The empty string is the empty selector.
 */
export function parseLabelSelector(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return undefined;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim().replace(/^=/, '');
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/.test(key) || !/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value)) return undefined;
    out[key] = value;
  }
  return out;
}
