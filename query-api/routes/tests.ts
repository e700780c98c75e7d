import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { isId } from '../../schemas/ids.ts';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { HistoryQuery, TestsQuery } from '../../schemas/api.ts';
import { id } from '../../schemas/common.ts';
import { stepView, testListView, testView, testsRepo, type TestRow } from '../../domain/pg/tests.ts';
import { testResults } from '../../domain/ch/test-results.ts';
import { artifactView } from './artifacts.ts';
import { artifactsRepo } from '../../domain/pg/artifacts.ts';
import { runsRepo } from '../../domain/pg/runs.ts';

export function testsRouter({ pool, ch, config }: AppDeps): Router {
  const router = new Router();

  // A test result by its id, or (where the contract says testId) the latest
  // result of a test case by the test case id.
  async function readableTest(ctx: Context): Promise<TestRow> {
    const given = parse(z.union([id('test'), id('testCase')]), ctx.params.id);
    const test = isId('test', given) ? await testsRepo.byId(pool, given) : await testsRepo.latestOfCase(pool, given);
    if (!test) throw notFound('test', given);
    await authorize(pool, principalOf(ctx), test.project_id, 'read', { kind: 'test', id: given });
    return test;
  }

  router.get('/api/tests', async (ctx) => {
    const q = parse(TestsQuery, ctx.query);
    const principal = principalOf(ctx);
    let projectId: string;
    if (q.runId && q.projectId === undefined) {
      // A run's tests: the run names the project (a user needs no projectId).
      const run = await runsRepo.byId(pool, q.runId);
      if (!run) throw notFound('run', q.runId);
      await authorize(pool, principal, run.project_id, 'read', { kind: 'run', id: q.runId });
      projectId = run.project_id;
    } else {
      projectId = await readableProject(pool, principal, q.projectId);
      // A run of another project answers 404, as an unknown one does (not an empty list).
      if (q.runId) {
        const run = await runsRepo.byId(pool, q.runId);
        if (!run || run.project_id !== projectId) throw notFound('run', q.runId);
      }
    }
    const { rows, total } = await testsRepo.list(pool, { ...q, projectId });
    ctx.body = { data: rows.map(testListView), total, limit: q.limit, offset: q.offset };
  });

  // With its artifacts (Euriqa: "each test includes … artifacts"), each with a fresh signed URL.
  router.get('/api/tests/:id', async (ctx) => {
    const test = await readableTest(ctx);
    const artifacts = await artifactsRepo.ofTest(pool, test.id);
    ctx.body = { ...testView(test), artifacts: artifacts.map((a) => artifactView(a, config, `${ctx.protocol}://${ctx.host}`)) };
  });

  router.get('/api/tests/:id/steps', async (ctx) => {
    const test = await readableTest(ctx);
    ctx.body = { data: (await testsRepo.steps(pool, test.id)).map(stepView) };
  });

  router.get('/api/tests/:id/history', async (ctx) => {
    const q = parse(HistoryQuery, ctx.query);
    const test = await readableTest(ctx);
    const { rows, total } = await testResults.history(ch, { projectId: test.project_id, testCaseId: test.test_case_id, ...q });
    ctx.body = { data: rows, total, limit: q.limit, offset: q.offset, testCaseId: test.test_case_id };
  });

  return router;
}
