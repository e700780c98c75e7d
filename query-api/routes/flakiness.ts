import Router from '@koa/router';
import type { Context } from 'koa';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf, makeEvent } from '../../domain/events.ts';
import { formatPosition } from '../../lib/event-log.ts';
import { CaseFlakinessQuery, FlakinessQuery, QuarantineBody, QuarantineHistoryQuery, QuarantineQuery, TestOrCaseId } from '../../schemas/flakiness.ts';
import { historyEntryView, quarantineEntryView, quarantines } from '../../domain/pg/quarantines.ts';
import { findTestCase } from '../../domain/pg/test-cases.ts';
import { readProjectSettings } from '../../domain/pg/project-settings-read.ts';
import { caseFlakiness, listFlakiness } from '../flakiness/list.ts';

export function flakinessRouter({ pool, ch, eventLog }: AppDeps): Router {
  const router = new Router();

  const findCase = (given: string) => findTestCase(pool, given);
  // The test case a path's :id names (its own id or a result's), once the caller
  // may read it; another project's answers 404 as an unknown one does.
  async function readableCase(ctx: Context, given: string) {
    const testCase = await findCase(given);
    if (!testCase) throw notFound('test', given);
    await authorize(pool, principalOf(ctx), testCase.project_id, 'read', { kind: 'test', id: given });
    return testCase;
  }

  router.get('/api/flakiness', async (ctx) => {
    const q = parse(FlakinessQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const { flakiness: params } = await readProjectSettings(pool, projectId);
    ctx.body = await listFlakiness(pool, ch, projectId, q, params);
  });

  // Manual quarantine and release (Euriqa's POST /api/flakiness): an event on
  // the log, answered once Kafka has it; the read models follow.
  router.post('/api/flakiness', async (ctx) => {
    const body = parse(QuarantineBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, body.projectId, 'ingest');
    const testCase = await findCase(body.testId);
    if (!testCase || testCase.project_id !== body.projectId) throw notFound('test', body.testId);
    const now = new Date().toISOString();
    const data = {
      testCaseId: testCase.id,
      isQuarantined: body.isQuarantined,
      reason: body.reason ?? (body.isQuarantined ? 'quarantined by hand' : 'released by hand'),
      mode: 'manual' as const,
      owner: body.owner ?? null,
      expiresAt: body.expiresAt ?? null,
      changedAt: now,
    };
    const event = makeEvent('test.quarantine_changed', {
      projectId: body.projectId, runId: null, actor: actorOf(principal), correlationId: (ctx.state.requestId as string) ?? null, now, data,
    });
    ctx.set('X-Runledger-Position', formatPosition(await eventLog.append([event])));
    ctx.body = { testId: body.testId, ...data, updatedAt: now };
  });

  // What reporters fetch around a run: the tests whose failures must not fail CI.
  router.get('/api/quarantine', async (ctx) => {
    const q = parse(QuarantineQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const { rows, total } = await quarantines.active(pool, projectId, q);
    ctx.body = { data: rows.map(quarantineEntryView), total, limit: q.limit, offset: q.offset };
  });

  // One test case's score, interval, classification and evidence: the item
  // GET /api/flakiness would list for it. :id is a test case id or a result's.
  router.get('/api/tests/:id/flakiness', async (ctx) => {
    const given = parse(TestOrCaseId, ctx.params.id);
    const q = parse(CaseFlakinessQuery, ctx.query);
    const testCase = await readableCase(ctx, given);
    const { flakiness: params } = await readProjectSettings(pool, testCase.project_id);
    ctx.body = await caseFlakiness(pool, ch, testCase, q, params);
  });

  router.get('/api/tests/:id/quarantine-history', async (ctx) => {
    const given = parse(TestOrCaseId, ctx.params.id);
    const q = parse(QuarantineHistoryQuery, ctx.query);
    const testCase = await readableCase(ctx, given);
    const { rows, total } = await quarantines.history(pool, testCase.id, q);
    ctx.body = { data: rows.map(historyEntryView), total, limit: q.limit, offset: q.offset, testCaseId: testCase.id };
  });

  return router;
}
