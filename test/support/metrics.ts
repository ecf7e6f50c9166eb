/**
 * Reading l2lb's `/metrics` text in tests and benches: one way, summing the samples of a family whose labels
 * include the given ones (a missing family sums to 0).
 */

/** The sum of `name`'s samples in Prometheus text `text` whose labels include every pair of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
