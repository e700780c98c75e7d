import type { PoolClient } from '../../../lib/pg.ts';
import type { EventOf } from '../../../schemas/events.ts';
import type { Outcome } from '../outcome.ts';

export async function suiteReported(tx: PoolClient, e: EventOf<'suite.reported'>): Promise<Outcome> {
  const d = e.data;
  const run = await tx.query('SELECT 1 FROM runs WHERE id = $1', [d.runId]);
  if (!run.rowCount) return { kind: 'drop', reason: 'unknown or deleted run' };
  // Upsert by (run, file path, title): the id is derived from them.
  await tx.query(
    `INSERT INTO suites (id, run_id, project_id, title, file_path, parent_suite_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
     ON CONFLICT (id) DO UPDATE SET parent_suite_id = excluded.parent_suite_id, updated_at = excluded.updated_at`,
    [d.id, d.runId, e.projectId, d.title, d.filePath, d.parentSuiteId, d.reportedAt],
  );
  return { kind: 'ok' };
}

export async function artifactUploaded(tx: PoolClient, e: EventOf<'artifact.uploaded'>): Promise<Outcome> {
  const d = e.data;
  const run = await tx.query('SELECT 1 FROM runs WHERE id = $1', [d.runId]);
  if (!run.rowCount) return { kind: 'drop', reason: 'unknown or deleted run' };
  await tx.query(
    `INSERT INTO artifacts (id, run_id, project_id, test_id, type, file_name, file_size, mime_type, storage_key, sha256, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO NOTHING`,
    [d.id, d.runId, e.projectId, d.testId, d.type, d.fileName, d.fileSize, d.mimeType, d.storageKey, d.sha256, d.createdAt],
  );
  return { kind: 'ok' };
}

export async function quarantineChanged(tx: PoolClient, e: EventOf<'test.quarantine_changed'>): Promise<Outcome> {
  const d = e.data;
  // Latest change wins, whatever order partitions are replayed in.
  await tx.query(
    `INSERT INTO quarantines AS q (test_case_id, project_id, is_quarantined, reason, mode, owner, expires_at, changed_by, changed_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     ON CONFLICT (test_case_id) DO UPDATE SET is_quarantined = excluded.is_quarantined, reason = excluded.reason,
       mode = excluded.mode, owner = excluded.owner, expires_at = excluded.expires_at, changed_by = excluded.changed_by,
       changed_at = excluded.changed_at
     WHERE excluded.changed_at >= q.changed_at`,
    [d.testCaseId, e.projectId, d.isQuarantined, d.reason, d.mode, d.owner, d.expiresAt, `${e.actor.type}:${e.actor.id}`, d.changedAt],
  );
  await tx.query(
    `INSERT INTO quarantine_history (event_id, test_case_id, project_id, is_quarantined, reason, mode, owner, expires_at, actor, changed_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (event_id) DO NOTHING`,
    [e.id, d.testCaseId, e.projectId, d.isQuarantined, d.reason, d.mode, d.owner, d.expiresAt, `${e.actor.type}:${e.actor.id}`, d.changedAt],
  );
  return { kind: 'ok' };
}
