import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { SuitesQuery } from '../../schemas/api.ts';
import { runsRepo } from '../../domain/pg/runs.ts';
import { suitesRepo, suiteTree } from '../../domain/pg/suites.ts';

export function suitesRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.get('/api/test-suites', async (ctx) => {
    const q = parse(SuitesQuery, ctx.query);
    const run = await runsRepo.byId(pool, q.runId);
    if (!run || (q.projectId && run.project_id !== q.projectId)) throw notFound('run', q.runId);
    await authorize(pool, principalOf(ctx), run.project_id, 'read', { kind: 'run', id: q.runId });
    ctx.body = { data: suiteTree(await suitesRepo.ofRun(pool, q.runId)) };
  });

  return router;
}
