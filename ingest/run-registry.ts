import { withTransaction, type Pool, type Queryable } from '../lib/pg.ts';
import type { RunStatus } from '../schemas/common.ts';

export type RegisteredRun = {
  id: string; project_id: string; branch: string | null; commit_sha: string | null; created_at: Date; deleted_at: Date | null;
  ci_build_id: string | null; shard_total: number | null;
};

type NewRun = { id: string; projectId: string; branch: string | null; commitSha: string | null; createdAt: string };
export type RunStats = Partial<Record<'totalTests' | 'passedTests' | 'failedTests' | 'skippedTests' | 'flakyTests', number>>;
export type ShardReport = { shard: number | undefined; status: RunStatus | null; stats: RunStats | null; duration: number | null; at: string };
// What the run as a whole becomes after one shard reported.
export type ShardOutcome = {
  shard: { current: number; total: number; status: RunStatus };
  finished: number;
  status: RunStatus | null; // set once every shard finished
  stats: RunStats | null;
  duration: number | null;
};

const TERMINAL = new Set<string>(['passed', 'failed', 'cancelled']);
const STAT_FIELDS = ['totalTests', 'passedTests', 'failedTests', 'skippedTests', 'flakyTests'] as const;

// ingest_runs: the write side's record of runs (see its migrations for why).
export const runRegistry = {
  async register(db: Queryable, r: NewRun): Promise<RegisteredRun> {
    return (await db.query(
      'INSERT INTO ingest_runs (id, project_id, branch, commit_sha, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [r.id, r.projectId, r.branch, r.commitSha, r.createdAt],
    )).rows[0];
  },

  // One run per project + CI build for all its shards: the first shard registers
  // it, the others join it. Each shard gets a row (its number, or the next free one).
  async registerShard(pool: Pool, r: NewRun & { ciBuildId: string; shardTotal: number; shardCurrent: number | null }): Promise<{ run: RegisteredRun; joined: boolean; shard: number | null }> {
    return withTransaction(pool, async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO ingest_runs (id, project_id, branch, commit_sha, created_at, ci_build_id, shard_total)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (project_id, ci_build_id) WHERE shard_total IS NOT NULL DO NOTHING RETURNING *`,
        [r.id, r.projectId, r.branch, r.commitSha, r.createdAt, r.ciBuildId, r.shardTotal],
      );
      const run: RegisteredRun = inserted.rows[0] ?? (await tx.query(
        'SELECT * FROM ingest_runs WHERE project_id = $1 AND ci_build_id = $2 AND shard_total IS NOT NULL FOR UPDATE',
        [r.projectId, r.ciBuildId],
      )).rows[0];
      const joined = inserted.rowCount === 0;
      if (run.deleted_at) return { run, joined, shard: null };
      const shard = r.shardCurrent ?? await nextShard(tx, run.id);
      const mine = await tx.query(
        `INSERT INTO ingest_run_shards (run_id, shard, status, updated_at) VALUES ($1, $2, 'running', $3) ON CONFLICT DO NOTHING`,
        [run.id, shard, r.createdAt],
      );
      // A shard registering again (a retry) must not lose the first registration on undo.
      return { run, joined, shard: mine.rowCount ? shard : null };
    });
  },

  // Undo a registration whose run.created never reached the log. A merged run
  // that another shard joined meanwhile stays; only this shard's row goes.
  async forget(db: Queryable, id: string, shard?: number | null): Promise<void> {
    if (shard !== undefined && shard !== null) await db.query('DELETE FROM ingest_run_shards WHERE run_id = $1 AND shard = $2', [id, shard]);
    await db.query('DELETE FROM ingest_runs r WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ingest_run_shards s WHERE s.run_id = r.id)', [id]);
  },

  async find(db: Queryable, runId: string): Promise<RegisteredRun | undefined> {
    return (await db.query('SELECT * FROM ingest_runs WHERE id = $1', [runId])).rows[0];
  },

  // Marks a run deleted; false when it already was (two deletes racing).
  async markDeleted(db: Queryable, runId: string, at: string): Promise<boolean> {
    return ((await db.query('UPDATE ingest_runs SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL', [runId, at])).rowCount ?? 0) > 0;
  },
  async unmarkDeleted(db: Queryable, runId: string): Promise<void> {
    await db.query('UPDATE ingest_runs SET deleted_at = NULL WHERE id = $1', [runId]);
  },

  // Records one shard's report under a lock on the run, so two shards finishing
  // at once cannot both miss that the other finished.
  async reportShard(pool: Pool, run: RegisteredRun, r: ShardReport): Promise<ShardOutcome> {
    const total = run.shard_total!;
    return withTransaction(pool, async (tx) => {
      await tx.query('SELECT 1 FROM ingest_runs WHERE id = $1 FOR UPDATE', [run.id]);
      const rows = (await tx.query('SELECT shard, status FROM ingest_run_shards WHERE run_id = $1 ORDER BY shard', [run.id])).rows;
      // Without shardCurrent a finish counts for the lowest shard still running.
      const shard = r.shard ?? rows.find((x) => x.status === 'running')?.shard ?? await nextShard(tx, run.id);
      // Without a status (stats only) the shard keeps the status it had.
      const saved = await tx.query(
        `INSERT INTO ingest_run_shards AS s (run_id, shard, status, stats, duration, updated_at) VALUES ($1, $2, coalesce($3, 'running'), $4, $5, $6)
         ON CONFLICT (run_id, shard) DO UPDATE SET status = coalesce($3, s.status),
           stats = CASE WHEN excluded.stats IS NULL THEN s.stats ELSE coalesce(s.stats, '{}'::jsonb) || excluded.stats END,
           duration = coalesce(excluded.duration, s.duration), updated_at = excluded.updated_at
         RETURNING status`,
        [run.id, shard, r.status, r.stats ? JSON.stringify(r.stats) : null, r.duration, r.at],
      );
      const finished = (await tx.query('SELECT status, stats, duration FROM ingest_run_shards WHERE run_id = $1', [run.id])).rows
        .filter((x) => TERMINAL.has(x.status)) as Array<{ status: RunStatus; stats: RunStats | null; duration: number | null }>;
      const outcome: ShardOutcome = { shard: { current: shard, total, status: saved.rows[0].status }, finished: finished.length, status: null, stats: null, duration: null };
      if (finished.length < total) return outcome;
      const statuses = new Set(finished.map((x) => x.status));
      outcome.status = statuses.has('failed') ? 'failed' : statuses.has('cancelled') ? 'cancelled' : 'passed';
      // Counts add up across shards when every shard reported them; otherwise the
      // projections count the run's tests, which covers every shard's results.
      const stats: RunStats = {};
      for (const f of STAT_FIELDS) if (finished.every((x) => x.stats?.[f] !== undefined)) stats[f] = finished.reduce((n, x) => n + x.stats![f]!, 0);
      outcome.stats = Object.keys(stats).length ? stats : null;
      // Shards run side by side: the run lasted as long as its longest shard.
      outcome.duration = finished.every((x) => x.duration !== null) ? Math.max(...finished.map((x) => x.duration!)) : null;
      return outcome;
    });
  },
};

// ingest_suites: the suites reported for a run, which a test's suiteId and a
// suite's parentSuiteId may name.
export const suiteRegistry = {
  // true when it is new (only then does an undo remove it)
  async register(db: Queryable, runId: string, suiteId: string): Promise<boolean> {
    return ((await db.query('INSERT INTO ingest_suites (run_id, suite_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [runId, suiteId])).rowCount ?? 0) > 0;
  },
  async forget(db: Queryable, runId: string, suiteId: string): Promise<void> {
    await db.query('DELETE FROM ingest_suites WHERE run_id = $1 AND suite_id = $2', [runId, suiteId]);
  },
  async has(db: Queryable, runId: string, suiteId: string): Promise<boolean> {
    return (await db.query('SELECT 1 FROM ingest_suites WHERE run_id = $1 AND suite_id = $2', [runId, suiteId])).rowCount === 1;
  },
};

async function nextShard(db: Queryable, runId: string): Promise<number> {
  return (await db.query('SELECT coalesce(max(shard), 0) + 1 AS n FROM ingest_run_shards WHERE run_id = $1', [runId])).rows[0].n;
}

export const runContext = (run: RegisteredRun) => ({
  branch: run.branch,
  commitSha: run.commit_sha,
  createdAt: run.created_at.toISOString(),
});
