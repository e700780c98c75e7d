import { isDataError, withTransaction, type Pool, type PoolClient } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Event } from '../../schemas/events.ts';
import type { DeadLetter, Projection, ProjectionBatch, PublishDeadLetters } from '../kafka/consumer.ts';
import type { Outcome } from './outcome.ts';
import { runCreated, runDeleted, runUpdated } from './handlers/runs.ts';
import { testReported } from './handlers/tests.ts';
import { artifactUploaded, quarantineChanged, suiteReported } from './handlers/other.ts';
import { guardDeletedProjects, projectDeleted } from './handlers/projects.ts';

export const POSTGRES_PROJECTION = 'postgres';

function handle(tx: PoolClient, event: Event, offset: number): Promise<Outcome> {
  switch (event.type) {
    case 'run.created': return runCreated(tx, event);
    case 'run.updated': return runUpdated(tx, event);
    case 'run.deleted': return runDeleted(tx, event);
    case 'suite.reported': return suiteReported(tx, event);
    case 'test.reported': return testReported(tx, event, offset);
    case 'artifact.uploaded': return artifactUploaded(tx, event);
    case 'test.quarantine_changed': return quarantineChanged(tx, event);
    case 'project.deleted': return projectDeleted(tx, event);
    default: {
      const unreachable: never = event;
      return Promise.resolve({ kind: 'dead_letter', reason: `unhandled event type ${(unreachable as Event).type}` });
    }
  }
}

// Postgres read models (runs, tests, steps, suites, test cases, ...). A batch's
// rows and its position in projection_offsets commit in one transaction, and
// events at or below the stored position are skipped: exactly-once effect on
// top of at-least-once delivery (DESIGN §4).
export class PostgresProjection implements Projection {
  readonly name = POSTGRES_PROJECTION;

  constructor(private pool: Pool, private logger: Logger) {}

  async apply(batch: ProjectionBatch, publish: PublishDeadLetters): Promise<void> {
    const { topic, partition, events, lastOffset } = batch;
    await withTransaction(this.pool, async (tx) => {
      await tx.query(
        `INSERT INTO projection_offsets (projection, topic, partition, "offset") VALUES ($1, $2, $3, -1) ON CONFLICT DO NOTHING`,
        [this.name, topic, partition],
      );
      // The row lock also serialises two instances briefly owning one partition.
      const stored: number = (await tx.query(
        `SELECT "offset" FROM projection_offsets WHERE projection = $1 AND topic = $2 AND partition = $3 FOR UPDATE`,
        [this.name, topic, partition],
      )).rows[0].offset;

      if (lastOffset <= stored) return; // the whole batch was applied before
      const fresh = events.filter((pe) => pe.offset > stored);
      const deleted = await guardDeletedProjects(
        tx,
        new Set(fresh.map((pe) => pe.event.projectId)),
        new Set(fresh.filter((pe) => pe.event.type === 'project.deleted').map((pe) => pe.event.projectId)),
      );
      const dead: DeadLetter[] = [];
      for (const [i, pe] of fresh.entries()) {
        // A large batch outlasts the group's session on a busy machine: without a
        // heartbeat the member is dropped, the batch goes stale and is fetched again, forever.
        if (i % 100 === 99) await batch.heartbeat?.();
        const { event } = pe;
        // A deleted project's late events (other partitions, replays) change nothing.
        const outcome: Outcome = deleted.has(event.projectId) && event.type !== 'project.deleted'
          ? { kind: 'drop', reason: 'its project was deleted' }
          : await this.applyOne(tx, event, pe.offset);
        if (event.type === 'project.deleted' && outcome.kind === 'ok') deleted.add(event.projectId);
        if (outcome.kind === 'dead_letter') dead.push({ ...pe, reason: outcome.reason, step: 'postgres.apply' });
        if (outcome.kind === 'drop') this.logger.info({ partition, offset: pe.offset, type: event.type, reason: outcome.reason, correlationId: event.correlationId }, 'event dropped');
      }
      await publish(dead);
      await tx.query(
        `UPDATE projection_offsets SET "offset" = $4 WHERE projection = $1 AND topic = $2 AND partition = $3`,
        [this.name, topic, partition, lastOffset],
      );
    });
  }

  // Each event in a savepoint: one that violates a constraint is dead-lettered
  // without undoing the rest of the batch.
  private async applyOne(tx: PoolClient, event: Event, offset: number): Promise<Outcome> {
    await tx.query('SAVEPOINT event');
    try {
      const outcome = await handle(tx, event, offset);
      await tx.query('RELEASE SAVEPOINT event');
      return outcome;
    } catch (err) {
      if (!isDataError(err)) throw err;
      await tx.query('ROLLBACK TO SAVEPOINT event');
      return { kind: 'dead_letter', reason: `postgres rejected the event: ${(err as Error).message}` };
    }
  }
}
