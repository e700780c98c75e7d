import type { ClickHouse } from '../../lib/clickhouse.ts';
import type { Pool } from '../../lib/pg.ts';
import type { z } from 'zod';
import type { FlakinessQuery } from '../../schemas/flakiness.ts';
import type { CaseTitle } from '../../domain/ch/flakiness.ts';
import { findTestCase, type TestCaseRow } from '../../domain/pg/test-cases.ts';
import { quarantines } from '../../domain/pg/quarantines.ts';
import { SCORING_VERSION, passOnlyEvidence, scoreOf, type CaseFlakiness, type FlakinessParams } from '../../domain/analytics/flakiness/score.ts';
import { byScore, caseScore, titled, withProjectScores } from '../../domain/analytics/flakiness/service.ts';

// GET /api/flakiness: a project's test cases ranked by score, filtered, one page
// of them with their evidence, and a summary of all of them; and
// GET /api/tests/:id/flakiness: one test case as that list shows it.

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
  return { testCaseId: id, lastAt: 0, incidentExecutions: 0, evidence, score: scoreOf(evidence, params) };
}

export async function listFlakiness(
  pool: Pool, ch: ClickHouse, projectId: string, q: Omit<z.infer<typeof FlakinessQuery>, 'projectId'>, params: FlakinessParams, now = new Date(),
) {
  const quarantined = await quarantines.activeIds(pool, projectId);
  return withProjectScores(pool, ch, { projectId, branch: q.branch, now }, params, async (scores) => {
    const ranked = [...scores.ranked];
    const scored = new Set(ranked.map((c) => c.testCaseId));
    for (const id of quarantined) if (!scored.has(id)) ranked.push(unscored(id, params));

    const flaky = ranked.filter((c) => c.score.classification === 'flaky');
    const matching = ranked
      .filter((c) => (q.minScore === undefined || c.score.score >= q.minScore)
        && (q.quarantined === undefined || quarantined.has(c.testCaseId) === q.quarantined)
        && (q.classification === undefined || c.score.classification === q.classification))
      .sort(byScore);
    const ids = matching.slice(q.offset, q.offset + q.limit).map((c) => c.testCaseId);
    const cases = await scores.cases(ids);
    const page = await titled(ch, projectId, ids.map((id) => cases.get(id) ?? unscored(id, params)));
    // Test cases that did not run in the window (quarantined ones) have their titles in Postgres.
    for (const c of page.filter((x) => !x.title.fullTitle)) {
      const t = await findTestCase(pool, c.testCaseId);
      if (t) c.title = { title: t.title, fullTitle: t.full_title, filePath: t.file_path };
    }

    return {
      data: page.map((c) => flakinessItemView(c, quarantined.has(c.testCaseId))),
      total: matching.length,
      limit: q.limit,
      offset: q.offset,
      summary: {
        totalFlakyTests: flaky.length,
        quarantinedTests: quarantined.size,
        averageFlakinessScore: flaky.length ? round(flaky.reduce((s, c) => s + c.score.score, 0) / flaky.length, 4) : 0,
        brokenTests: ranked.filter((c) => c.score.classification === 'broken').length,
        testsScored: ranked.length,
        incidentRuns: scores.incidentRuns,
      },
      scoringVersion: SCORING_VERSION,
      asOf: scores.asOf.toISOString(),
      source: scores.source,
      window: { from: iso(scores.fromDay * 86_400), days: params.windowDays, halfLifeDays: params.halfLifeDays },
    };
  });
}

// One test case as GET /api/flakiness lists it (scored from the same stored or
// live scores), with where its score came from. A test case that did not run in
// the window is unscored (0 executions, insufficient_data), as the list shows a
// quarantined one.
export async function caseFlakiness(
  pool: Pool, ch: ClickHouse, testCase: TestCaseRow, q: { branch?: string }, params: FlakinessParams, now = new Date(),
) {
  const [scored, isQuarantined] = await Promise.all([
    caseScore(pool, ch, { projectId: testCase.project_id, testCaseId: testCase.id, branch: q.branch, now }, params),
    quarantines.isActive(pool, testCase.id),
  ]);
  const c = scored.case ?? unscored(testCase.id, params);
  const title = { title: testCase.title, fullTitle: testCase.full_title, filePath: testCase.file_path };
  return { ...flakinessItemView({ ...c, title }, isQuarantined), asOf: scored.asOf.toISOString(), source: scored.source };
}
