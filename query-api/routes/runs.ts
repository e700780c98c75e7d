import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, projectIdFor } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { RunsQuery } from '../../schemas/api.ts';
import { id } from '../../schemas/common.ts';
import { runListView, runView, runsRepo } from '../pg/runs.ts';

export function runsRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.get('/api/runs', async (ctx) => {
    const q = parse(RunsQuery, ctx.query);
    const principal = principalOf(ctx);
    const projectId = projectIdFor(principal, q.projectId);
    await authorize(pool, principal, projectId, 'read');
    const { rows, total } = await runsRepo.list(pool, { ...q, projectId });
    ctx.body = { data: rows.map(runListView), total, limit: q.limit, offset: q.offset };
  });

  router.get('/api/runs/:id', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const run = await runsRepo.byId(pool, runId);
    if (!run) throw notFound('run', runId);
    await authorize(pool, principalOf(ctx), run.project_id, 'read', { kind: 'run', id: runId });
    ctx.body = runView(run);
  });

  return router;
}
