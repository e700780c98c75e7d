import type { Queryable } from '../../lib/pg.ts';

// The Postgres side of GET /api/overview: projects, their runs per day and
// their last run, and the flaky/broken counts of the last scoring.
export type DailyRuns = { project_id: string; day: string; runs: number; passed: number; total: number };

const PASSED = "COALESCE((reported_stats->>'passedTests')::int, passed_tests)";
const TOTAL = "COALESCE((reported_stats->>'totalTests')::int, total_tests)";

export const overviewRepo = {
  async projectsOf(db: Queryable, teamIds: string[]): Promise<Array<{ id: string; team_id: string; name: string }>> {
    return (await db.query('SELECT id, team_id, name FROM projects WHERE team_id = ANY($1) ORDER BY created_at, id', [teamIds])).rows;
  },
  async dailyRuns(db: Queryable, projectIds: string[], fromDay: string): Promise<DailyRuns[]> {
    const r = await db.query(
      `SELECT project_id, to_char((created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, count(*)::int AS runs,
              COALESCE(sum(${PASSED}), 0)::int AS passed, COALESCE(sum(${TOTAL}), 0)::int AS total
         FROM runs WHERE project_id = ANY($1) AND created_at >= $2::date
        GROUP BY 1, 2`,
      [projectIds, fromDay],
    );
    return r.rows;
  },
  async lastRuns(db: Queryable, projectIds: string[]) {
    const r = await db.query(
      `SELECT DISTINCT ON (project_id) * FROM runs WHERE project_id = ANY($1) ORDER BY project_id, created_at DESC, id DESC`,
      [projectIds],
    );
    return r.rows;
  },
  async classifications(db: Queryable, projectIds: string[]): Promise<Array<{ project_id: string; classification: string; n: number }>> {
    const r = await db.query(
      `SELECT project_id, classification, count(*)::int AS n FROM flakiness_scores
        WHERE project_id = ANY($1) AND classification IN ('flaky', 'broken') GROUP BY 1, 2`,
      [projectIds],
    );
    return r.rows;
  },
};
