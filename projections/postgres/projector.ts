import { withTransaction, type Pool, type PoolClient } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Event } from '../../schemas/events.ts';
import type { DeadLetter, PositionedEvent, Projection, ProjectionBatch, PublishDeadLetters } from '../kafka/consumer.ts';
import { applyIsolating, classifyPostgresError, rejectionReason } from '../kafka/isolate.ts';
import type { Outcome } from './outcome.ts';
import { runCreated, runDeleted, runUpdated } from './handlers/runs.ts';
import { testsReported, type ReportedTest } from './handlers/tests.ts';
import { artifactUploaded, quarantineChanged, suiteReported } from './handlers/other.ts';
import { guardDeletedProjects, projectDeleted } from './handlers/projects.ts';

export const POSTGRES_PROJECTION = 'postgres';

// Every type but test.reported, applied one event at a time: they are few.
function handleOne(tx: PoolClient, event: Exclude<Event, { type: 'test.reported' }>): Promise<Outcome> {
  switch (event.type) {
    case 'run.created': return runCreated(tx, event);
    case 'run.updated': return runUpdated(tx, event);
    case 'run.deleted': return runDeleted(tx, event);
    case 'suite.reported': return suiteReported(tx, event);
    case 'artifact.uploaded': return artifactUploaded(tx, event);
    case 'test.quarantine_changed': return quarantineChanged(tx, event);
    case 'project.deleted': return projectDeleted(tx, event);
    default: {
      const unreachable: never = event;
      return Promise.resolve({ kind: 'dead_letter', reason: `unhandled event type ${(unreachable as Event).type}` });
    }
  }
}

type Applied = { pe: PositionedEvent; outcome: Outcome };
// ~10 MB of ids.
const KNOWN_CASES_MAX = 100_000;

// Postgres read models (runs, tests, steps, suites, test cases, ...). A batch's
// rows and its position in projection_offsets commit in one transaction, and
// events at or below the stored position are skipped: exactly-once effect on
// top of at-least-once delivery (DESIGN §4).
//
// Set-based (issue 15 §1): consecutive test.reported events, the bulk of the
// log, are written with one statement per table (handlers/tests.ts); any other
// event first flushes the results before it, so log order holds where it
// matters (run.created before its results, run.deleted after them). The whole
// batch runs in one savepoint; when Postgres rejects a value (SQLSTATE class
// 22/23) the batch is bisected down to the rejected events, which are
// dead-lettered, and the rest commits (projections/kafka/isolate.ts).
export class PostgresProjection implements Projection {
  readonly name = POSTGRES_PROJECTION;
  // Test cases known to be stored, so their results need no test_cases write
  // (handlers/tests.ts). Added to only after the batch that stored them
  // committed; emptied when full, which costs one write per case again. A
  // reset of the read models happens with the projection stopped (reset.ts),
  // and a deleted project's later events are dropped, so an id here never
  // names a row that is gone while it matters.
  private knownCases = new Set<string>();

  constructor(private pool: Pool, private logger: Logger) {}

  async apply(batch: ProjectionBatch, publish: PublishDeadLetters): Promise<void> {
    const { topic, partition, events, lastOffset } = batch;
    let committed: Applied[] = [];
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
      let deleted = await guardDeletedProjects(
        tx,
        new Set(fresh.map((pe) => pe.event.projectId)),
        new Set(fresh.filter((pe) => pe.event.type === 'project.deleted').map((pe) => pe.event.projectId)),
      );
      const applied: Applied[] = [];
      const rejected = await applyIsolating(
        fresh,
        async (part) => {
          // All or nothing: a rejected part leaves no row and no trace in `deleted`.
          const tentative = new Set(deleted);
          await tx.query('SAVEPOINT batch');
          try {
            const outcomes = await this.applyInOrder(tx, part, tentative, batch.heartbeat);
            await tx.query('RELEASE SAVEPOINT batch');
            applied.push(...outcomes);
            deleted = tentative;
          } catch (err) {
            await tx.query('ROLLBACK TO SAVEPOINT batch');
            throw err;
          }
        },
        classifyPostgresError,
        () => undefined,
      );
      const dead: DeadLetter[] = rejected.map(({ item, error }) => ({ ...item, reason: rejectionReason('postgres', error), step: 'postgres.apply' }));
      for (const { pe, outcome } of applied) {
        if (outcome.kind === 'dead_letter') dead.push({ ...pe, reason: outcome.reason, step: 'postgres.apply' });
        if (outcome.kind === 'drop') {
          this.logger.info({ partition, offset: pe.offset, type: pe.event.type, reason: outcome.reason, correlationId: pe.event.correlationId }, 'event dropped');
        }
      }
      dead.sort((a, b) => a.offset - b.offset);
      await publish(dead);
      await tx.query(
        `UPDATE projection_offsets SET "offset" = $4 WHERE projection = $1 AND topic = $2 AND partition = $3`,
        [this.name, topic, partition, lastOffset],
      );
      committed = applied;
    });
    this.rememberCases(committed);
  }

  private rememberCases(applied: readonly Applied[]): void {
    if (this.knownCases.size > KNOWN_CASES_MAX) this.knownCases.clear();
    for (const { pe: { event }, outcome } of applied) {
      if (event.type === 'test.reported' && outcome.kind === 'ok') this.knownCases.add(event.data.testCaseId);
    }
  }

  // Applies events in log order, results in runs of consecutive ones. `deleted`
  // holds the projects deleted so far: a deleted project's late events (other
  // partitions, replays) change nothing.
  private async applyInOrder(
    tx: PoolClient, events: readonly PositionedEvent[], deleted: Set<string>, heartbeat?: () => Promise<void>,
  ): Promise<Applied[]> {
    const out: Applied[] = [];
    let results: Array<ReportedTest & { pe: PositionedEvent }> = [];
    const flush = async () => {
      if (results.length === 0) return;
      const outcomes = await testsReported(tx, results, this.knownCases);
      results.forEach((r, i) => out.push({ pe: r.pe, outcome: outcomes[i]! }));
      results = [];
      // A large batch outlasts the group's session on a busy machine: without a
      // heartbeat the member is dropped, the batch goes stale and is fetched again, forever.
      await heartbeat?.();
    };
    let sinceBeat = 0;
    for (const pe of events) {
      const { event } = pe;
      if (deleted.has(event.projectId) && event.type !== 'project.deleted') {
        // Results before it still go first: `out` stays in log order.
        await flush();
        out.push({ pe, outcome: { kind: 'drop', reason: 'its project was deleted' } });
        continue;
      }
      if (event.type === 'test.reported') {
        results.push({ event, offset: pe.offset, pe });
        if (results.length >= 5000) await flush();
        continue;
      }
      await flush();
      const outcome = await handleOne(tx, event);
      if (event.type === 'project.deleted' && outcome.kind === 'ok') deleted.add(event.projectId);
      out.push({ pe, outcome });
      if (++sinceBeat % 100 === 0) await heartbeat?.();
    }
    await flush();
    return out;
  }
}
