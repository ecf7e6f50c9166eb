/**
 * "Did you mean …?" for misspelt keys and environment variables.
 *
 * Names are compared case-, `_`- and `-`-insensitively first, so `state_file`, `statefile` and
 * `STATE_FILE` all find `stateFile`; then by edit distance, so `lisen` finds `listen`.
 */

/** Folds the spelling differences that are never intentional: case, `_`, `-`. */
function fold(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of neighbours (optimal
 * string alignment): `tokne` is one edit from `token`, as a typist would count it.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    const above = rows[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate closest to `name`, or undefined when none is close enough to be a plausible typo
 * (at most one edit per three characters, at least one).
 *
 * @param name The unknown name as written.
 * @param candidates The known names.
 * @param key Maps a candidate to the part compared with `name` (e.g. the last segment of a path).
 */
export function closest(
  name: string,
  candidates: Iterable<string>,
  key: (candidate: string) => string = (candidate) => candidate,
): string | undefined {
  const wanted = fold(name);
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, fold(key(candidate)));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
