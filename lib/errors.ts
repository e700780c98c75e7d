// Operational errors carry an HTTP status and a stable machine-readable code
// (docs/errors.md). Anything else reaching the error middleware is a bug: logged,
// answered 500 without internals.
export const ERROR_CODES = {
  validation_error: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  invalid_auth: 401,
  insufficient_scope: 403,
  forbidden: 403,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  setup_complete: 409,
  // 400 for a malformed key; 409 (given explicitly) for a key reused with another body or still in progress
  idempotency_error: 400,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal_error: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    status?: number,
  ) {
    super(message);
    // A code has one usual status; a few (idempotency_error) have a second one.
    this.status = status ?? ERROR_CODES[code];
  }
}

export const notFound = (what: string, id?: string) =>
  new AppError('not_found', `${what} not found`, id ? { id } : {});

export const unavailable = (what: string, retryAfterSeconds = 5) =>
  new AppError('unavailable', `${what} is unavailable, retry later`, { retryAfterSeconds }, {
    'Retry-After': String(retryAfterSeconds),
  });
