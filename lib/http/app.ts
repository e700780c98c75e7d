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
import { apiRateLimits } from './rate-limit-groups.ts';
import { IdempotencyStore, idempotency } from './idempotency.ts';
import { ProjectionWatcher, readYourWrites } from './read-your-writes.ts';
import { LocalBlobStore, type BlobStore } from '../../ingest/blob-store.ts';
import { ingestRouter } from '../../ingest/routes.ts';
import { BATCH_PATH, batchRouter } from '../../ingest/batch.ts';
import { UPLOAD_PATH, uploadRouter } from '../../ingest/uploads.ts';
import { artifactFilesRouter, artifactsRouter } from '../../query-api/routes/artifacts.ts';
import { healthRouter } from '../../query-api/routes/health.ts';
import { authRouter } from '../../query-api/routes/auth.ts';
import { accountsRouter } from '../../query-api/routes/accounts.ts';
import { runsRouter } from '../../query-api/routes/runs.ts';
import { testsRouter } from '../../query-api/routes/tests.ts';
import { suitesRouter } from '../../query-api/routes/suites.ts';

export type AppDeps = { config: Config; pool: Pool; ch: ClickHouse; kafka: Kafka; eventLog: EventLog; logger: Logger; blobs?: BlobStore };
// What the routes share, built once per app from its deps.
export type Services = AppDeps & { blobs: BlobStore; watcher: ProjectionWatcher; idempotency: IdempotencyStore };

// One Koa app serves the ingest routes and the query routes on one port.
export function createApp(appDeps: AppDeps): Koa {
  const { config, pool, logger } = appDeps;
  const deps: Services = {
    ...appDeps,
    blobs: appDeps.blobs ?? new LocalBlobStore(config.blobDir),
    watcher: new ProjectionWatcher(pool, appDeps.ch, config.topic, logger),
    idempotency: new IdempotencyStore(pool, config.idempotencyTtlSeconds),
  };
  const app = new Koa();
  app.proxy = false;

  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = given && given.length <= 200 ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  });
  app.use(errorMiddleware(logger));
  const body = jsonBody(config.bodyLimitBytes, {
    [BATCH_PATH]: { limitBytes: config.batchBodyLimitBytes, ndjson: true },
    [UPLOAD_PATH]: { limitBytes: 0, stream: true },
  });

  // Open routes: health, the bootstrap/login that precede any credential, and
  // artifact files behind signed URLs.
  const open = new Router();
  open.use(body);
  for (const r of [healthRouter(deps), authRouter(deps), artifactFilesRouter(deps)]) open.use(r.routes());

  // Everything else: the credential is checked before a body is read; then the
  // caller's rate limit, read-your-writes for GETs, the body, Idempotency-Key for POSTs.
  const api = new Router();
  api.use(
    authenticate(pool, config.jwtSecret),
    apiRateLimits(config.rateLimits),
    readYourWrites(deps.watcher, config.readYourWritesTimeoutMs),
    body,
    idempotency(deps.idempotency, logger, { streamed: [UPLOAD_PATH], redact: { '/api/api-keys': ['key'] } }),
  );
  for (const r of [ingestRouter(deps), batchRouter(deps), uploadRouter(deps), artifactsRouter(deps), accountsRouter(deps), runsRouter(deps), testsRouter(deps), suitesRouter(deps)]) {
    api.use(r.routes());
  }
  app.use(open.routes()).use(open.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());
  return app;
}
