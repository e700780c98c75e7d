import type { ClickHouse } from '../../../lib/clickhouse.ts';
import { withTransaction, type Pool, type Queryable } from '../../../lib/pg.ts';
import { flakinessScores, type StoredScore } from '../../pg/flakiness-scores.ts';
import { caseCounts, caseEvidence, caseTitles, incidentCounts, incidentRuns, type CaseTitle, type Scope } from '../../ch/flakiness.ts';
import { SCORING_VERSION, dayOf, evidenceOf, passOnlyEvidence, scoreOf, type CaseFlakiness, type Evidence, type FlakinessParams, type Score } from './score.ts';

const EVIDENCE_CHUNK = 128;

export type Assessment = { asOfDay: number; fromDay: number; incidentRuns: string[]; cases: CaseFlakiness[] };

// Scores every test case of a project (or the given ones) that ran in the
// window, as of `asOf`. Two steps: the per-day aggregates give every test case's
// counts; only the test cases with a failed or flaky execution outside incident
// runs have their (sparse) histories read, because only they can have evidence.
export async function assessFlakiness(
  ch: ClickHouse,
  q: { projectId: string; branch?: string; testCaseIds?: readonly string[]; asOf: Date },
  params: FlakinessParams,
): Promise<Assessment> {
  const asOfDay = dayOf(Math.floor(q.asOf.getTime() / 1000));
  const fromDay = asOfDay - params.windowDays + 1;
  const scope: Scope = { projectId: q.projectId, branch: q.branch, fromDay, testCaseIds: q.testCaseIds };
  const [incidents, counts] = await Promise.all([
    incidentRuns(ch, q.projectId, fromDay, params),
    caseCounts(ch, scope, asOfDay, params.halfLifeDays),
  ]);
  const inIncidents = await incidentCounts(ch, scope, incidents, asOfDay, params.halfLifeDays);
  const cases = counts.map((c) => {
    const taken = inIncidents.get(c.testCaseId) ?? { executions: 0, weighted: 0, bad: 0 };
    return {
      ...c, incidentExecutions: taken.executions, executions: c.executions - taken.executions,
      weighted: c.weighted - taken.weighted, bad: c.bad - taken.bad,
    };
  }).filter((c) => c.executions > 0 || c.incidentExecutions > 0);
  const candidates = cases.filter((c) => c.bad > 0).map((c) => c.testCaseId);
  // ClickHouse works through one query's arrays on one thread: a query per
  // EVIDENCE_CHUNK candidates (dealt round-robin, so heavy histories spread) uses more cores.
  const chunks = Math.ceil(candidates.length / EVIDENCE_CHUNK);
  const parts = await Promise.all(Array.from({ length: chunks }, (_, k) =>
    caseEvidence(ch, { ...scope, testCaseIds: candidates.filter((_, i) => i % chunks === k) }, incidents)));
  const histories = new Map(parts.flatMap((m) => [...m]));

  return {
    asOfDay,
    fromDay,
    incidentRuns: incidents,
    cases: cases.map((c) => {
      const h = histories.get(c.testCaseId);
      const evidence = h
        ? evidenceOf(h.executions, asOfDay, params, { executions: c.executions, weightedExecutions: c.weighted, commitsWithPass: h.commitsWithPass })
        : passOnlyEvidence({ executions: c.executions, weightedExecutions: c.weighted });
      return { testCaseId: c.testCaseId, lastAt: c.lastAt, incidentExecutions: c.incidentExecutions, evidence, score: scoreOf(evidence, params, false) };
    }),
  };
}

// The titles of the test cases about to be shown (only those: titles are the
// expensive part of the aggregate to read).
export async function titled<T extends { testCaseId: string }>(ch: ClickHouse, projectId: string, cases: T[]): Promise<Array<T & { title: CaseTitle }>> {
  const titles = await caseTitles(ch, projectId, cases.map((c) => c.testCaseId));
  return cases.map((c) => ({ ...c, title: titles.get(c.testCaseId) ?? { title: '', fullTitle: '', filePath: '' } }));
}

export const withInterval = (c: CaseFlakiness, params: FlakinessParams): CaseFlakiness => ({ ...c, score: scoreOf(c.evidence, params) });

// A whole project scored as of `asOf`, every score with its interval: what the
// flakiness projection stores (domain/pg/flakiness-scores.ts).
export async function scoreProject(ch: ClickHouse, projectId: string, asOf: Date, params: FlakinessParams): Promise<Assessment> {
  const assessment = await assessFlakiness(ch, { projectId, asOf }, params);
  // Test cases with the same evidence totals (most of those that only passed) share their interval.
  const intervals = new Map<string, Score>();
  const cases = assessment.cases.map((c) => {
    const key = c.evidence.flakeWeight === 0 ? `${c.evidence.executions}:${c.evidence.weightedExecutions}:${c.score.classification}` : null;
    const score = (key && intervals.get(key)) || scoreOf(c.evidence, params);
    if (key) intervals.set(key, score);
    return { ...c, score };
  });
  return { ...assessment, cases };
}

// A project's scores as a reader sees them: every test case's score (to rank,
// filter and summarise), and the whole assessment of the few about to be shown.
export type ProjectScores = {
  source: 'snapshot' | 'live';
  asOf: Date;
  fromDay: number;
  incidentRuns: number;
  ranked: StoredScore[];
  cases(testCaseIds: readonly string[]): Promise<Map<string, CaseFlakiness>>;
};

// The order lists rank test cases in: by the score as shown (4 digits), then
// by id. Stored and live scores of equal evidence can differ in their last
// bits (sums taken in another order), and both must list the same order.
const shown = (score: number) => Math.round(score * 10_000);
export const byScore = (a: StoredScore, b: StoredScore) =>
  shown(b.score.score) - shown(a.score.score) || (a.testCaseId < b.testCaseId ? -1 : 1);

export const sameParams = (a: FlakinessParams, b: FlakinessParams) =>
  Object.keys(a).length === Object.keys(b).length && (Object.keys(a) as Array<keyof FlakinessParams>).every((k) => a[k] === b[k]);

// Reads a project's scores from what the flakiness projection stored when that
// is as of today, of this scoring version and these parameters, for all
// branches; otherwise scores it here (live). `use` runs inside one read-only
// snapshot of Postgres, so the ranking and the cases shown come from the same scoring.
export async function withProjectScores<T>(
  pool: Pool, ch: ClickHouse, q: { projectId: string; branch?: string; now: Date }, params: FlakinessParams,
  use: (scores: ProjectScores) => Promise<T>,
): Promise<T> {
  if (q.branch === undefined) {
    const stored = await withTransaction(pool, async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const scores = await storedScores(tx, q.projectId, dayOf(Math.floor(q.now.getTime() / 1000)), params);
      return scores && { value: await use(scores) };
    });
    if (stored) return stored.value;
  }
  const assessment = await assessFlakiness(ch, { projectId: q.projectId, branch: q.branch, asOf: q.now }, params);
  const byId = new Map(assessment.cases.map((c) => [c.testCaseId, c]));
  return use({
    source: 'live',
    asOf: q.now,
    fromDay: assessment.fromDay,
    incidentRuns: assessment.incidentRuns.length,
    ranked: assessment.cases,
    cases: async (ids) => new Map(ids.filter((id) => byId.has(id)).map((id) => [id, withInterval(byId.get(id)!, params)])),
  });
}

// One test case's score as withProjectScores gives it, without reading the
// project's other scores: the stored one while the stored scores are current
// (null if the projection did not score it), else that test case scored live.
export async function caseScore(
  pool: Pool, ch: ClickHouse, q: { projectId: string; testCaseId: string; branch?: string; now: Date }, params: FlakinessParams,
): Promise<{ source: 'snapshot' | 'live'; asOf: Date; case: CaseFlakiness | null }> {
  if (q.branch === undefined) {
    const header = await currentHeader(pool, q.projectId, dayOf(Math.floor(q.now.getTime() / 1000)), params);
    if (header) {
      const stored = await flakinessScores.cases(pool, q.projectId, [q.testCaseId], params.credibleMass);
      return { source: 'snapshot', asOf: header.scoredAt, case: stored.get(q.testCaseId) ?? null };
    }
  }
  const assessment = await assessFlakiness(ch, { projectId: q.projectId, branch: q.branch, testCaseIds: [q.testCaseId], asOf: q.now }, params);
  const c = assessment.cases.find((x) => x.testCaseId === q.testCaseId);
  return { source: 'live', asOf: q.now, case: c ? withInterval(c, params) : null };
}

// The project's stored scores' header, when they are as of `today`, of this
// scoring version and of these parameters.
async function currentHeader(db: Queryable, projectId: string, today: number, params: FlakinessParams) {
  const header = await flakinessScores.header(db, projectId);
  return header && header.asOfDay === today && header.scoringVersion === SCORING_VERSION && sameParams(header.params, params) ? header : null;
}

async function storedScores(db: Queryable, projectId: string, today: number, params: FlakinessParams): Promise<ProjectScores | null> {
  const header = await currentHeader(db, projectId, today, params);
  if (!header) return null;
  return {
    source: 'snapshot',
    asOf: header.scoredAt,
    fromDay: header.fromDay,
    incidentRuns: header.incidentRuns,
    ranked: await flakinessScores.scores(db, projectId, params.credibleMass),
    cases: (ids) => flakinessScores.cases(db, projectId, ids, params.credibleMass),
  };
}
