import type { PoolClient } from '../../../lib/pg.ts';
import type { EventOf } from '../../../schemas/events.ts';
import type { Outcome } from '../outcome.ts';

const TERMINAL = ['passed', 'failed', 'cancelled'];

export async function runCreated(tx: PoolClient, e: EventOf<'run.created'>): Promise<Outcome> {
  const d = e.data;
  await tx.query(
    `INSERT INTO runs (id, project_id, status, branch, commit_sha, commit_message, commit_author, ci_provider, ci_build_id,
       ci_build_url, playwright_version, workers, shard_current, shard_total, browser, os, viewport, hostname, run_title,
       tags, grep_patterns, created_at, updated_at, finished_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$22,
       CASE WHEN $3 = ANY($23::text[]) THEN $22::timestamptz END)
     ON CONFLICT (id) DO NOTHING`,
    [d.id, e.projectId, d.status, d.branch, d.commitSha, d.commitMessage, d.commitAuthor, d.ciProvider, d.ciBuildId,
      d.ciBuildUrl, d.playwrightVersion, d.workers, d.shardCurrent, d.shardTotal, d.browser, d.os, d.viewport, d.hostname,
      d.runTitle, JSON.stringify(d.tags), JSON.stringify(d.grepPatterns), d.createdAt, TERMINAL],
  );
  return { kind: 'ok' };
}

export async function runUpdated(tx: PoolClient, e: EventOf<'run.updated'>): Promise<Outcome> {
  const d = e.data;
  // A finished run without a reported duration lasted from creation to finish.
  const r = await tx.query(
    `UPDATE runs SET
       status = coalesce($2, status),
       reported_stats = CASE WHEN $3::jsonb IS NULL THEN reported_stats ELSE coalesce(reported_stats, '{}'::jsonb) || $3::jsonb END,
       finished_at = CASE WHEN $2 = ANY($6::text[]) THEN $5::timestamptz ELSE finished_at END,
       duration = coalesce($4, CASE WHEN $2 = ANY($6::text[])
                                    THEN (extract(epoch FROM ($5::timestamptz - created_at)) * 1000)::int
                                    ELSE duration END),
       updated_at = $5
     WHERE id = $1`,
    [d.id, d.status, d.stats ? JSON.stringify(d.stats) : null, d.duration, d.updatedAt, TERMINAL],
  );
  return r.rowCount ? { kind: 'ok' } : { kind: 'drop', reason: 'unknown run' };
}

export async function runDeleted(tx: PoolClient, e: EventOf<'run.deleted'>): Promise<Outcome> {
  const runId = e.data.id;
  await tx.query('DELETE FROM test_steps WHERE test_id IN (SELECT id FROM tests WHERE run_id = $1)', [runId]);
  for (const table of ['tests', 'suites', 'artifacts']) await tx.query(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
  await tx.query('DELETE FROM runs WHERE id = $1', [runId]);
  return { kind: 'ok' };
}
