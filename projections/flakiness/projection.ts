import { withTransaction, type Pool, type Queryable } from '../../lib/pg.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import type { EventEnvelope, EventType } from '../../schemas/events.ts';
import type { Projection, ProjectionBatch } from '../kafka/consumer.ts';
import { waitForProjection } from '../kafka/wait-for.ts';
import { PeriodicSweep } from '../periodic-sweep.ts';
import { clickhousePosition } from '../../domain/ch/flakiness.ts';
import { flakinessScores } from '../../domain/pg/flakiness-scores.ts';
import { readAllFlakinessParams, readProjectSettings } from '../../domain/pg/project-settings-read.ts';
import { sameParams, scoreProject } from '../../domain/analytics/flakiness/service.ts';
import { SCORING_VERSION, dayOf } from '../../domain/analytics/flakiness/score.ts';

export const FLAKINESS_PROJECTION = 'flakiness';

// The events that change what flakiness is computed from (ClickHouse's results and runs).
const CHANGES_SCORES = new Set<EventType>(['test.reported', 'run.created', 'run.updated', 'run.deleted']);
// Messages behind a batch that make it part of a catch-up: a few seconds of a busy partition.
const CATCHING_UP = 5_000;
// Under a steady load, ClickHouse rests at least this many times as long as a
// project's last scoring took before the project is scored again, so scoring
// takes at most half of the time (see scoreSoon).
const REST_PER_SCORING = 1;

type Scored = { save(db: Queryable): Promise<void> };
type Options = { clickhouseWaitMs?: number; sweepEveryMs?: number; coalesceMs?: number; now?: () => Date; onClose?: () => Promise<void> };

// The flakiness projection: keeps each project's scores in Postgres
// (flakiness_scores, domain/pg/flakiness-scores.ts) so GET /api/flakiness
// reads them instead of scoring the project's history on every request.
//
// Scores are computed from ClickHouse, not folded from events: after a batch
// with events that change a project's results, it waits until the ClickHouse
// projector applied them, scores the project again (every branch, as of now)
// and replaces its scores in the transaction that records its own position
// (projection_offsets, so read-your-writes can wait for it). Scoring again
// after a crash, or on a replay, gives what scoring live would.
//
// Batches coalesce: a project's scoring is shared by every batch that is
// waiting for one when it starts (the consumer hands this projection every
// partition's batches at once), and a project is scored at most once per
// coalesceMs, and not before ClickHouse rested as long as its last scoring
// took, so a stream of batches costs about one scoring per project per window
// instead of one per batch, and scoring a project never occupies ClickHouse
// more than half of the time. A batch far behind the end of its partition
// (a catch-up: fetches are big, and a scoring per fetch is no waste) does not
// wait for the window: with it a catch-up drained one fetch per second, 9,127
// events/s, under 2× an ingest of 5,027/s (docs/scaling.md). A batch joins
// only a scoring that starts after ClickHouse applied the batch, so its
// position is recorded only once stored scores include its events; the scores
// and the position are then two transactions (a crash between them scores
// again on replay, which is harmless).
//
// Scores also age (they are as of a day) and depend on settings that change
// outside the log: every sweepEveryMs it scores again each project whose scores
// are not as of today, or were computed with other settings or another
// scoring version, or that has none yet. Readers meanwhile score live.
export class FlakinessProjection implements Projection<EventEnvelope> {
  readonly name = FLAKINESS_PROJECTION;
  // Which projects changed is all it reads of an event.
  readonly reads = 'envelope';
  readonly handles: ReadonlySet<EventType> = new Set([...CHANGES_SCORES, 'project.deleted']);
  private readonly sweeper: PeriodicSweep;
  private turn: Promise<unknown> = Promise.resolve();
  // A project's next scoring, while it has not started: batches join it.
  private readonly nextScoring = new Map<string, Promise<void>>();
  // When a project's last scoring started, and how long it took (ms).
  private readonly lastScoring = new Map<string, { started: number; took: number }>();
  private readonly now: () => Date;

  constructor(
    private pool: Pool,
    private ch: ClickHouse,
    private logger: Logger,
    private opts: Options = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.sweeper = new PeriodicSweep(() => this.rescoreOutdated(), opts.sweepEveryMs ?? 60_000, (err) => logger.warn({ err }, 'flakiness sweep failed'));
  }

  start(): void {
    this.sweeper.start();
  }

  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.opts.onClose?.();
  }

  async apply(batch: ProjectionBatch<EventEnvelope>): Promise<void> {
    const deleted = new Set(batch.events.filter(({ event: e }) => e.type === 'project.deleted').map(({ event: e }) => e.projectId));
    const changes = batch.events.filter(({ event: e }) => CHANGES_SCORES.has(e.type) && !deleted.has(e.projectId));
    if (changes.length) {
      await waitForProjection(batch, () => clickhousePosition(this.ch, batch.topic, batch.partition), changes.at(-1)!.offset, 'ClickHouse',
        { timeoutMs: this.opts.clickhouseWaitMs ?? 60_000, pollMs: 100 });
    }
    const existing = await this.existing([...new Set(changes.map(({ event: e }) => e.projectId))]);
    const catchingUp = (batch.behind ?? 0) >= CATCHING_UP;
    await whileBeating(Promise.all(existing.map((projectId) => this.scoreSoon(projectId, catchingUp))), batch.heartbeat);
    await withTransaction(this.pool, async (tx) => {
      if (deleted.size) await flakinessScores.remove(tx, [...deleted]);
      await tx.query(
        `INSERT INTO projection_offsets (projection, topic, partition, "offset") VALUES ($1, $2, $3, $4)
         ON CONFLICT (projection, topic, partition) DO UPDATE SET "offset" = greatest(projection_offsets."offset", excluded."offset")`,
        [FLAKINESS_PROJECTION, batch.topic, batch.partition, batch.lastOffset],
      );
    });
  }

  // The project's next scoring (joined if one is waiting to start), once the
  // one under way (if any) is done; resolves once its scores are stored. Unless
  // `atOnce`, it starts at least coalesceMs after the previous one started, and
  // at least REST_PER_SCORING times the previous one's duration after it ended.
  // Scoring reads the project's whole history, so it takes longer as the history
  // grows: at a fixed window it came to occupy ClickHouse most of the time, and
  // the inserts of the results it scores waited behind it (docs/scaling.md).
  private scoreSoon(projectId: string, atOnce: boolean): Promise<void> {
    const waiting = this.nextScoring.get(projectId);
    if (waiting) return waiting;
    const last = this.lastScoring.get(projectId);
    const due = atOnce || !last ? 0 : last.started + Math.max(this.opts.coalesceMs ?? 1000, (1 + REST_PER_SCORING) * last.took);
    const next = new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()))).then(() => this.oneAtATime(async () => {
      this.nextScoring.delete(projectId); // batches from now on wait for another scoring
      const started = Date.now();
      const s = await this.score(projectId);
      await withTransaction(this.pool, async (tx) => {
        // A project deleted meanwhile keeps no scores (the deletion removed them already).
        if ((await tx.query('SELECT 1 FROM projects WHERE id = $1', [projectId])).rowCount) await s.save(tx);
      });
      this.lastScoring.set(projectId, { started, took: Date.now() - started });
    }));
    const settled = next.finally(() => {
      if (this.nextScoring.get(projectId) === settled) this.nextScoring.delete(projectId);
    });
    this.nextScoring.set(projectId, settled);
    return settled;
  }

  // Scores again every project whose stored scores are out of date; drops those of projects that are gone.
  private async rescoreOutdated(): Promise<void> {
    const today = dayOf(Math.floor(this.now().getTime() / 1000));
    const stored = await flakinessScores.current(this.pool, today, SCORING_VERSION);
    if (stored.orphaned.length) await flakinessScores.remove(this.pool, stored.orphaned);
    for (const [projectId, params] of await readAllFlakinessParams(this.pool)) {
      const scoredWith = stored.params.get(projectId);
      if (scoredWith && sameParams(scoredWith, params)) continue;
      // One project at a time, so a batch waits for one scoring at most.
      await this.oneAtATime(async () => {
        const s = await this.score(projectId);
        await withTransaction(this.pool, (tx) => s.save(tx));
      });
    }
  }

  // Scores a project as of now; `save` then replaces what is stored.
  private async score(projectId: string): Promise<Scored> {
    const scoredAt = this.now();
    const { flakiness: params } = await readProjectSettings(this.pool, projectId);
    const started = Date.now();
    const scored = await scoreProject(this.ch, projectId, scoredAt, params);
    this.logger.debug({ projectId, testCases: scored.cases.length, ms: Date.now() - started }, 'scored flakiness');
    return { save: (db) => flakinessScores.replace(db, projectId, scored, params, SCORING_VERSION, scoredAt) };
  }

  private async existing(projectIds: string[]): Promise<string[]> {
    if (projectIds.length === 0) return [];
    const r = await this.pool.query('SELECT id FROM projects WHERE id = ANY($1) ORDER BY id', [projectIds]);
    return r.rows.map((x) => x.id as string);
  }

  // Batches and the sweep score one project at a time, so a slower scoring never overwrites a newer one.
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }
}

// Waits for `work`, keeping the consumer in its group meanwhile.
async function whileBeating<T>(work: Promise<T>, heartbeat?: () => Promise<void>): Promise<T> {
  if (!heartbeat) return work;
  const timer = setInterval(() => void heartbeat().catch(() => undefined), 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
