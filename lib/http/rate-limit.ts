import type { Context, Middleware, Next } from 'koa';
import ratelimit from 'koa-ratelimit';
import { AppError } from '../errors.ts';

// Rate limits per endpoint group, on koa-ratelimit's memory driver (per
// process). Every response of a limited route carries X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset; a refused one is 429
// rate_limited with Retry-After (whole seconds, at least 1).
//
//   rateLimit({ group: 'auth', max: 10, windowMs: 60_000, key: (ctx) => ctx.ip })
//
// `key` names the bucket a request counts against (an IP, an API key id);
// returning false lets the request through uncounted.
export type RateLimitOptions = {
  group: string;
  max: number;
  windowMs: number;
  key: (ctx: Context) => string | false;
};

type Entry = { reset: number };

export function rateLimit(opts: RateLimitOptions): Middleware {
  const db = new Map<string, Entry>();
  const limiter = ratelimit({
    driver: 'memory',
    db,
    namespace: opts.group,
    max: opts.max,
    duration: opts.windowMs,
    id: opts.key,
    throw: true,
  });
  // The memory driver never forgets a bucket; drop the expired ones once per window.
  let pruned = Date.now();
  const prune = () => {
    const now = Date.now();
    if (now - pruned < opts.windowMs) return;
    pruned = now;
    for (const [k, v] of db) if (v.reset * 1000 < now) db.delete(k);
  };

  return async (ctx: Context, next: Next) => {
    prune();
    try {
      await limiter(ctx, next);
    } catch (err) {
      const limited = ctx.state.rateLimit as { headers: Record<string, string | number> } | undefined;
      if (err instanceof AppError || !limited || (err as { status?: number }).status !== 429) throw err;
      const reset = Number(limited.headers['X-RateLimit-Reset']);
      const retryAfter = Math.max(1, Math.ceil(reset - Date.now() / 1000));
      const headers = Object.fromEntries(Object.entries(limited.headers).map(([k, v]) => [k, String(v)]));
      throw new AppError('rate_limited', `too many requests; retry in ${retryAfter} s`,
        { group: opts.group, limit: opts.max, windowMs: opts.windowMs, retryAfterSeconds: retryAfter },
        { ...headers, 'Retry-After': String(retryAfter) });
    }
  };
}
