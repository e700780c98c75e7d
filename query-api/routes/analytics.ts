import Router from '@koa/router';
import { AppError, notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { Principal } from '../../lib/http/principal.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { id } from '../../schemas/common.ts';
import { ErrorsQuery, LeaderboardQuery, PERIOD_DAYS, SideBySideQuery, TrendsQuery, type TrendMetric } from '../../schemas/analytics.ts';
import { runsRepo } from '../../domain/pg/runs.ts';
import { findTestCase } from '../../domain/pg/test-cases.ts';
import { readProjectSettings } from '../../domain/pg/project-settings-read.ts';
import { caseTotals, errorClusters, resultBuckets, runDurationBuckets, type Bucket } from '../../domain/ch/analytics.ts';
import { compareRuns, sideBySide, type RunMeta } from '../../domain/analytics/compare.ts';
import { byScore, titled, withProjectScores } from '../../domain/analytics/flakiness/service.ts';
import { dayOf } from '../../domain/analytics/flakiness/score.ts';

const DAY = 86_400;
const dateOf = (day: number) => new Date(day * DAY * 1000).toISOString().slice(0, 10);
const mondayOf = (day: number) => day - ((day + 3) % 7); // day 0, 1970-01-01, was a Thursday
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

const UNITS: Record<TrendMetric, string> = {
  pass_rate: 'percent', flaky_rate: 'percent', failed_tests: 'count', duration_p50: 'ms', duration_p95: 'ms', run_duration: 'ms', test_count: 'count',
};

// A bucket's value for a metric: null where nothing ran.
function valueOf(metric: TrendMetric, b: Bucket): number | null {
  if (!b.executions) return null;
  switch (metric) {
    case 'pass_rate': return round((b.passed / b.executions) * 100);
    case 'flaky_rate': return round((b.flaky / b.executions) * 100);
    case 'failed_tests': return b.failed + b.timedOut;
    case 'duration_p50': return b.p50 === null ? null : Math.round(b.p50);
    case 'duration_p95': return b.p95 === null ? null : Math.round(b.p95);
    case 'test_count': return b.tests;
    default: return null;
  }
}

export function analyticsRouter({ pool, ch }: AppDeps): Router {
  const router = new Router();

  // A test case of the project, by test or test case id.
  async function caseIn(projectId: string, given: string | undefined): Promise<string | undefined> {
    if (!given) return undefined;
    const t = await findTestCase(pool, given);
    if (!t || t.project_id !== projectId) throw notFound('test', given);
    return t.id;
  }

  // Runs the caller may read, all of one project.
  async function readableRuns(principal: Principal, ids: string[]): Promise<{ projectId: string; runs: RunMeta[] }> {
    const runs: RunMeta[] = [];
    let projectId = '';
    for (const runId of ids) {
      const run = await runsRepo.byId(pool, runId);
      if (!run) throw notFound('run', runId);
      await authorize(pool, principal, run.project_id, 'read', { kind: 'run', id: runId });
      if (projectId && run.project_id !== projectId) throw new AppError('validation_error', 'the runs belong to different projects', { field: 'runIds' });
      projectId = run.project_id;
      runs.push({ id: run.id, status: run.status, branch: run.branch, commitSha: run.commit_sha, createdAt: run.created_at.toISOString() });
    }
    return { projectId, runs };
  }

  router.get('/api/analytics/trends', async (ctx) => {
    const q = parse(TrendsQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const testCaseId = await caseIn(projectId, q.testId);
    const week = q.interval === 'week';
    const today = dayOf(Math.floor(Date.now() / 1000));
    const fromDay = today - PERIOD_DAYS[q.period] + 1;
    const keys: number[] = [];
    for (let d = week ? mondayOf(fromDay) : fromDay; d <= today; d += week ? 7 : 1) keys.push(d);
    const points = new Map<number, { value: number | null; samples: number }>();
    if (q.metric === 'run_duration') {
      for (const b of await runDurationBuckets(ch, { projectId, fromDay, week, branch: q.branch })) points.set(b.bucket, { value: b.p50, samples: b.runs });
    } else {
      const quantiles = q.metric === 'duration_p50' || q.metric === 'duration_p95';
      for (const b of await resultBuckets(ch, { projectId, fromDay, week, branch: q.branch, testCaseId, quantiles, tests: q.metric === 'test_count' })) {
        points.set(b.bucket, { value: valueOf(q.metric, b), samples: b.executions });
      }
    }
    const data = keys.map((k) => ({ date: dateOf(k), value: points.get(k)?.value ?? null, samples: points.get(k)?.samples ?? 0 }));
    const values = data.map((p) => p.value).filter((v): v is number => v !== null);
    ctx.body = {
      metric: q.metric, unit: UNITS[q.metric], period: q.period, interval: q.interval, branch: q.branch ?? null, testCaseId: testCaseId ?? null,
      data,
      summary: {
        latest: values.at(-1) ?? null,
        mean: values.length ? round(values.reduce((a, b) => a + b, 0) / values.length) : null,
        change: values.length >= 2 ? round(values.at(-1)! - values[0]!) : null,
      },
    };
  });

  router.get('/api/analytics/leaderboards', async (ctx) => {
    const q = parse(LeaderboardQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const days = PERIOD_DAYS[q.period];
    const fromDay = dayOf(Math.floor(Date.now() / 1000)) - days + 1;
    const want = (t: 'slowest' | 'failing' | 'flakiest') => q.type === undefined || q.type === t;
    const body: Record<string, unknown> = { period: q.period, branch: q.branch ?? null };
    if (want('slowest')) {
      body.slowest = (await caseTotals(ch, { projectId, fromDay, branch: q.branch, order: 'p95', limit: q.limit })).map((c) => ({
        testCaseId: c.testCaseId, testTitle: c.title, filePath: c.filePath, p50: c.p50, p95: c.p95, runs: c.passedAny,
      }));
    }
    if (want('failing')) {
      body.failing = (await caseTotals(ch, { projectId, fromDay, branch: q.branch, order: 'failures', limit: q.limit })).map((c) => ({
        testCaseId: c.testCaseId, testTitle: c.title, filePath: c.filePath, failures: c.failures, runs: c.executions,
        failureRate: c.executions ? round((c.failures / c.executions) * 100) : 0,
      }));
    }
    if (want('flakiest')) {
      const params = { ...(await readProjectSettings(pool, projectId)).flakiness, windowDays: days };
      // The stored scores when the period is the scoring window (and no branch is asked for); else scored live.
      body.flakiest = await withProjectScores(pool, ch, { projectId, branch: q.branch, now: new Date() }, params, async (scores) => {
        const ids = scores.ranked.filter((c) => c.score.classification === 'flaky')
          .sort(byScore).slice(0, q.limit).map((c) => c.testCaseId);
        const cases = await scores.cases(ids);
        return (await titled(ch, projectId, ids.map((id) => cases.get(id)!))).map((c) => ({
          testCaseId: c.testCaseId, testTitle: c.title.title, filePath: c.title.filePath, flakinessScore: round(c.score.score, 4),
          flakyRuns: c.evidence.flakyExecutions, totalRuns: c.evidence.executions,
          lastFlakyAt: c.evidence.lastFlaky ? iso(c.evidence.lastFlaky.at) : null,
        }));
      });
    }
    ctx.body = body;
  });

  router.get('/api/analytics/errors', async (ctx) => {
    const q = parse(ErrorsQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const testCaseId = await caseIn(projectId, q.testId);
    const fromDay = dayOf(Math.floor(Date.now() / 1000)) - PERIOD_DAYS[q.period] + 1;
    const { clusters, total } = await errorClusters(ch, { projectId, fromDay, branch: q.branch, testCaseId, limit: q.limit, offset: q.offset });
    ctx.body = {
      data: clusters.map((c) => ({
        fingerprint: c.fingerprint, pattern: c.pattern, topFrame: c.topFrame || null, sampleMessage: c.sample,
        occurrences: c.occurrences, affectedTests: c.tests, runs: c.runs, firstSeenAt: iso(c.firstAt), lastSeenAt: iso(c.lastAt),
        flakyShare: round(c.flaky / c.occurrences, 4), mostlyFlaky: c.flaky * 2 > c.occurrences, exampleTestIds: c.exampleTests,
      })),
      total, limit: q.limit, offset: q.offset, period: q.period,
    };
  });

  router.get('/api/runs/:id/compare/:baselineId', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const baselineId = parse(id('run'), ctx.params.baselineId);
    if (runId === baselineId) throw new AppError('validation_error', 'a run compared with itself', { field: 'baselineId' });
    const { projectId, runs } = await readableRuns(principalOf(ctx), [runId, baselineId]);
    ctx.body = await compareRuns(ch, projectId, runs[0]!, runs[1]!);
  });

  router.get('/api/analytics/compare', async (ctx) => {
    const q = parse(SideBySideQuery, ctx.query);
    const { projectId, runs } = await readableRuns(principalOf(ctx), q.runIds);
    ctx.body = await sideBySide(ch, projectId, runs);
  });

  return router;
}
