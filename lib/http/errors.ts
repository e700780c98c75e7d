import type { Context, Next } from 'koa';
import { z } from 'zod';
import { AppError, ERROR_CODES, unavailable } from '../errors.ts';
import type { Logger } from '../logger.ts';

// The one error middleware, first in the chain: every failure leaves as
// { error: { code, message, details } }.
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
      if (ctx.status === 405 && ctx.body === undefined) {
        throw new AppError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`, { allow: ctx.response.get('Allow') });
      }
    } catch (err) {
      const appError = toAppError(err);
      if (!appError) {
        logger.error({ err, method: ctx.method, path: ctx.path, requestId: ctx.state.requestId }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { error: { code: 'internal_error', message: 'internal error', details: { requestId: ctx.state.requestId } } };
        return;
      }
      if (appError.status === 503 && !(err instanceof AppError)) {
        logger.warn({ err, method: ctx.method, path: ctx.path, requestId: ctx.state.requestId }, 'a data store is unreachable');
      }
      ctx.status = appError.status;
      for (const [k, v] of Object.entries(appError.headers)) ctx.set(k, v);
      ctx.body = { error: { code: appError.code, message: appError.message, details: appError.details } };
    }
  };
}

// A store that cannot be reached (stopped, restarting, the network): socket
// errors, and Postgres's connection and shutdown SQLSTATEs (classes 08 and 57P).
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03',
]);
const UNREACHABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|socket hang up/;

// Errors thrown by body parsing (raw-body / co-body) carry `status` and `type`.
export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return validationError(err);
  const e = err as { status?: number; type?: string; message?: string; expose?: boolean; code?: unknown };
  // Not the request's fault and not a bug: 503 with Retry-After; the pools reconnect by themselves.
  if (e && ((typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) || UNREACHABLE_MESSAGES.test(e.message ?? ''))) {
    return unavailable('a data store');
  }
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.status === 413 || e.type === 'entity.too.large') return new AppError('payload_too_large', 'request body is too large');
    if (e.status === 415 || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return new AppError('unsupported_media_type', e.message ?? 'unsupported encoding');
    }
    if (e.type === 'entity.parse.failed' || e.type === 'entity.verify.failed' || e.status === 400) {
      return new AppError('invalid_json', 'request body is not valid JSON');
    }
    const code = (Object.entries(ERROR_CODES).find(([, s]) => s === e.status)?.[0] ?? 'validation_error') as keyof typeof ERROR_CODES;
    return new AppError(code, e.expose && e.message ? e.message : 'bad request');
  }
  return null;
}

export function validationError(err: z.ZodError): AppError {
  // An unknown field (strict bodies) is reported at its own path, one issue per field.
  const issues = err.issues.flatMap((i) => i.code === 'unrecognized_keys'
    ? i.keys.map((k) => ({ path: [...i.path, k].join('.'), message: 'is not a known field' }))
    : [{ path: i.path.join('.'), message: i.message }]).slice(0, 20);
  const first = issues[0];
  const message = first ? (first.path ? `'${first.path}' ${first.message}` : first.message) : 'invalid input';
  return new AppError('validation_error', message, { field: first?.path ?? null, issues });
}

export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}
