import { withTransaction, type Pool } from '../../lib/pg.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import { derivedId } from '../../schemas/ids.ts';
import { nextRunOf, type ScheduleRow } from '../../domain/pg/schedules.ts';
import { webhooks } from '../../domain/pg/webhooks.ts';
import { buildDigest } from '../../domain/analytics/digest.ts';
import { enqueue } from '../../domain/webhooks/deliveries.ts';

// Scheduled digests, in the webhooks dispatcher's process. Every tick it looks
// for active schedules whose next_run_at is due and, for each, in one
// transaction: claims the due time (UPDATE … SET next_run_at = <next after now>
// WHERE id = $1 AND next_run_at = <due>: of several instances exactly one
// updates the row), builds the digest and inserts its deliveries to the
// project's hooks that want `digest.ready`. A crash before the commit leaves
// the due time unclaimed, so it fires later; after the commit the deliveries
// exist. A schedule due while no instance ran fires once, at start, with the
// period since its last run (the next run is computed from now, not from the
// missed one).
export class DigestScheduler {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;

  constructor(
    private pool: Pool,
    private ch: ClickHouse,
    private logger: Logger,
    private opts: { everyMs: number; onEnqueued?: () => void; now?: () => Date; linkBase?: string | null },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.opts.everyMs);
    this.timer.unref();
    void this.tick();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    const t: Promise<void> = this.fireDue()
      .then(() => undefined, (err) => this.logger.warn({ err }, 'digest scheduler tick failed'))
      .finally(() => {
        this.ticking = null;
      });
    this.ticking = t;
    return t;
  }

  // Fires every schedule that is due now; returns how many this instance fired.
  async fireDue(): Promise<number> {
    const now = this.opts.now?.() ?? new Date();
    const due = (await this.pool.query(
      'SELECT * FROM schedules WHERE is_active AND next_run_at <= $1 ORDER BY next_run_at LIMIT 50', [now],
    )).rows as ScheduleRow[];
    let fired = 0;
    for (const s of due) {
      if (await this.fire(s, now)) fired++;
    }
    return fired;
  }

  private async fire(s: ScheduleRow, now: Date): Promise<boolean> {
    const next = nextRunOf(s.cron, s.timezone);
    const n = await withTransaction(this.pool, async (tx) => {
      const claimed = await tx.query(
        'UPDATE schedules SET next_run_at = $3, last_run_at = $2 WHERE id = $1 AND next_run_at = $2 AND is_active RETURNING id',
        [s.id, s.next_run_at, next],
      );
      if (claimed.rowCount !== 1) return null; // another instance has it, or it was paused or changed
      const hooks = (await webhooks.subscribers(tx, [s.project_id])).filter((h) => h.events.includes('digest.ready'));
      if (!hooks.length) return 0;
      const data = await buildDigest(tx, this.ch, { projectId: s.project_id, scheduleId: s.id, from: s.last_run_at ?? s.created_at, to: now });
      return enqueue(tx, [{
        id: derivedId('event', 'digest', s.id, s.next_run_at!.toISOString()), event: 'digest.ready', projectId: s.project_id,
        timestamp: s.next_run_at!.toISOString(), data,
      }], hooks, this.opts.linkBase ?? null);
    });
    if (n === null) return false;
    this.logger.info({ scheduleId: s.id, due: s.next_run_at, next, deliveries: n }, 'digest fired');
    if (n) this.opts.onEnqueued?.();
    return true;
  }
}
