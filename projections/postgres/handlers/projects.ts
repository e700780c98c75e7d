import type { PoolClient } from '../../../lib/pg.ts';
import type { EventOf } from '../../../schemas/events.ts';
import type { Outcome } from '../outcome.ts';
import { PROJECT_READ_MODELS } from '../read-models.ts';

// A project's events are spread over partitions (keyed by run), so some may be
// applied after its project.deleted: in a live race, or in any order during a
// replay. project.deleted leaves a tombstone, and the projector drops every
// later event of a tombstoned project (see `guardDeletedProjects`).
export async function projectDeleted(tx: PoolClient, e: EventOf<'project.deleted'>): Promise<Outcome> {
  const projectId = e.data.id;
  if (projectId !== e.projectId) return { kind: 'dead_letter', reason: 'project.deleted names another project than its envelope' };
  await tx.query(
    'INSERT INTO project_tombstones (project_id, deleted_at) VALUES ($1, $2) ON CONFLICT (project_id) DO NOTHING',
    [projectId, e.data.deletedAt],
  );
  // The project's artifact files are removed by projections/blobs.
  await tx.query('DELETE FROM test_steps WHERE test_id IN (SELECT id FROM tests WHERE project_id = $1)', [projectId]);
  for (const table of PROJECT_READ_MODELS) await tx.query(`DELETE FROM ${table} WHERE project_id = $1`, [projectId]);
  return { kind: 'ok' };
}

// Serialises a batch with a concurrent batch (another partition) that deletes
// one of its projects, then tells which of its projects are deleted. A batch
// deleting a project holds its lock exclusively, every other batch touching the
// project shares it; locks are taken in one order, so batches never deadlock.
// Without the lock, rows inserted by a batch that had not seen the tombstone
// could commit after the deleting batch removed what it saw.
const LOCK_SPACE = 4242002;
export async function guardDeletedProjects(tx: PoolClient, touched: Set<string>, deleting: Set<string>): Promise<Set<string>> {
  if (touched.size === 0) return new Set();
  for (const projectId of [...touched].sort()) {
    const fn = deleting.has(projectId) ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
    await tx.query(`SELECT ${fn}($1, hashtext($2))`, [LOCK_SPACE, projectId]);
  }
  const r = await tx.query('SELECT project_id FROM project_tombstones WHERE project_id = ANY($1::text[])', [[...touched]]);
  return new Set(r.rows.map((x) => x.project_id as string));
}
