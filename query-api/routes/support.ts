import type { Context } from 'koa';

// The request id (X-Request-Id) that audit entries and events are correlated by.
export const requestIdOf = (ctx: Context): string | null => (ctx.state.requestId as string | undefined) ?? null;
