import type { Queryable } from '../lib/pg.ts';

export type RegisteredRun = { id: string; project_id: string; branch: string | null; commit_sha: string | null; created_at: Date; deleted_at: Date | null };

// ingest_runs: the write side's record of runs (see its migration for why).
export const runRegistry = {
  async register(db: Queryable, r: { id: string; projectId: string; branch: string | null; commitSha: string | null; createdAt: string }): Promise<void> {
    await db.query(
      'INSERT INTO ingest_runs (id, project_id, branch, commit_sha, created_at) VALUES ($1, $2, $3, $4, $5)',
      [r.id, r.projectId, r.branch, r.commitSha, r.createdAt],
    );
  },
  // Undo a registration whose run.created never reached the log.
  async forget(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM ingest_runs WHERE id = $1', [id]);
  },
  async find(db: Queryable, runId: string): Promise<RegisteredRun | undefined> {
    return (await db.query('SELECT * FROM ingest_runs WHERE id = $1', [runId])).rows[0];
  },
};

export const runContext = (run: RegisteredRun) => ({
  branch: run.branch,
  commitSha: run.commit_sha,
  createdAt: run.created_at.toISOString(),
});
