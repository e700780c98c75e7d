// An answer the API gave with an error status ({ error: { code, message, details } }),
// or a request that never got an answer (status 0: refused, reset, timed out).
export class RunledgerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'RunledgerError';
  }

  // Worth sending again, unchanged: no answer, throttled, or the API (or its
  // Kafka) is briefly away. A 4xx other than these will fail the same way again.
  get retryable(): boolean {
    if (this.status === 0) return true;
    if ([408, 429, 502, 503, 504].includes(this.status)) return true;
    // The same Idempotency-Key still being worked on by another request.
    return this.status === 409 && this.code === 'idempotency_error' && this.retryAfterMs !== null;
  }
}

// Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3).
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
