import Koa from 'koa';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config.ts';
import type { Pool } from '../pg.ts';
import type { ClickHouse } from '../clickhouse.ts';
import type { Logger } from '../logger.ts';
import type { EventLog } from '../../ingest/event-log.ts';
import { errorMiddleware } from './errors.ts';
import { jsonBody } from './body.ts';
import { observeRequests } from './observe.ts';
import { authenticate } from './auth.ts';
import { CookieSessions } from './session.ts';
import { dashboard } from './dashboard.ts';
import { traceViewer } from './trace-viewer.ts';
import { KeyUsage } from './key-usage.ts';
import { rateLimit } from './rate-limit.ts';
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
import { usersRouter } from '../../query-api/routes/users.ts';
import { teamsRouter } from '../../query-api/routes/teams.ts';
import { teamMembersRouter } from '../../query-api/routes/team-members.ts';
import { projectsRouter } from '../../query-api/routes/projects.ts';
import { settingsRouter } from '../../query-api/routes/settings.ts';
import { apiKeysRouter } from '../../query-api/routes/api-keys.ts';
import { auditRouter } from '../../query-api/routes/audit.ts';
import { runsRouter } from '../../query-api/routes/runs.ts';
import { testsRouter } from '../../query-api/routes/tests.ts';
import { suitesRouter } from '../../query-api/routes/suites.ts';
import { flakinessRouter } from '../../query-api/routes/flakiness.ts';
import { analyticsRouter } from '../../query-api/routes/analytics.ts';
import { webhooksRouter } from '../../query-api/routes/webhooks.ts';
import { schedulesRouter } from '../../query-api/routes/schedules.ts';
import { docsRouter } from '../../query-api/routes/docs.ts';
import { overviewRouter } from '../../query-api/routes/overview.ts';
import { transitionsRouter } from '../../query-api/routes/transitions.ts';

export type ServiceDeps = {
  config: Config; pool: Pool; ch: ClickHouse; kafka: Kafka; eventLog: EventLog; logger: Logger;
  // The local directory store unless given (tests may pass another).
  blobs?: BlobStore;
};
// What routers get: the services, plus the app's own per-process state.
export type AppDeps = ServiceDeps & {
  blobs: BlobStore;
  keyUsage: KeyUsage;
  watcher: ProjectionWatcher;
  idempotency: IdempotencyStore;
  limits: { auth: Middleware };
  // the dashboard's cookie sessions (lib/http/session.ts)
  sessions: CookieSessions;
};
export type RunledgerApp = Koa & {
  // API keys' lastUsedAt, held in memory between writes.
  keyUsage: KeyUsage;
  // Writes what the app holds in memory (API key usage); call on shutdown.
  close(): Promise<void>;
};

// The routers, in the order they are mounted. Open routes need no credential;
// every other route is behind `authenticate`, which runs before a body is read.
// The isolation matrix (test/integration/isolation-matrix.test.ts) walks the
// mounted routers, so a route added here is tested against every credential.
export const openRouters = (deps: AppDeps): Router[] => [healthRouter(deps), docsRouter(deps), authRouter(deps), artifactFilesRouter(deps)];
export const apiRouters = (deps: AppDeps): Router[] => [
  ingestRouter(deps), batchRouter(deps), uploadRouter(deps), artifactsRouter(deps),
  usersRouter(deps), teamsRouter(deps), teamMembersRouter(deps), projectsRouter(deps), settingsRouter(deps),
  apiKeysRouter(deps), auditRouter(deps), runsRouter(deps), testsRouter(deps), suitesRouter(deps), flakinessRouter(deps), analyticsRouter(deps),
  webhooksRouter(deps), schedulesRouter(deps), overviewRouter(deps), transitionsRouter(deps),
];

// One Koa app serves the ingest routes and the query routes on one port.
export function createApp(services: ServiceDeps): RunledgerApp {
  const { config, pool, logger } = services;
  const deps: AppDeps = {
    ...services,
    blobs: services.blobs ?? new LocalBlobStore(config.blobDir),
    keyUsage: new KeyUsage(pool, config.keyUsageFlushMs, logger),
    watcher: new ProjectionWatcher(pool, services.ch, config.topic, logger),
    idempotency: new IdempotencyStore(pool, config.idempotencyTtlSeconds),
    limits: { auth: rateLimit({ group: 'auth', max: config.authRateLimit, windowMs: config.authRateWindowMs, key: (ctx) => ctx.ip }) },
    sessions: new CookieSessions(pool, config.sessions),
  };
  const app = new Koa() as RunledgerApp;
  // X-Forwarded-* only from a proxy the operator vouches for (RUNLEDGER_TRUST_PROXY).
  app.proxy = config.trustProxy;
  app.keyUsage = deps.keyUsage;
  app.close = () => deps.keyUsage.close();

  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = given && given.length <= 200 ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  });
  app.use(observeRequests(logger));
  app.use(errorMiddleware(logger));
  const body = jsonBody(config.bodyLimitBytes, {
    [BATCH_PATH]: { limitBytes: config.batchBodyLimitBytes, ndjson: true },
    [UPLOAD_PATH]: { limitBytes: 0, stream: true },
  });

  // Open routes: health, the API's description (/openapi.json, /docs), the
  // bootstrap/login that precede any credential, and artifact files behind signed URLs.
  const open = new Router();
  open.use(body);
  for (const r of openRouters(deps)) open.use(r.routes());

  // Everything else: the credential is checked before a body is read; then the
  // caller's rate limit, read-your-writes for GETs, the body, Idempotency-Key for POSTs.
  const api = new Router();
  api.use(
    authenticate(pool, config.jwtSecret, deps.keyUsage, deps.sessions),
    apiRateLimits(config.rateLimits),
    readYourWrites(deps.watcher, config.readYourWritesTimeoutMs),
    body,
    idempotency(deps.idempotency, logger, { streamed: [UPLOAD_PATH], redact: { '/api/api-keys': ['key'] } }),
  );
  for (const r of apiRouters(deps)) api.use(r.routes());
  app.use(open.routes()).use(open.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());
  // What no router answered: the self-hosted trace viewer (/trace/) and the
  // dashboard's files and pages (docs/dashboard.md "Serving and sessions").
  app.use(traceViewer());
  app.use(dashboard(config.webDir));
  return app;
}
