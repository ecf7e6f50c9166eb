/**
 * Retry delays after failed API requests: exponential backoff with jitter that honours the server's
 * Retry-After. Pure: the random source is a parameter, so tests pin it.
 */

/** Doubling from `initialMs` to `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * The delay before retry number `failures` (1 for the first retry). Without a hint it lies in the upper half
 * of the doubling ceiling: half fixed, half random, so replicas that lost the server together do not come
 * back together. With the server's Retry-After (`retryAfterMs`) it is at least that long, plus up to a
 * quarter more at random for the same reason: a throttled server that asks everyone for 1 s must not get
 * everyone back in the same millisecond.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const { initialMs, maxMs } = policy;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  if (retryAfterMs === undefined || !(retryAfterMs > 0)) return jittered;
  const hinted = retryAfterMs * (1 + random() / 4);
  return Math.max(jittered, hinted);
}
