import type { PoolClient } from '../../lib/pg.ts';
import type { EventLog } from '../../lib/event-log.ts';
import { makeEvent } from '../../domain/events.ts';
import type { Actor } from '../../schemas/events.ts';
import { projects } from '../../domain/pg/projects.ts';

// Deleting projects, inside the caller's transaction: the management rows go
// directly (keys, settings and the ingest run registry cascade), the data goes
// through the log: one project.deleted each, which every projection applies
// (Postgres read models, ClickHouse facts, and the blob store's hook).
//
// The events are appended before the transaction commits: if Kafka cannot take
// them the transaction rolls back and nothing is deleted (503); if the commit
// failed after the append, the projections delete the data of a project that
// still exists, and deleting it again finishes the job (the event is idempotent).
export async function deleteProjectsThroughLog(
  tx: PoolClient,
  eventLog: EventLog,
  projectIds: string[],
  cause: { actor: Actor; requestId: string | null },
): Promise<void> {
  if (projectIds.length === 0) return;
  const now = new Date().toISOString();
  const events = projectIds.map((id) => makeEvent('project.deleted', {
    projectId: id, runId: null, actor: cause.actor, correlationId: cause.requestId, now, data: { id, deletedAt: now },
  }));
  await projects.delete(tx, projectIds);
  await eventLog.append(events);
}
