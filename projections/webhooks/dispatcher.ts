import { withTransaction, type Pool } from '../../lib/pg.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import { derivedId } from '../../lib/ids.ts';
import type { EventOf, EventType } from '../../schemas/events.ts';
import type { Projection, ProjectionBatch } from '../kafka/consumer.ts';
import { waitForProjection } from '../kafka/wait-for.ts';
import { webhooks, type WebhookRow } from '../../query-api/pg/webhooks.ts';
import { runsRepo, runView } from '../../query-api/pg/runs.ts';
import { clickhousePosition } from '../../query-api/ch/flakiness.ts';
import { assessFlakiness } from '../../query-api/flakiness/service.ts';
import { readProjectSettings } from '../../query-api/pg/project-settings-read.ts';
import { compareRuns, type RunMeta } from '../../query-api/analytics/compare.ts';
import { runTestCases } from '../../query-api/ch/flakiness.ts';
import { resultBuckets } from '../../query-api/ch/analytics.ts';
import { dayOf } from '../../query-api/flakiness/score.ts';
import { enqueue, type WebhookEventOut } from './deliveries.ts';

export const WEBHOOKS_DISPATCHER = 'webhooks';
const FINAL = new Set(['passed', 'failed', 'cancelled']);
const DERIVED = ['test.flaky_detected', 'run.regression_detected', 'threshold.breached'];

type Options = { waitMs?: number; onEnqueued?: () => void; onClose?: () => Promise<void> };

// The webhook dispatcher: a consumer of the log with its own consumer group
// (a reactor, like projections/quarantine). For each batch it turns the events
// into webhook events, finds the project's active hooks subscribed to them, and
// inserts one delivery row per (event, hook) with ON CONFLICT DO NOTHING, in
// one statement (one transaction). It returns only after that commit, and the consumer adapter
// commits the Kafka offset only after it returned: offsets never pass an event
// whose deliveries do not exist yet, and a batch read again after a crash
// inserts nothing new (the delivery id is derived from (event id, webhook id)).
// Sending is the sender's job (sender.ts), from Postgres.
//
//   run.updated with a final status  → run.completed (passed, cancelled) / run.failed
//   test.quarantine_changed          → test.quarantined / test.unquarantined
//   a finished run, when a hook wants them (after the projectors caught up):
//     test.flaky_detected     one per test case of the run the flakiness service classifies flaky
//     run.regression_detected the run compared with the previous finished run of its branch says `regression: true`
//
// A hook receives the events ingest received after the hook was created, never
// older ones, so a new consumer group reading the log from its start does not
// replay history into today's hooks.
export class WebhookDispatcher implements Projection {
  readonly name = WEBHOOKS_DISPATCHER;
  // The rest is skipped undecoded (projections/kafka/consumer.ts).
  readonly handles: ReadonlySet<EventType> = new Set<EventType>(['run.updated', 'test.quarantine_changed']);

  constructor(
    private pool: Pool,
    private ch: ClickHouse,
    private topic: string,
    private logger: Logger,
    private opts: Options = {},
  ) {}

  private get waiting() {
    return { timeoutMs: this.opts.waitMs ?? 60_000, pollMs: 100 };
  }

  async close(): Promise<void> {
    await this.opts.onClose?.();
  }

  async apply(batch: ProjectionBatch): Promise<void> {
    const hooks = await webhooks.subscribers(this.pool, [...new Set(batch.events.map((e) => e.event.projectId))]);
    if (hooks.length === 0) return;
    const out: WebhookEventOut[] = [];
    for (const { event, offset } of batch.events) {
      const mine = hooks.filter((h) => h.project_id === event.projectId && h.created_at.getTime() <= Date.parse(event.receivedAt));
      if (mine.length === 0) continue;
      const found: WebhookEventOut[] = [];
      if (event.type === 'test.quarantine_changed') found.push(quarantineEvent(event));
      if (event.type === 'run.updated' && event.data.status && FINAL.has(event.data.status)) {
        found.push(...(await this.runFinished(batch, offset, event, mine)));
      }
      out.push(...found.map((f) => ({ ...f, receivedAt: event.receivedAt })));
    }
    if (out.length === 0) return;
    // One statement, so one transaction: all of the batch's deliveries or none.
    const n = await enqueue(this.pool, out, hooks);
    if (n) this.opts.onEnqueued?.();
    this.logger.debug({ partition: batch.partition, events: out.length, deliveries: n }, 'deliveries enqueued');
  }

  private async runFinished(batch: ProjectionBatch, offset: number, e: EventOf<'run.updated'>, hooks: WebhookRow[]): Promise<WebhookEventOut[]> {
    // The run's counts come from the Postgres read model: wait until it applied this event.
    await waitForProjection(batch, () => postgresPosition(this.pool, this.topic, batch.partition), offset, 'postgres', this.waiting);
    const row = await runsRepo.byId(this.pool, e.data.id);
    if (!row) return []; // deleted since
    const run = runView(row);
    const status = e.data.status!;
    const name = status === 'failed' ? 'run.failed' : 'run.completed';
    const out: WebhookEventOut[] = [{
      id: derivedId('event', 'webhook', name, e.data.id), event: name, projectId: e.projectId, timestamp: e.occurredAt,
      data: { run: { ...run, status } },
    }];
    if (!hooks.some((h) => h.events.some((x) => DERIVED.includes(x)))) return out;
    // Derived signals read ClickHouse: wait until its projector applied the run's results.
    await waitForProjection(batch, () => clickhousePosition(this.ch, this.topic, batch.partition), offset, 'clickhouse', this.waiting);
    const wants = (x: string) => hooks.some((h) => h.events.includes(x));
    if (wants('test.flaky_detected')) out.push(...(await this.flakyDetected(e, run.branch)));
    if (wants('run.regression_detected')) out.push(...(await this.regressionDetected(e, row.branch, row.created_at)));
    await this.thresholds(e, hooks.filter((h) => h.thresholds && h.events.includes('threshold.breached')));
    return out;
  }

  // threshold.breached: per hook, its project's pass rate (below the bound) or
  // flaky rate (above it) over its window, as of this run. Fires when the side
  // changes into a breach; the side is kept per (hook, metric) and written in
  // the transaction that inserts the delivery, so a batch read again after a
  // crash finds the breach recorded and does not fire it twice.
  private async thresholds(e: EventOf<'run.updated'>, hooks: WebhookRow[]): Promise<void> {
    const asOfDay = dayOf(Math.floor(Date.parse(e.occurredAt) / 1000));
    const rates = new Map<number, { passRate: number | null; flakyRate: number | null; executions: number }>();
    for (const h of hooks) {
      const t = h.thresholds!;
      const windowDays = t.windowDays ?? 7;
      if (!rates.has(windowDays)) {
        const b = await resultBuckets(this.ch, { projectId: e.projectId, fromDay: asOfDay - windowDays + 1, week: false });
        const executed = b.reduce((a, x) => a + x.executions - x.skipped, 0);
        const ok = b.reduce((a, x) => a + x.passed + x.flaky, 0);
        const flaky = b.reduce((a, x) => a + x.flaky, 0);
        rates.set(windowDays, { passRate: executed ? ok / executed : null, flakyRate: executed ? flaky / executed : null, executions: executed });
      }
      const r = rates.get(windowDays)!;
      const checks = [
        { metric: 'passRate', value: r.passRate, bound: t.passRate, breached: (v: number, b: number) => v < b },
        { metric: 'flakyRate', value: r.flakyRate, bound: t.flakyRate, breached: (v: number, b: number) => v > b },
      ];
      for (const c of checks) {
        const { bound, value } = c;
        if (bound === undefined || value === null) continue;
        const breached = c.breached(value, bound);
        await withTransaction(this.pool, async (tx) => {
          const prev = (await tx.query('SELECT breached FROM webhook_threshold_state WHERE webhook_id = $1 AND metric = $2 FOR UPDATE', [h.id, c.metric])).rows[0];
          if ((prev?.breached ?? false) === breached) return;
          await tx.query(
            `INSERT INTO webhook_threshold_state (webhook_id, metric, breached, value, changed_at) VALUES ($1, $2, $3, $4, now())
             ON CONFLICT (webhook_id, metric) DO UPDATE SET breached = excluded.breached, value = excluded.value, changed_at = now()`,
            [h.id, c.metric, breached, value],
          );
          if (!breached) return;
          const n = await enqueue(tx, [{
            id: derivedId('event', 'webhook', 'threshold.breached', e.data.id, h.id, c.metric), event: 'threshold.breached', projectId: e.projectId,
            timestamp: e.occurredAt,
            data: { metric: c.metric, value: Math.round(value * 10_000) / 10_000, bound, direction: c.metric === 'passRate' ? 'below' : 'above', windowDays, executions: r.executions, runId: e.data.id, projectId: e.projectId },
          }], [h]);
          if (n) this.opts.onEnqueued?.();
        });
      }
    }
  }

  private async flakyDetected(e: EventOf<'run.updated'>, branch: string | null): Promise<WebhookEventOut[]> {
    const testCaseIds = await runTestCases(this.ch, e.projectId, e.data.id);
    if (testCaseIds.length === 0) return [];
    const settings = await readProjectSettings(this.pool, e.projectId);
    const assessment = await assessFlakiness(this.ch, { projectId: e.projectId, testCaseIds, asOf: new Date(e.occurredAt) }, settings.flakiness);
    return assessment.cases.filter((c) => c.score.classification === 'flaky').map((c) => ({
      id: derivedId('event', 'webhook', 'test.flaky_detected', e.data.id, c.testCaseId), event: 'test.flaky_detected', projectId: e.projectId,
      timestamp: e.occurredAt,
      data: { testCaseId: c.testCaseId, runId: e.data.id, branch, score: c.score.score, classification: c.score.classification, evidence: c.evidence },
    }));
  }

  private async regressionDetected(e: EventOf<'run.updated'>, branch: string | null, createdAt: Date): Promise<WebhookEventOut[]> {
    if (branch === null) return [];
    const prev = (await this.pool.query(
      `SELECT id, status, branch, commit_sha, created_at FROM runs
       WHERE project_id = $1 AND branch = $2 AND status IN ('passed', 'failed') AND id <> $3 AND created_at < $4
       ORDER BY created_at DESC LIMIT 1`,
      [e.projectId, branch, e.data.id, createdAt],
    )).rows[0];
    if (!prev) return [];
    const meta = (r: { id: string; status: string; branch: string | null; commit_sha: string | null; created_at: Date }): RunMeta =>
      ({ id: r.id, status: r.status, branch: r.branch, commitSha: r.commit_sha, createdAt: r.created_at.toISOString() });
    const current = meta({ id: e.data.id, status: e.data.status!, branch, commit_sha: e.data.run.commitSha, created_at: createdAt });
    const cmp = await compareRuns(this.ch, e.projectId, current, meta(prev));
    if (cmp.regression !== true) return [];
    return [{
      id: derivedId('event', 'webhook', 'run.regression_detected', e.data.id), event: 'run.regression_detected', projectId: e.projectId,
      timestamp: e.occurredAt,
      data: { runId: e.data.id, baselineRunId: prev.id, branch, regression: cmp.regression, reasons: cmp.regressionReasons, counts: cmp.counts, newFailures: cmp.newFailures.slice(0, 20) },
    }];
  }

}

function quarantineEvent(e: EventOf<'test.quarantine_changed'>): WebhookEventOut {
  const name = e.data.isQuarantined ? 'test.quarantined' : 'test.unquarantined';
  return { id: derivedId('event', 'webhook', name, e.id), event: name, projectId: e.projectId, timestamp: e.occurredAt, data: { ...e.data, causationId: e.id } };
}

export async function postgresPosition(pool: Pool, topic: string, partition: number): Promise<number> {
  const r = await pool.query(`SELECT "offset" FROM projection_offsets WHERE projection = 'postgres' AND topic = $1 AND partition = $2`, [topic, partition]);
  return r.rows[0] ? Number(r.rows[0].offset) : -1;
}
