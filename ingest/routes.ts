import Router from '@koa/router';
import type { Context } from 'koa';
import { derivedId, newId } from '../lib/ids.ts';
import { notFound } from '../lib/errors.ts';
import { parse } from '../lib/http/errors.ts';
import { authorize, principalOf } from '../lib/http/auth.ts';
import type { AppDeps } from '../lib/http/app.ts';
import { RunCreateBody, RunPatchBody, SuiteCreateBody, TestCreateBody } from '../schemas/api.ts';
import { id } from '../schemas/common.ts';
import type { Event } from '../schemas/events.ts';
import { actorOf, makeEvent } from './events.ts';
import { formatPosition } from './event-log.ts';
import { runContext, runRegistry, type RegisteredRun } from './run-registry.ts';

// The write side: validate, authorize, append to the log, answer once Kafka
// acknowledged. Nothing here writes a read model.
export function ingestRouter(deps: AppDeps): Router {
  const { pool, eventLog } = deps;
  const router = new Router();

  async function append(ctx: Context, events: Event[]): Promise<void> {
    const positions = await eventLog.append(events);
    ctx.set('X-Runledger-Position', formatPosition(positions));
  }

  const eventFields = (ctx: Context, projectId: string, runId: string | null, now: string) => ({
    projectId, runId, now, actor: actorOf(principalOf(ctx)), correlationId: (ctx.state.requestId as string) ?? null,
  });

  // A run the caller may write to: exists, same project, not deleted.
  async function writableRun(ctx: Context, runId: string, projectId?: string): Promise<RegisteredRun> {
    const run = await runRegistry.find(pool, runId);
    if (!run || (projectId && run.project_id !== projectId)) throw notFound('run', runId);
    await authorize(pool, principalOf(ctx), run.project_id, 'ingest', { kind: 'run', id: runId });
    if (run.deleted_at) throw notFound('run', runId);
    return run;
  }

  router.post('/api/runs', async (ctx) => {
    const body = parse(RunCreateBody, ctx.request.body);
    await authorize(pool, principalOf(ctx), body.projectId, 'ingest');
    const now = new Date().toISOString();
    const { projectId, ...fields } = body;
    const runId = newId('run');
    const event = makeEvent('run.created', { ...eventFields(ctx, projectId, runId, now), data: { id: runId, ...fields, createdAt: now } });
    await runRegistry.register(pool, { id: runId, projectId, branch: body.branch, commitSha: body.commitSha, createdAt: now });
    try {
      await append(ctx, [event]);
    } catch (err) {
      await runRegistry.forget(pool, runId).catch(() => undefined);
      throw err;
    }
    ctx.status = 201;
    ctx.body = { id: runId, projectId, ...fields, createdAt: now, updatedAt: now };
  });

  router.patch('/api/runs/:id', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const body = parse(RunPatchBody, ctx.request.body);
    const run = await writableRun(ctx, runId);
    const now = new Date().toISOString();
    const { status, duration, ...stats } = body;
    const event = makeEvent('run.updated', {
      ...eventFields(ctx, run.project_id, runId, now),
      data: {
        id: runId,
        status: status ?? null,
        stats: Object.keys(stats).length ? stats : null,
        duration: duration ?? null,
        updatedAt: now,
        run: runContext(run),
      },
    });
    await append(ctx, [event]);
    ctx.body = {
      id: runId,
      status: status ?? null,
      totalTests: stats.totalTests ?? null,
      passedTests: stats.passedTests ?? null,
      failedTests: stats.failedTests ?? null,
      skippedTests: stats.skippedTests ?? null,
      flakyTests: stats.flakyTests ?? null,
      duration: duration ?? null,
      updatedAt: now,
    };
  });

  router.post('/api/tests', async (ctx) => {
    const body = parse(TestCreateBody, ctx.request.body);
    await authorize(pool, principalOf(ctx), body.projectId, 'ingest');
    const run = await writableRun(ctx, body.runId, body.projectId);
    const now = new Date().toISOString();
    const testId = newId('test');
    // `flaky` and isFlaky say the same thing: passed after a failed attempt.
    const isFlaky = body.isFlaky || body.status === 'flaky';
    const status = isFlaky && body.status === 'passed' ? 'flaky' : body.status;
    const { projectId, runId, ...fields } = body;
    const testCaseId = derivedId('testCase', projectId, body.filePath, body.fullTitle, body.variant);
    const event = makeEvent('test.reported', {
      ...eventFields(ctx, projectId, runId, now),
      data: {
        ...fields,
        id: testId, runId, testCaseId, status, isFlaky,
        suiteId: body.suiteId, lineNumber: body.lineNumber, error: body.error,
        startedAt: body.startedAt ?? now, createdAt: now, run: runContext(run),
      },
    });
    await append(ctx, [event]);
    ctx.status = 201;
    ctx.body = {
      id: testId, runId, projectId, testCaseId, title: body.title, fullTitle: body.fullTitle,
      status, duration: body.duration, isFlaky, createdAt: now,
    };
  });

  router.post('/api/test-suites', async (ctx) => {
    const body = parse(SuiteCreateBody, ctx.request.body);
    await authorize(pool, principalOf(ctx), body.projectId, 'ingest');
    await writableRun(ctx, body.runId, body.projectId);
    const now = new Date().toISOString();
    // Upsert by title + file path within the run: the same pair is the same suite.
    const suiteId = derivedId('suite', body.runId, body.filePath ?? '', body.title);
    const event = makeEvent('suite.reported', {
      ...eventFields(ctx, body.projectId, body.runId, now),
      data: { id: suiteId, runId: body.runId, title: body.title, filePath: body.filePath, parentSuiteId: body.parentSuiteId, reportedAt: now },
    });
    await append(ctx, [event]);
    ctx.status = 201;
    ctx.body = {
      id: suiteId, runId: body.runId, projectId: body.projectId, title: body.title, filePath: body.filePath,
      parentSuiteId: body.parentSuiteId, createdAt: now,
    };
  });

  return router;
}
