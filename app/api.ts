import Koa from 'koa';
import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
import type { AppDeps, ServiceDeps } from '../domain/app-deps.ts';
import { errorMiddleware } from '../lib/http/errors.ts';
import { jsonBody } from '../lib/http/body.ts';
import { observeRequests } from '../lib/http/observe.ts';
import { authenticate } from '../domain/accounts/auth.ts';
import { KeyUsage } from '../domain/accounts/key-usage.ts';
import { rateLimit } from '../lib/http/rate-limit.ts';
import { apiRateLimits } from '../lib/http/rate-limit-groups.ts';
import { IdempotencyStore, idempotency } from '../lib/http/idempotency.ts';
import { ProjectionWatcher, readYourWrites } from '../lib/http/read-your-writes.ts';
import { LocalBlobStore, type BlobStore } from '../lib/blobs/blob-store.ts';
import { ingestRouter } from '../ingest/routes.ts';
import { BATCH_PATH, batchRouter } from '../ingest/batch.ts';
import { UPLOAD_PATH, uploadRouter } from '../ingest/uploads.ts';
import { artifactFilesRouter, artifactsRouter } from '../query-api/routes/artifacts.ts';
import { healthRouter } from '../query-api/routes/health.ts';
import { authRouter } from '../query-api/routes/auth.ts';
import { usersRouter } from '../query-api/routes/users.ts';
import { teamsRouter } from '../query-api/routes/teams.ts';
import { teamMembersRouter } from '../query-api/routes/team-members.ts';
import { projectsRouter } from '../query-api/routes/projects.ts';
import { settingsRouter } from '../query-api/routes/settings.ts';
import { apiKeysRouter } from '../query-api/routes/api-keys.ts';
import { auditRouter } from '../query-api/routes/audit.ts';
import { runsRouter } from '../query-api/routes/runs.ts';
import { testsRouter } from '../query-api/routes/tests.ts';
import { suitesRouter } from '../query-api/routes/suites.ts';
import { flakinessRouter } from '../query-api/routes/flakiness.ts';
import { analyticsRouter } from '../query-api/routes/analytics.ts';
import { webhooksRouter } from '../query-api/routes/webhooks.ts';
import { schedulesRouter } from '../query-api/routes/schedules.ts';
import { docsRouter } from '../query-api/routes/docs.ts';
import { personalTokensRouter } from '../query-api/routes/personal-tokens.ts';
import { CookieSessions } from '../lib/http/session.ts';
import { dashboard } from '../lib/http/dashboard.ts';
import { traceViewer } from '../lib/http/trace-viewer.ts';
import { overviewRouter } from '../query-api/routes/overview.ts';
import { transitionsRouter } from '../query-api/routes/transitions.ts';

// Longer than the usual 60 s idle timeout of load balancers in front of the API.
const KEEP_ALIVE_MS = 65_000;

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
  webhooksRouter(deps), schedulesRouter(deps), personalTokensRouter(deps), overviewRouter(deps), transitionsRouter(deps),
];

const CLIENT_WENT_AWAY = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

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
  // Idle keep-alive connections live longer than clients' and proxies' pools
  // (Node's default is 5 s): a client reusing a connection the server is just
  // closing gets ECONNRESET, which reporters and the SDK would see as a failure.
  const listen = app.listen.bind(app);
  app.listen = ((...args: Parameters<typeof listen>) => {
    const server = listen(...args);
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    server.headersTimeout = KEEP_ALIVE_MS + 1_000;
    return server;
  }) as typeof app.listen;

  // What Koa sees fail outside the middleware (a streamed body: an artifact, a
  // compressed file) it would print to stderr as a bare stack trace. A client
  // that leaves midway (a browser seeking in a video or leaving the page) is the
  // normal end of a response; anything else goes to the log like any error.
  app.on('error', (err: NodeJS.ErrnoException, ctx?: Koa.Context) => {
    if (err.code && CLIENT_WENT_AWAY.has(err.code)) return;
    logger.error({ err, requestId: ctx?.state.requestId, path: ctx?.path }, 'response failed');
  });

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
