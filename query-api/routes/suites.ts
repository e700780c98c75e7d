import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { SuitesQuery } from '../../schemas/api.ts';
import { runsRepo } from '../pg/runs.ts';
import { suitesRepo, suiteTree } from '../pg/suites.ts';

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
