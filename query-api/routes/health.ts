import Router from '@koa/router';
import type { AppDeps } from '../../lib/http/app.ts';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);

// /health: the process serves. /health/ready: it can do its job, i.e. Kafka,
// Postgres and ClickHouse all answer.
export function healthRouter({ pool, ch, kafka }: AppDeps): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/health/ready', async (ctx) => {
    const check = async (name: string, fn: () => Promise<unknown>) => {
      const started = Date.now();
      try {
        await within(fn(), 3000);
        return { name, status: 'ok', latencyMs: Date.now() - started };
      } catch (err) {
        return { name, status: 'down', latencyMs: Date.now() - started, error: (err as Error).message };
      }
    };
    const checks = await Promise.all([
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
    const ready = checks.every((c) => c.status === 'ok');
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  return router;
}
