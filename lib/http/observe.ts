import type { Context, Next } from 'koa';
import type { Logger } from '../logger.ts';
import { metrics } from '../metrics.ts';

// One structured log line and the HTTP metrics for every request, labelled by
// the route template (`/api/runs/:id`), never the raw path, so label sets stay
// bounded. Runs outside the error middleware, so it sees the final status.
export function observeRequests(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = matched ? String(matched) : 'unmatched';
      const labels = { method: ctx.method, route, status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      const quiet = route === '/metrics' || route.startsWith('/health');
      logger[quiet ? 'debug' : 'info'](
        { requestId: ctx.state.requestId, method: ctx.method, route, path: ctx.path, status: ctx.status, durationMs: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    }
  };
}
