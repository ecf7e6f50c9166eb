/** Small helpers shared by the Kubernetes loops (informers, leader election). */

/** One line for an error, with its code and cause: what a log line about a failed request should say. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const code = (error as Error & { code?: unknown }).code;
    const extra = typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : '';
    return `${error.message}${extra}${cause instanceof Error ? `: ${cause.message}` : ''}`;
  }
  return String(error);
}

/** Waits `ms` or until `signal` aborts, whichever comes first; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
