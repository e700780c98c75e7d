import { hostname } from 'node:os';
import type { Queryable } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';

// Records that a projector's consume loop is alive, in consumer_heartbeats: one
// row per projection and instance, written at most once per interval. A fetch
// (even an empty one), a batch and a commit all count as signs of life; the
// row's timestamps come from Postgres's clock, the one /health/deep compares with.
//
// It also records each partition's progress and failures in projection_progress
// (when it last committed, failed attempts, the last error): a loop that is
// alive but retries the same batch forever beats on, and only these rows show
// it is going nowhere. A failure is written at once, and so is the first commit
// after one (health shows the recovery without waiting a beat); other commits go
// with the next beat.
// committedAt: the last commit since the last write; failures: failed attempts since the
// last write; streak: failed attempts since the last commit (all of them when none since the last write).
type PartitionState = { committedAt: number | null; failures: number; streak: number; error: { message: string; at: number } | null };

export class Heartbeat {
  readonly instance = `${hostname()}:${process.pid}`;
  private lastWrite = 0;
  private inFlight: Promise<void> | null = null;
  private batchSeen = false;
  private commitSeen = false;
  private stopped = false;
  // Not yet written: per partition, the last commit, failures since the last write, the last error.
  private pending = new Map<number, PartitionState>();
  private flushTimer: NodeJS.Timeout | null = null;
  // Partitions whose last attempt failed: their next commit is a recovery.
  private failing = new Set<number>();
  // News that is written at once: kept while a write is in flight, which then writes it when done.
  private urgent = false;

  constructor(private db: Queryable, private projection: string, private intervalMs: number, private logger: Logger) {}

  alive(): void {
    this.maybeWrite();
  }

  batch(): void {
    this.batchSeen = true;
    this.maybeWrite();
  }

  commit(partition?: number): void {
    this.commitSeen = true;
    let recovered = false;
    if (partition !== undefined) {
      const s = this.state(partition);
      s.committedAt = Date.now();
      s.streak = 0;
      recovered = this.failing.delete(partition);
    }
    this.maybeWrite(recovered);
  }

  // A batch of this partition failed and will be retried.
  failed(partition: number, err: unknown): void {
    const s = this.state(partition);
    this.failing.add(partition);
    s.failures += 1;
    s.streak += 1;
    s.error = { message: String((err as Error)?.message ?? err).slice(0, 2000), at: Date.now() };
    this.maybeWrite(true);
  }

  // On a graceful stop the instance's row goes: it is no longer a live instance
  // (a rebuild waiting for projectors to stop need not wait for the row to age).
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.inFlight;
    await this.writeProgress().catch((err: Error) => this.logger.warn({ err: err.message }, 'progress write failed'));
    await this.db
      .query('DELETE FROM consumer_heartbeats WHERE projection = $1 AND instance = $2', [this.projection, this.instance])
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'heartbeat removal failed'));
  }

  private state(partition: number): PartitionState {
    let s = this.pending.get(partition);
    if (!s) this.pending.set(partition, (s = { committedAt: null, failures: 0, streak: 0, error: null }));
    return s;
  }

  private maybeWrite(urgent = false): void {
    this.urgent ||= urgent;
    if (this.stopped || this.inFlight) return;
    const wait = this.lastWrite + this.intervalMs - Date.now();
    if (wait > 0 && !this.urgent) {
      // Progress not written yet must not wait for the next sign of life: a stuck loop may give none.
      if (this.pending.size && !this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          this.maybeWrite();
        }, wait);
        this.flushTimer.unref();
      }
      return;
    }
    this.lastWrite = Date.now();
    this.urgent = false;
    const batch = this.batchSeen;
    const commit = this.commitSeen;
    this.batchSeen = this.commitSeen = false;
    this.inFlight = this.db
      .query(
        `INSERT INTO consumer_heartbeats (projection, instance, last_batch_at, last_commit_at, updated_at)
         VALUES ($1, $2, CASE WHEN $3 THEN now() END, CASE WHEN $4 THEN now() END, now())
         ON CONFLICT (projection, instance) DO UPDATE SET
           last_batch_at = COALESCE(EXCLUDED.last_batch_at, consumer_heartbeats.last_batch_at),
           last_commit_at = COALESCE(EXCLUDED.last_commit_at, consumer_heartbeats.last_commit_at),
           updated_at = now()`,
        [this.projection, this.instance, batch, commit],
      )
      .then(() => this.writeProgress())
      .then(
        () => undefined,
        // Liveness reporting must never stop the projection; a missed beat shows in /health/deep.
        (err: Error) => {
          this.batchSeen ||= batch;
          this.commitSeen ||= commit;
          this.logger.warn({ err: err.message }, 'heartbeat write failed');
        },
      )
      .finally(() => {
        this.inFlight = null;
        if (this.pending.size) this.maybeWrite();
      });
  }

  // One statement for every partition with news. Times are sent as ages and
  // turned into Postgres's clock there, like the heartbeat's own. A failed write
  // keeps the news for the next one (failure counts are added, never lost).
  private async writeProgress(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const now = Date.now();
    const rows = [...taken].map(([partition, s]) => ({
      partition,
      commit_age_ms: s.committedAt === null ? null : now - s.committedAt,
      failures: s.failures,
      streak: s.streak,
      error: s.error?.message ?? null,
      error_age_ms: s.error ? now - s.error.at : null,
    }));
    try {
      await this.db.query(
        `INSERT INTO projection_progress AS p (projection, partition, last_commit_at, failures, retries, last_error, last_error_at, updated_at)
         SELECT $1, r.partition, now() - r.commit_age_ms * interval '1 millisecond', r.failures, r.streak,
                r.error, now() - r.error_age_ms * interval '1 millisecond', now()
           FROM jsonb_to_recordset($2::jsonb) AS r(partition int, commit_age_ms float8, failures int, streak int, error text, error_age_ms float8)
         ON CONFLICT (projection, partition) DO UPDATE SET
           last_commit_at = COALESCE(EXCLUDED.last_commit_at, p.last_commit_at),
           failures = p.failures + EXCLUDED.failures,
           -- a commit since the last write starts the count again
           retries = CASE WHEN EXCLUDED.last_commit_at IS NULL THEN p.retries ELSE 0 END + EXCLUDED.retries,
           last_error = COALESCE(EXCLUDED.last_error, p.last_error),
           last_error_at = COALESCE(EXCLUDED.last_error_at, p.last_error_at),
           updated_at = now()`,
        [this.projection, JSON.stringify(rows)],
      );
    } catch (err) {
      for (const [partition, s] of taken) {
        const later = this.state(partition);
        // what happened since `taken` comes after it
        if (later.committedAt === null) {
          later.committedAt = s.committedAt;
          later.streak += s.streak;
        }
        later.failures += s.failures;
        later.error ??= s.error;
      }
      throw err;
    }
  }
}
