import { hostname } from 'node:os';
import type { Queryable } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';

// Records that a projector's consume loop is alive, in consumer_heartbeats: one
// row per projection and instance, written at most once per interval. A fetch
// (even an empty one), a batch and a commit all count as signs of life; the
// row's timestamps come from Postgres's clock, the one /health/deep compares with.
export class Heartbeat {
  readonly instance = `${hostname()}:${process.pid}`;
  private lastWrite = 0;
  private inFlight: Promise<void> | null = null;
  private batchSeen = false;
  private commitSeen = false;
  private stopped = false;

  constructor(private db: Queryable, private projection: string, private intervalMs: number, private logger: Logger) {}

  alive(): void {
    this.maybeWrite();
  }

  batch(): void {
    this.batchSeen = true;
    this.maybeWrite();
  }

  commit(): void {
    this.commitSeen = true;
    this.maybeWrite();
  }

  // On a graceful stop the instance's row goes: it is no longer a live instance
  // (a rebuild waiting for projectors to stop need not wait for the row to age).
  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight;
    await this.db
      .query('DELETE FROM consumer_heartbeats WHERE projection = $1 AND instance = $2', [this.projection, this.instance])
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'heartbeat removal failed'));
  }

  private maybeWrite(): void {
    if (this.stopped || this.inFlight || Date.now() - this.lastWrite < this.intervalMs) return;
    this.lastWrite = Date.now();
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
      });
  }
}
