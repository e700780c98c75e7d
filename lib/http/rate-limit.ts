import type { Context, Next } from 'koa';
import ratelimit from 'koa-ratelimit';
import { AppError } from '../errors.ts';

export type RateLimitOptions = {
  group: string;
  max: number;
  windowMs: number;
  // Who is counted: a string per caller; false lets the request through uncounted.
  key: (ctx: Context) => string | false;
};

const SWEEP_EVERY = 1000;

// A fixed-window limit per caller (koa-ratelimit, memory driver): every response
// it lets through carries X-RateLimit-Limit/Remaining/Reset (Reset in epoch
// seconds); one over the limit is 429 rate_limited with Retry-After. The counts
// live in this process: N API processes allow up to N times the limit.
export function rateLimit({ group, max, windowMs, key }: RateLimitOptions) {
  const db = new Map<string, { reset: number }>();
  let calls = 0;
  const limiter = ratelimit({ driver: 'memory', db, duration: windowMs, max, id: key, namespace: `rl:${group}`, throw: true });
  return async (ctx: Context, next: Next) => {
    if (++calls % SWEEP_EVERY === 0) sweep(db);
    let passed = false;
    try {
      await limiter(ctx, async () => {
        passed = true;
        wholeSeconds(ctx);
        await next();
      });
    } catch (err) {
      if (passed || (err as { status?: number }).status !== 429) throw err;
      const retryAfter = Math.max(1, Math.ceil(Number(ctx.response.get('X-RateLimit-Reset')) - Date.now() / 1000));
      wholeSeconds(ctx);
      throw new AppError('rate_limited', `rate limit of ${max} requests per ${windowMs / 1000} s exceeded (${group})`,
        { group, limit: max, windowMs, retryAfterSeconds: retryAfter },
        {
          'Retry-After': String(retryAfter),
          'X-RateLimit-Limit': String(max),
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': ctx.response.get('X-RateLimit-Reset'),
        });
    }
  };
}

// koa-ratelimit's memory driver reports the reset in fractional seconds.
function wholeSeconds(ctx: Context) {
  const reset = Number(ctx.response.get('X-RateLimit-Reset'));
  if (Number.isFinite(reset) && reset > 0) ctx.set('X-RateLimit-Reset', String(Math.ceil(reset)));
}

// Windows that ended are forgotten, so callers seen once do not pile up.
function sweep(db: Map<string, { reset: number }>) {
  const now = Date.now() / 1000;
  for (const [k, v] of db) if (v.reset < now) db.delete(k);
}
