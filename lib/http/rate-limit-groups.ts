import type { Context, Next } from 'koa';
import type { RateLimitGroup, RateLimits } from '../config.ts';
import type { Principal } from './principal.ts';
import { rateLimit } from './rate-limit.ts';

// The endpoint groups of the Euriqa rate-limit table (shared/seeds/001), plus
// the batch endpoint's own group and `other` for the rest. Limits count per API
// key, or per user for JWT callers (docs/ingest.md).
export function rateLimitGroupOf(method: string, path: string): RateLimitGroup {
  const read = method === 'GET' || method === 'HEAD';
  if (path === '/api/ingest/batch') return 'batch';
  if (path === '/api/upload') return 'uploads';
  if (/^\/api\/runs(\/|$)/.test(path)) return read ? 'runs_read' : 'runs_write';
  if (/^\/api\/(tests|test-suites|artifacts)(\/|$)/.test(path)) return read ? 'tests_read' : 'tests_write';
  if (/^\/api\/(projects|teams|team-members)(\/|$)/.test(path)) return 'projects';
  if (/^\/api\/(api-keys|webhooks)(\/|$)/.test(path)) return 'keys';
  if (/^\/api\/flakiness(\/|$)/.test(path)) return 'flakiness';
  return 'other';
}

const callerOf = (ctx: Context): string | false => {
  const p = ctx.state.principal as Principal | undefined;
  if (!p) return false;
  return p.kind === 'api_key' ? `key:${p.keyId}` : `user:${p.userId}`;
};

// Runs after authentication: the caller is known.
export function apiRateLimits(limits: RateLimits) {
  const byGroup = new Map(
    (Object.keys(limits.max) as RateLimitGroup[]).map((group) =>
      [group, rateLimit({ group, max: limits.max[group], windowMs: limits.windowMs, key: callerOf })]),
  );
  return (ctx: Context, next: Next) => byGroup.get(rateLimitGroupOf(ctx.method, ctx.path))!(ctx, next);
}
