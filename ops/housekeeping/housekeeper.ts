import { derivedId } from '../../schemas/ids.ts';
import { sql, type ClickHouse } from '../../lib/clickhouse.ts';
import type { Pool } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';
import { makeEvent } from '../../domain/events.ts';
import type { EventLog } from '../../lib/event-log.ts';
import { IdempotencyStore } from '../../lib/http/idempotency.ts';
import { SETTINGS_DEFAULTS } from '../../schemas/accounts.ts';
import type { Event } from '../../schemas/events.ts';

// Retention and housekeeping (docs/operations.md, "Retention"), one sweep at a
// time (ops/run/housekeeping.ts runs it on RUNLEDGER_HOUSEKEEPING_CRON):
//
// 1. ClickHouse months past every project's retention are dropped whole
//    (ALTER TABLE … DROP PARTITION: no rewrite), where the table is partitioned
//    by month and the month holds no result of a run some project still keeps.
// 2. Runs older than their project's dataRetentionDays are deleted the way
//    DELETE /api/runs/:id deletes one: marked in the ingest registry, then a
//    run.deleted event on the log. Every projection (Postgres rows, ClickHouse
//    facts and the aggregates derived from them, artifact files) removes the run
//    exactly as for a user's deletion, and a replay of the log ends in the same
//    state. The event id is derived from the run, so a sweep that appends it
//    again after a crash appends the same event.
// 3. Idempotency keys past RUNLEDGER_IDEMPOTENCY_TTL_SECONDS are deleted.
//
// Quarantines past their expiry are released by the auto-quarantine reactor
// (projections/quarantine/reactor.ts, sweepExpired), not here.

export const HOUSEKEEPING_ACTOR = { type: 'system' as const, id: 'housekeeping' };
const LOCK = 4242012; // one sweep at a time across housekeeping processes
const DAY_MS = 24 * 3600 * 1000;

// ClickHouse tables partitioned by toYYYYMM of a result's started_at (the
// derived daily tables by its day): a month of them holds only results.
export const RESULT_MONTH_TABLES = ['test_results_v1', 'test_errors_v1', 'run_results_v1', 'test_case_daily_v1', 'project_daily_v1'] as const;
// runs_v1 is partitioned by toYYYYMM of the run's creation.
export const RUN_MONTH_TABLES = ['runs_v1'] as const;

export type SweepReport = {
  skipped: boolean;
  expiredRuns: number;
  droppedPartitions: Array<{ table: string; partition: string }>;
  idempotencyKeys: number;
};

export class Housekeeper {
  private idempotency: IdempotencyStore;

  constructor(
    private pool: Pool,
    private ch: ClickHouse,
    private eventLog: EventLog,
    private logger: Logger,
    private opts: { batchSize: number; idempotencyTtlSeconds: number },
  ) {
    this.idempotency = new IdempotencyStore(pool, opts.idempotencyTtlSeconds);
  }

  async sweep(now = new Date()): Promise<SweepReport> {
    const lock = await this.pool.connect();
    try {
      if (!(await lock.query('SELECT pg_try_advisory_lock($1) AS ok', [LOCK])).rows[0].ok) {
        this.logger.info('another housekeeping sweep is running: skipped');
        return { skipped: true, expiredRuns: 0, droppedPartitions: [], idempotencyKeys: 0 };
      }
      try {
        const retention = await this.retentionByProject();
        const droppedPartitions = await this.dropExpiredPartitions(now, retention);
        const expiredRuns = await this.expireRuns(now, retention);
        let idempotencyKeys = 0;
        for (let n = -1; n !== 0;) idempotencyKeys += n = await this.idempotency.sweep();
        const report = { skipped: false, expiredRuns, droppedPartitions, idempotencyKeys };
        this.logger.info(report, 'housekeeping sweep done');
        return report;
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      }
    } finally {
      lock.release();
    }
  }

  // Every project's retention in days (the default when it has no settings row).
  async retentionByProject(): Promise<Map<string, number>> {
    const rows = (await this.pool.query(
      `SELECT p.id, coalesce(s.data_retention_days, $1) AS days FROM projects p LEFT JOIN project_settings s ON s.project_id = p.id`,
      [SETTINGS_DEFAULTS.dataRetentionDays],
    )).rows as Array<{ id: string; days: number }>;
    return new Map(rows.map((r) => [r.id, Number(r.days)]));
  }

  // Marks each project's runs older than its retention deleted and appends
  // their run.deleted; then appends what an earlier sweep marked but did not
  // get onto the log (a crash, Kafka away).
  async expireRuns(now: Date, retention: Map<string, number>): Promise<number> {
    let expired = 0;
    for (const [projectId, days] of retention) {
      const cutoff = new Date(now.getTime() - days * DAY_MS);
      for (;;) {
        const marked = await this.pool.query(
          `UPDATE ingest_runs SET deleted_at = $3, expiry_pending = true
           WHERE id IN (SELECT id FROM ingest_runs WHERE project_id = $1 AND created_at < $2 AND deleted_at IS NULL ORDER BY created_at LIMIT $4)`,
          [projectId, cutoff, now, this.opts.batchSize],
        );
        expired += marked.rowCount ?? 0;
        await this.appendPending();
        if ((marked.rowCount ?? 0) < this.opts.batchSize) break;
      }
    }
    await this.appendPending();
    return expired;
  }

  private async appendPending(): Promise<void> {
    for (;;) {
      const pending = (await this.pool.query(
        'SELECT id, project_id, deleted_at FROM ingest_runs WHERE expiry_pending ORDER BY id LIMIT $1', [this.opts.batchSize],
      )).rows as Array<{ id: string; project_id: string; deleted_at: Date }>;
      if (!pending.length) return;
      const events: Event[] = pending.map((r) => ({
        ...makeEvent('run.deleted', {
          projectId: r.project_id, runId: r.id, actor: HOUSEKEEPING_ACTOR, correlationId: 'retention', now: r.deleted_at.toISOString(),
          data: { id: r.id, deletedAt: r.deleted_at.toISOString() },
        }),
        id: derivedId('event', 'retention', r.id),
      }));
      const result = await this.eventLog.appendInOrder(events);
      const done = pending.slice(0, result.appended).map((r) => r.id);
      if (done.length) await this.pool.query('UPDATE ingest_runs SET expiry_pending = false WHERE id = ANY($1)', [done]);
      if (result.error) throw result.error; // the rest stays pending for the next sweep
      this.logger.info({ runs: done.length }, 'appended run.deleted for runs past their retention');
    }
  }

  // Months that are past every project's retention, and hold no result of a
  // run any project keeps (a reporter's clock can put a kept run's result in an
  // old month), are dropped from every table partitioned by month.
  async dropExpiredPartitions(now: Date, retention: Map<string, number>): Promise<Array<{ table: string; partition: string }>> {
    // Never shorter than the default retention: an empty or half-restored
    // projects table must not read as "nothing is kept".
    const longest = Math.max(SETTINGS_DEFAULTS.dataRetentionDays, ...retention.values());
    const cutoff = Math.floor((now.getTime() - longest * DAY_MS) / 1000); // every run created before it is expired everywhere
    const monthEnds = (m: string) => Date.UTC(Number(m.slice(0, 4)), Number(m.slice(4, 6)), 1) / 1000; // the next month's first second
    const tables = [...RESULT_MONTH_TABLES, ...RUN_MONTH_TABLES];
    const parts = await this.ch.select<{ table: string; partition: string }>(
      `SELECT DISTINCT table, partition FROM system.parts
       WHERE database = ${sql.str(this.ch.database)} AND active AND ${sql.inList('table', tables)}`,
    );
    const past = parts.filter((p) => /^\d{6}$/.test(p.partition) && monthEnds(p.partition) <= cutoff);
    const resultMonths = [...new Set(past.filter((p) => (RESULT_MONTH_TABLES as readonly string[]).includes(p.table)).map((p) => p.partition))];
    const kept = new Set(resultMonths.length ? (await this.ch.select<{ m: string }>(
      `SELECT DISTINCT toString(toYYYYMM(started_at)) AS m FROM test_results_v1
       WHERE run_created_at >= toDateTime(${sql.int(cutoff)}) AND toYYYYMM(started_at) IN (${resultMonths.map((m) => sql.int(Number(m))).join(', ')})`,
    )).map((r) => r.m) : []);
    // The facts first, the tables derived from them last.
    const order = (t: string) => tables.indexOf(t as (typeof tables)[number]);
    const dropped: Array<{ table: string; partition: string }> = [];
    for (const p of past.sort((a, b) => order(a.table) - order(b.table) || a.partition.localeCompare(b.partition))) {
      if ((RESULT_MONTH_TABLES as readonly string[]).includes(p.table) && kept.has(p.partition)) continue;
      await this.ch.command(`ALTER TABLE ${sql.ident(p.table)} DROP PARTITION ${sql.int(Number(p.partition))}`);
      dropped.push(p);
    }
    if (dropped.length) this.logger.info({ dropped }, 'dropped ClickHouse partitions past every project\'s retention');
    return dropped;
  }
}
