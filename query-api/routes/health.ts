import Router from '@koa/router';
import type { AppDeps } from '../../domain/app-deps.ts';
import { consumerHealth, projectionProgress } from '../../lib/projection-health.ts';
import { PROMETHEUS_CONTENT_TYPE, registry, metrics } from '../../lib/metrics.ts';
import type { Queryable } from '../../lib/pg.ts';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

type Check = { name: string; status: 'ok' | 'down'; latencyMs: number; error?: string };

async function check(name: string, fn: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await within(fn(), 3000);
    return { name, status: 'ok', latencyMs: Date.now() - started };
  } catch (err) {
    return { name, status: 'down', latencyMs: Date.now() - started, error: (err as Error).message };
  }
}

function dependencyChecks({ pool, ch, kafka }: AppDeps): Promise<Check[]> {
  return Promise.all([
    check('postgres', () => pool.query('SELECT 1')),
    check('clickhouse', async () => {
      if (!(await ch.ping())) throw new Error('ping failed');
    }),
    check('kafka', async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.describeCluster();
      } finally {
        await admin.disconnect();
      }
    }),
  ]);
}

// The projections' progress as every projector process wrote it. A scrape while
// Postgres is away keeps the last values (the scrape itself must not fail).
async function refreshProjectionMetrics(db: Queryable): Promise<void> {
  let rows;
  try {
    rows = await within(projectionProgress(db), 2000);
  } catch {
    return;
  }
  metrics.projectionBatchFailures.reset();
  for (const r of rows) {
    const labels = { projection: r.projection };
    if (r.secondsSinceLastCommit === null) metrics.projectionSinceCommit.remove(labels);
    else metrics.projectionSinceCommit.set(labels, r.secondsSinceLastCommit);
    // A counter kept in Postgres: it only grows, whichever process failed.
    metrics.projectionBatchFailures.inc(labels, r.batchFailures);
    metrics.projectionRetries.set(labels, r.retries);
  }
}

// /health: the process serves. /health/ready: it can do its job, i.e. Kafka,
// Postgres and ClickHouse all answer. /health/deep: the same, plus every
// projection's consumer lag, liveness, progress and last batch error. /metrics: Prometheus text format.
export function healthRouter(deps: AppDeps): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/health/ready', async (ctx) => {
    const checks = await dependencyChecks(deps);
    const ready = checks.every((c) => c.status === 'ok');
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  router.get('/health/deep', async (ctx) => {
    const checks = await dependencyChecks(deps);
    const ok = (name: string) => checks.some((c) => c.name === name && c.status === 'ok');
    // Consumer health needs Kafka and Postgres only: with ClickHouse down it still shows who is stuck.
    const canRead = ok('postgres') && ok('kafka');
    let consumers: unknown[] = [];
    let consumersError: string | undefined;
    if (canRead) {
      try {
        consumers = await within(consumerHealth(deps.kafka, deps.pool, deps.config), 5000);
      } catch (err) {
        consumersError = (err as Error).message;
      }
    }
    const healthy = checks.every((c) => c.status === 'ok') && !consumersError && consumers.every((c) => (c as { status: string }).status === 'ok');
    ctx.status = healthy ? 200 : 503;
    if (!healthy) ctx.set('Retry-After', '5');
    ctx.body = { status: healthy ? 'ok' : 'unhealthy', checks, consumers, ...(consumersError ? { consumersError } : {}) };
  });
  router.get('/metrics', async (ctx) => {
    await refreshProjectionMetrics(deps.pool);
    ctx.type = PROMETHEUS_CONTENT_TYPE;
    ctx.body = await registry.metrics();
  });
  return router;
}
