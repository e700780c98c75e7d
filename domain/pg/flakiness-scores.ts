import type { Queryable } from '../../lib/pg.ts';
import type { CaseFlakiness, Classification, FlakinessParams, Score } from '../analytics/flakiness/score.ts';

// flakiness_snapshots / flakiness_scores (migration 013): each project's scores
// as the flakiness projection last computed them, replaced whole each time.

export type SnapshotHeader = {
  asOfDay: number;
  fromDay: number;
  scoringVersion: string;
  params: FlakinessParams;
  incidentRuns: number;
  scoredAt: Date;
};
export type StoredScore = { testCaseId: string; score: Score };
export type ScoredProject = { asOfDay: number; fromDay: number; incidentRuns: readonly string[]; cases: readonly CaseFlakiness[] };

type HeaderRow = { as_of_day: number; from_day: number; scoring_version: string; params: FlakinessParams; incident_runs: number; scored_at: Date };
const headerOf = (r: HeaderRow): SnapshotHeader => ({
  asOfDay: r.as_of_day, fromDay: r.from_day, scoringVersion: r.scoring_version, params: r.params, incidentRuns: r.incident_runs, scoredAt: r.scored_at,
});

type ScoreRow = { score: number; lower_bound: number; upper_bound: number; classification: Classification; scoring_version: string };
const scoreOfRow = (r: ScoreRow, mass: number): Score => ({
  version: r.scoring_version, score: r.score, interval: { lower: r.lower_bound, upper: r.upper_bound, mass }, classification: r.classification,
});

export const flakinessScores = {
  async header(db: Queryable, projectId: string): Promise<SnapshotHeader | null> {
    const r = (await db.query('SELECT * FROM flakiness_snapshots WHERE project_id = $1', [projectId])).rows[0] as HeaderRow | undefined;
    return r ? headerOf(r) : null;
  },

  // Every test case's score, without the evidence (what ranking and the summary need).
  async scores(db: Queryable, projectId: string, mass: number): Promise<StoredScore[]> {
    const rows = (await db.query(
      `SELECT test_case_id, score, lower_bound, upper_bound, classification, scoring_version
       FROM flakiness_scores JOIN flakiness_snapshots USING (project_id) WHERE project_id = $1`,
      [projectId],
    )).rows as Array<ScoreRow & { test_case_id: string }>;
    return rows.map((r) => ({ testCaseId: r.test_case_id, score: scoreOfRow(r, mass) }));
  },

  // The whole stored assessment of the given test cases.
  async cases(db: Queryable, projectId: string, testCaseIds: readonly string[], mass: number): Promise<Map<string, CaseFlakiness>> {
    const rows = (await db.query(
      `SELECT test_case_id, score, lower_bound, upper_bound, classification, last_at, incident_executions, evidence, scoring_version
       FROM flakiness_scores JOIN flakiness_snapshots USING (project_id) WHERE project_id = $1 AND test_case_id = ANY($2)`,
      [projectId, testCaseIds],
    )).rows;
    return new Map(rows.map((r) => [r.test_case_id, {
      testCaseId: r.test_case_id, lastAt: r.last_at, incidentExecutions: r.incident_executions, evidence: r.evidence, score: scoreOfRow(r, mass),
    }]));
  },

  // Replaces a project's scores (call inside a transaction). Every case's score must carry its interval.
  async replace(db: Queryable, projectId: string, scored: ScoredProject, params: FlakinessParams, version: string, scoredAt: Date): Promise<void> {
    await db.query('DELETE FROM flakiness_scores WHERE project_id = $1', [projectId]);
    await db.query(
      `INSERT INTO flakiness_snapshots (project_id, as_of_day, from_day, scoring_version, params, incident_runs, scored_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (project_id) DO UPDATE SET as_of_day = excluded.as_of_day, from_day = excluded.from_day,
         scoring_version = excluded.scoring_version, params = excluded.params, incident_runs = excluded.incident_runs, scored_at = excluded.scored_at`,
      [projectId, scored.asOfDay, scored.fromDay, version, JSON.stringify(params), scored.incidentRuns.length, scoredAt],
    );
    const c = scored.cases;
    if (c.length === 0) return;
    await db.query(
      `INSERT INTO flakiness_scores (project_id, test_case_id, score, lower_bound, upper_bound, classification, last_at, incident_executions, evidence)
       SELECT $1, * FROM unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::text[], $7::bigint[], $8::int[], $9::jsonb[])`,
      [projectId, c.map((x) => x.testCaseId), c.map((x) => x.score.score), c.map((x) => x.score.interval.lower), c.map((x) => x.score.interval.upper),
        c.map((x) => x.score.classification), c.map((x) => x.lastAt), c.map((x) => x.incidentExecutions), c.map((x) => JSON.stringify(x.evidence))],
    );
  },

  async remove(db: Queryable, projectIds: readonly string[]): Promise<void> {
    await db.query('DELETE FROM flakiness_scores WHERE project_id = ANY($1)', [projectIds]);
    await db.query('DELETE FROM flakiness_snapshots WHERE project_id = ANY($1)', [projectIds]);
  },

  // The parameters each project's scores were computed with, when they are as
  // of `today` and of this scoring version; and the projects gone but still scored.
  async current(db: Queryable, today: number, version: string): Promise<{ params: Map<string, FlakinessParams>; orphaned: string[] }> {
    const rows = (await db.query(
      'SELECT project_id, params FROM flakiness_snapshots WHERE as_of_day = $1 AND scoring_version = $2', [today, version],
    )).rows as Array<{ project_id: string; params: FlakinessParams }>;
    const orphaned = (await db.query(
      'SELECT s.project_id FROM flakiness_snapshots s LEFT JOIN projects p ON p.id = s.project_id WHERE p.id IS NULL',
    )).rows.map((r) => r.project_id as string);
    return { params: new Map(rows.map((r) => [r.project_id, r.params])), orphaned };
  },
};
