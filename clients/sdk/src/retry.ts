import type { RunledgerError } from './errors.ts';

export type RetryPolicy = {
  // Further tries after the first one.
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  // A Retry-After longer than this is cut to it (a misconfigured server must not park a CI job).
  maxRetryAfterMs: number;
};

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, minDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };

// Exponential backoff with "equal jitter": half the window fixed, half random, so
// clients that failed together do not come back together, and none retries at once.
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'minDelayMs' | 'maxDelayMs'>, random = Math.random): number {
  const window = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

// How long to wait before try number `attempt + 1`: what the server asked for
// (Retry-After), else the backoff.
export function delayBefore(attempt: number, err: RunledgerError, policy: RetryPolicy, random = Math.random): number {
  if (err.retryAfterMs !== null) return Math.min(err.retryAfterMs, policy.maxRetryAfterMs);
  return backoffMs(attempt, policy, random);
}

export const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const t = setTimeout(() => {
    signal?.removeEventListener('abort', onAbort);
    resolve();
  }, ms);
  const onAbort = () => {
    clearTimeout(t);
    reject(signal!.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
});
