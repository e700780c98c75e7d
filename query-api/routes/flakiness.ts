import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, projectIdFor } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { actorOf, makeEvent } from '../../ingest/events.ts';
import { formatPosition } from '../../ingest/event-log.ts';
import { FlakinessQuery, QuarantineBody, QuarantineHistoryQuery, QuarantineQuery, TestOrCaseId } from '../../schemas/flakiness.ts';
import { historyEntryView, quarantineEntryView, quarantines } from '../pg/quarantines.ts';
import { findTestCase } from '../pg/test-cases.ts';
import { readProjectSettings } from '../pg/project-settings-read.ts';
import { assessFlakiness, titled, withInterval, type CaseFlakiness } from '../flakiness/service.ts';
import type { CaseTitle } from '../ch/flakiness.ts';
import { SCORING_VERSION, passOnlyEvidence, scoreOf, type FlakinessParams } from '../flakiness/score.ts';

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

// One test case as GET /api/flakiness shows it: Euriqa's fields, then ours.
export function flakinessItemView(c: CaseFlakiness & { title: CaseTitle }, isQuarantined: boolean) {
  const ev = c.evidence;
  return {
    testId: c.testCaseId,
    testCaseId: c.testCaseId,
    testTitle: c.title.title,
    fullTitle: c.title.fullTitle,
    filePath: c.title.filePath,
    flakinessScore: round(c.score.score, 4),
    totalRuns: ev.executions,
    flakyRuns: ev.flakyExecutions,
    lastFlakyAt: ev.lastFlaky ? iso(ev.lastFlaky.at) : null,
    isQuarantined,
    interval: { lower: round(c.score.interval.lower, 6), upper: round(c.score.interval.upper, 6), mass: c.score.interval.mass },
    classification: c.score.classification,
    evidence: {
      executions: ev.executions, retryFlakes: ev.retryFlakes, sameCommitFlakes: ev.sameCommitFlakes, flakyCommits: ev.flakyCommits,
      flips: ev.flips, transientFailures: ev.transientFailures, failures: ev.failures, brokenFailures: ev.brokenFailures,
      incidentExecutionsExcluded: c.incidentExecutions, currentFailureStreak: ev.currentFailureStreak,
      weightedExecutions: round(ev.weightedExecutions, 4), flakeWeight: round(ev.flakeWeight, 4),
      exampleRunIds: ev.examples.map((x) => x.runId),
      firstFlakyCommit: ev.firstFlaky?.commit || null, lastFlakyCommit: ev.lastFlaky?.commit || null,
      firstFlakyAt: ev.firstFlaky ? iso(ev.firstFlaky.at) : null,
    },
    scoringVersion: c.score.version,
  };
}

// A quarantined test case that did not run in the window still belongs in the list.
function unscored(id: string, params: FlakinessParams): CaseFlakiness {
  const evidence = passOnlyEvidence({ executions: 0, weightedExecutions: 0 });
  return { testCaseId: id, lastAt: 0, incidentExecutions: 0, evidence, score: scoreOf(evidence, params, false) };
}

export function flakinessRouter({ pool, ch, eventLog }: AppDeps): Router {
  const router = new Router();

  const findCase = (given: string) => findTestCase(pool, given);

  router.get('/api/flakiness', async (ctx) => {
    const q = parse(FlakinessQuery, ctx.query);
    const principal = principalOf(ctx);
    const projectId = projectIdFor(principal, q.projectId);
    await authorize(pool, principal, projectId, 'read');
    const settings = await readProjectSettings(pool, projectId);
    const params = settings.flakiness;
    const asOf = new Date();
    const [assessment, quarantined] = await Promise.all([
      assessFlakiness(ch, { projectId, branch: q.branch, asOf }, params),
      quarantines.activeIds(pool, projectId),
    ]);
    const cases = assessment.cases;
    const scored = new Set(cases.map((c) => c.testCaseId));
    for (const id of quarantined) if (!scored.has(id)) cases.push(unscored(id, params));

    const flaky = cases.filter((c) => c.score.classification === 'flaky');
    const matching = cases
      .filter((c) => (q.minScore === undefined || c.score.score >= q.minScore)
        && (q.quarantined === undefined || quarantined.has(c.testCaseId) === q.quarantined)
        && (q.classification === undefined || c.score.classification === q.classification))
      .sort((a, b) => b.score.score - a.score.score || (a.testCaseId < b.testCaseId ? -1 : 1));
    const page = await titled(ch, projectId, matching.slice(q.offset, q.offset + q.limit).map((c) => withInterval(c, params)));
    // Test cases that did not run in the window (quarantined ones) have their titles in Postgres.
    for (const c of page.filter((x) => !x.title.fullTitle)) {
      const t = await findTestCase(pool, c.testCaseId);
      if (t) c.title = { title: t.title, fullTitle: t.full_title, filePath: t.file_path };
    }

    ctx.body = {
      data: page.map((c) => flakinessItemView(c, quarantined.has(c.testCaseId))),
      total: matching.length,
      limit: q.limit,
      offset: q.offset,
      summary: {
        totalFlakyTests: flaky.length,
        quarantinedTests: quarantined.size,
        averageFlakinessScore: flaky.length ? round(flaky.reduce((s, c) => s + c.score.score, 0) / flaky.length, 4) : 0,
        brokenTests: cases.filter((c) => c.score.classification === 'broken').length,
        testsScored: cases.length,
        incidentRuns: assessment.incidentRuns.length,
      },
      scoringVersion: SCORING_VERSION,
      asOf: asOf.toISOString(),
      window: { from: iso(assessment.fromDay * 86_400), days: params.windowDays, halfLifeDays: params.halfLifeDays },
    };
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
    const principal = principalOf(ctx);
    const projectId = projectIdFor(principal, q.projectId);
    await authorize(pool, principal, projectId, 'read');
    const { rows, total } = await quarantines.active(pool, projectId, q);
    ctx.body = { data: rows.map(quarantineEntryView), total, limit: q.limit, offset: q.offset };
  });

  router.get('/api/tests/:id/quarantine-history', async (ctx) => {
    const given = parse(TestOrCaseId, ctx.params.id);
    const q = parse(QuarantineHistoryQuery, ctx.query);
    const testCase = await findCase(given);
    if (!testCase) throw notFound('test', given);
    await authorize(pool, principalOf(ctx), testCase.project_id, 'read', { kind: 'test', id: given });
    const { rows, total } = await quarantines.history(pool, testCase.id, q);
    ctx.body = { data: rows.map(historyEntryView), total, limit: q.limit, offset: q.offset, testCaseId: testCase.id };
  });

  return router;
}
