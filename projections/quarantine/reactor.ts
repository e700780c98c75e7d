import type { Pool } from '../../lib/pg.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import { derivedId } from '../../lib/ids.ts';
import type { EventLog } from '../../ingest/event-log.ts';
import { makeEvent } from '../../ingest/events.ts';
import type { Event, EventType } from '../../schemas/events.ts';
import type { Projection, ProjectionBatch } from '../kafka/consumer.ts';
import { waitForProjection } from '../kafka/wait-for.ts';
import { PeriodicSweep } from '../periodic-sweep.ts';
import { assessFlakiness, type CaseFlakiness } from '../../query-api/flakiness/service.ts';
import { clickhousePosition, incidentRuns, recentOutcomes, runTestCases } from '../../query-api/ch/flakiness.ts';
import { readProjectSettings, type ProjectSettings } from '../../query-api/pg/project-settings-read.ts';
import { SCORING_VERSION, scoreOf } from '../../query-api/flakiness/score.ts';

export const QUARANTINE_REACTOR = 'quarantine';
const ACTOR = { type: 'system' as const, id: 'quarantine-reactor' };
const TERMINAL = new Set(['passed', 'failed', 'cancelled']);

type Options = { clickhouseWaitMs?: number; sweepEveryMs?: number; now?: () => Date; onClose?: () => Promise<void> };
type Current = { isQuarantined: boolean; mode: 'manual' | 'automatic' | null; changedAt: Date | null; expiresAt: Date | null };

// The auto-quarantine reactor: a consumer of the log like the projectors, with
// its own consumer group, whose effect is appending test.quarantine_changed.
//
// When a run finishes (run.updated with a final status) it waits until the
// ClickHouse projector has applied the run's results, then looks at the run's
// test cases:
//   - quarantine one whose score's lower bound reached the project's
//     flakinessThreshold, when autoQuarantineEnabled; never a broken test;
//   - release one it quarantined after releaseAfterStableRuns clean executions
//     in a row since (hysteresis: it takes more to get out than to get in).
// Quarantines past their expiry are released whenever it looks (each batch,
// and every sweepEveryMs). A change made by hand pins the state: the reactor
// does not undo it (except at its expiry).
//
// Appended events have ids derived from the cause, so handling a batch again
// after a crash appends the same ids, which every consumer deduplicates.
export class QuarantineReactor implements Projection {
  readonly name = QUARANTINE_REACTOR;
  // The rest is skipped undecoded (projections/kafka/consumer.ts).
  readonly handles: ReadonlySet<EventType> = new Set<EventType>(['run.updated', 'project.deleted']);
  private readonly sweeper: PeriodicSweep;
  private readonly now: () => Date;

  constructor(
    private pool: Pool,
    private ch: ClickHouse,
    private eventLog: EventLog,
    private logger: Logger,
    private opts: Options = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.sweeper = new PeriodicSweep(() => this.releaseExpired(), opts.sweepEveryMs ?? 60_000, (err) => logger.warn({ err }, 'expiry sweep failed'));
  }

  start(): void {
    this.sweeper.start();
  }

  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.opts.onClose?.();
  }

  async apply(batch: ProjectionBatch): Promise<void> {
    const finished = batch.events
      .filter(({ event: e }) => e.type === 'run.updated' && e.data.status !== null && TERMINAL.has(e.data.status))
      .map(({ event, offset }) => ({ event, offset }));
    if (finished.length) {
      await waitForProjection(batch, () => clickhousePosition(this.ch, batch.topic, batch.partition), finished.at(-1)!.offset, 'ClickHouse',
        { timeoutMs: this.opts.clickhouseWaitMs ?? 60_000, pollMs: 200 });
      for (const { event } of finished) await this.runFinished(event);
    }
    // A deleted project takes the reactor's own record of it along.
    const deleted = batch.events.filter(({ event: e }) => e.type === 'project.deleted').map(({ event: e }) => e.projectId);
    if (deleted.length) await this.pool.query('DELETE FROM quarantine_reactor_decisions WHERE project_id = ANY($1)', [deleted]);
    await this.sweepExpired();
  }

  private async runFinished(trigger: Event): Promise<void> {
    const projectId = trigger.projectId;
    const runId = trigger.runId!;
    const settings = await readProjectSettings(this.pool, projectId);
    const testCaseIds = await runTestCases(this.ch, projectId, runId);
    if (testCaseIds.length === 0) return;
    const current = await this.currentStates(testCaseIds);
    const autoQuarantined = testCaseIds.filter((id) => current.get(id)?.isQuarantined && current.get(id)?.mode === 'automatic');
    if (!settings.autoQuarantineEnabled && autoQuarantined.length === 0) return;

    const now = this.now();
    const assessment = await assessFlakiness(this.ch, { projectId, testCaseIds, asOf: now }, settings.flakiness);
    const incidents = await incidentRuns(this.ch, projectId, assessment.fromDay, settings.flakiness);
    const n = settings.releaseAfterStableRuns;
    // Its latest executions, and those ingest received since the last change (same clock as changedAt).
    const released = testCaseIds.filter((id) => current.get(id)?.mode === 'automatic' && !current.get(id)?.isQuarantined);
    const recent = await recentOutcomes(this.ch, projectId, [...autoQuarantined, ...released], n, incidents);
    const since = (id: string) => (recent.get(id) ?? []).filter(([receivedMs]) => receivedMs >= current.get(id)!.changedAt!.getTime());

    const changes: Array<{ testCaseId: string; isQuarantined: boolean; reason: string }> = [];
    if (settings.autoQuarantineEnabled) {
      for (const c of assessment.cases) {
        const state = current.get(c.testCaseId);
        if (state?.isQuarantined || state?.mode === 'manual') continue;
        // Released by this reactor: only a flake seen since brings it back.
        if (state?.mode === 'automatic' && !since(c.testCaseId).some(([, s]) => s !== 'passed')) continue;
        const reason = this.quarantineReason(c, settings);
        if (reason) changes.push({ testCaseId: c.testCaseId, isQuarantined: true, reason });
      }
    }
    for (const id of autoQuarantined) {
      const clean = since(id);
      if (clean.length >= n && clean.every(([, s]) => s === 'passed')) {
        changes.push({ testCaseId: id, isQuarantined: false, reason: `released: ${n} clean runs in a row since it was quarantined` });
      }
    }
    await this.append(projectId, trigger.id, changes);
  }

  // Quarantine when the score's lower bound reached the threshold, for a flaky test only.
  private quarantineReason(c: CaseFlakiness, settings: ProjectSettings): string | null {
    if (c.score.classification !== 'flaky') return null;
    const s = scoreOf(c.evidence, settings.flakiness);
    if (s.interval.lower < settings.flakinessThreshold) return null;
    const ev = c.evidence;
    const f = (x: number) => x.toFixed(3);
    return `auto: flakiness ${f(s.score)} with ${Math.round(s.interval.mass * 100)}% interval ${f(s.interval.lower)}–${f(s.interval.upper)}, `
      + `lower bound at or above the threshold ${settings.flakinessThreshold}; ${ev.flakyExecutions} flaky of ${ev.executions} runs `
      + `(${ev.retryFlakes} retry flakes, ${ev.sameCommitFlakes} same-commit, ${ev.transientFailures} flips); ${SCORING_VERSION}`;
  }

  // Releases every quarantine of any project that is past its expiry.
  sweepExpired(): Promise<void> {
    return this.sweeper.run();
  }

  private async releaseExpired(): Promise<void> {
    const due = (await this.pool.query(
      `SELECT q.test_case_id, q.project_id, q.expires_at FROM quarantines q
       LEFT JOIN quarantine_reactor_decisions d ON d.test_case_id = q.test_case_id AND d.decided_at > q.changed_at
       WHERE q.is_quarantined AND q.expires_at <= $1 AND (d.test_case_id IS NULL OR d.is_quarantined)
       ORDER BY q.project_id, q.test_case_id LIMIT 1000`,
      [this.now()],
    )).rows as Array<{ test_case_id: string; project_id: string; expires_at: Date }>;
    for (const r of due) {
      await this.append(r.project_id, `expiry:${r.expires_at.toISOString()}`, [
        { testCaseId: r.test_case_id, isQuarantined: false, reason: `quarantine expired at ${r.expires_at.toISOString()}` },
      ]);
    }
  }

  // The state as the read model has it, or as this reactor last decided if
  // that is newer (the read model may not have caught up with it yet).
  private async currentStates(testCaseIds: string[]): Promise<Map<string, Current>> {
    const out = new Map<string, Current>();
    const rows = (await this.pool.query(
      `SELECT test_case_id, is_quarantined, mode, changed_at, expires_at FROM quarantines WHERE test_case_id = ANY($1)`, [testCaseIds],
    )).rows;
    for (const r of rows) out.set(r.test_case_id, { isQuarantined: r.is_quarantined, mode: r.mode, changedAt: r.changed_at, expiresAt: r.expires_at });
    const mine = (await this.pool.query(
      'SELECT test_case_id, is_quarantined, decided_at FROM quarantine_reactor_decisions WHERE test_case_id = ANY($1)', [testCaseIds],
    )).rows;
    for (const d of mine) {
      const known = out.get(d.test_case_id);
      if (!known?.changedAt || known.changedAt < d.decided_at) {
        out.set(d.test_case_id, { isQuarantined: d.is_quarantined, mode: 'automatic', changedAt: d.decided_at, expiresAt: null });
      }
    }
    return out;
  }

  private async append(projectId: string, cause: string, changes: Array<{ testCaseId: string; isQuarantined: boolean; reason: string }>): Promise<void> {
    if (changes.length === 0) return;
    const now = this.now().toISOString();
    const events = changes.map((c) => ({
      ...makeEvent('test.quarantine_changed', {
        projectId, runId: null, actor: ACTOR, correlationId: cause.slice(0, 200), now,
        data: { testCaseId: c.testCaseId, isQuarantined: c.isQuarantined, reason: c.reason, mode: 'automatic', owner: null, expiresAt: null, changedAt: now },
      }),
      id: derivedId('event', 'quarantine-reactor', c.testCaseId, cause, String(c.isQuarantined)),
    }));
    await this.eventLog.append(events);
    for (const e of events) {
      await this.pool.query(
        `INSERT INTO quarantine_reactor_decisions (test_case_id, project_id, is_quarantined, event_id, decided_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (test_case_id) DO UPDATE SET is_quarantined = excluded.is_quarantined, event_id = excluded.event_id, decided_at = excluded.decided_at`,
        [e.data.testCaseId, projectId, e.data.isQuarantined, e.id, now],
      );
      this.logger.info({ testCaseId: e.data.testCaseId, isQuarantined: e.data.isQuarantined, reason: e.data.reason }, 'quarantine changed');
    }
  }
}
