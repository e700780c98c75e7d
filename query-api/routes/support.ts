import type { Context } from 'koa';

// The request id (X-Request-Id) that audit entries and events are correlated by.
export const requestIdOf = (ctx: Context): string | null => (ctx.state.requestId as string | undefined) ?? null;

// A list response: { data, total, limit, offset } (DESIGN §6).
export const listBody = <R, V>(p: { rows: R[]; total: number }, view: (r: R) => V, q: { limit: number; offset: number }) =>
  ({ data: p.rows.map(view), total: p.total, limit: q.limit, offset: q.offset });
