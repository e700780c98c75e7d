import Koa from 'koa';
import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config.ts';
import type { Pool } from '../pg.ts';
import type { ClickHouse } from '../clickhouse.ts';
import type { Logger } from '../logger.ts';
import type { EventLog } from '../../ingest/event-log.ts';
import { errorMiddleware } from './errors.ts';
import { jsonBody } from './body.ts';
import { authenticate } from './auth.ts';
import { ingestRouter } from '../../ingest/routes.ts';
import { healthRouter } from '../../query-api/routes/health.ts';
import { authRouter } from '../../query-api/routes/auth.ts';
import { accountsRouter } from '../../query-api/routes/accounts.ts';
import { runsRouter } from '../../query-api/routes/runs.ts';
import { testsRouter } from '../../query-api/routes/tests.ts';
import { suitesRouter } from '../../query-api/routes/suites.ts';

export type AppDeps = { config: Config; pool: Pool; ch: ClickHouse; kafka: Kafka; eventLog: EventLog; logger: Logger };

// One Koa app serves the ingest routes and the query routes on one port.
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;

  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = given && given.length <= 200 ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  });
  app.use(errorMiddleware(deps.logger));
  const body = jsonBody(deps.config.bodyLimitBytes);

  // Open routes: health, and the bootstrap/login that precede any credential.
  const open = new Router();
  open.use(body);
  for (const r of [healthRouter(deps), authRouter(deps)]) open.use(r.routes());

  // Everything else: the credential is checked before a body is read.
  const api = new Router();
  api.use(authenticate(deps.pool, deps.config.jwtSecret), body);
  for (const r of [ingestRouter(deps), accountsRouter(deps), runsRouter(deps), testsRouter(deps), suitesRouter(deps)]) {
    api.use(r.routes());
  }
  app.use(open.routes()).use(open.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());
  return app;
}
