import { chDateTime, sql, type ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Projection, ProjectionBatch, PublishDeadLetters } from '../kafka/consumer.ts';
import { REPLAYED_FROM_HEADER } from '../../schemas/events.ts';
import { applyIsolating, classifyClickHouseError, rejectionReason } from '../kafka/isolate.ts';
import { RUNS_TABLE, runCreatedRow, runUpdatedRow } from './tables/runs.ts';
import { TEST_RESULTS_TABLE, testResultRow } from './tables/test-results.ts';
import { TEST_ERRORS_TABLE, testErrorRow } from './tables/test-errors.ts';
import { CLICKHOUSE_DERIVED_TABLES, deleteRunsFromDerived } from './tables/derived.ts';
import { keptForClickHouse, type ClickHouseEvent } from './kept-event.ts';

export const CLICKHOUSE_PROJECTION = 'clickhouse';
// Tables the projector inserts into, each row with its log position. Inserting
// into test_results_v1 also fills the derived tables (tables/derived.ts).
export const CLICKHOUSE_FACT_TABLES = [TEST_RESULTS_TABLE, RUNS_TABLE, TEST_ERRORS_TABLE] as const;
// Projects deleted through the log; emptied with the facts when the projection is reset.
export const DELETED_PROJECTS_TABLE = 'deleted_projects_v1';
const OFFSETS_TABLE = 'projection_offsets_v1';
type Table = (typeof CLICKHOUSE_FACT_TABLES)[number];
type FactRow = { project_id: string; _partition: number; _offset: number };
type Pending = { batch: ProjectionBatch<ClickHouseEvent>; publish?: PublishDeadLetters; resolve: () => void; reject: (err: unknown) => void };

// ClickHouse facts. Rows carry the log position they came from; before writing
// a batch the projector asks ClickHouse how far each table already got, so a
// batch replayed after a crash is skipped, never inserted twice (materialised
// aggregates would double count).
//
// The batches of all partitions arrive at once (the consumer hands them over
// concurrently) and are written as one group: one insert per table for the
// whole group, then the position of every partition in it. Groups are written
// one after another, so a run's deletion, which recomputes per-day aggregates
// from test_results_v1 (tables/derived.ts), never overlaps another insert.
// Batches that arrive while a group is written form the next group: under
// load the inserts grow instead of multiplying (ClickHouse wants about one
// insert per second per table, DESIGN §4).
export class ClickHouseProjection implements Projection<ClickHouseEvent> {
  readonly name = CLICKHOUSE_PROJECTION;
  readonly keep = keptForClickHouse;
  // table → partition → last offset present; '' is projection_offsets_v1.
  private watermarks: Map<string, Map<number, number>> | null = null;
  // Deleted projects seen so far (they never come back): their rows are not inserted.
  private deletedProjects = new Set<string>();
  private waiting: Pending[] = [];
  private writing: Promise<void> | null = null;

  constructor(private ch: ClickHouse, private topic: string, private logger: Logger) {}

  onAssignment(): void {
    this.watermarks = null;
  }

  // `publish` is optional for callers that apply batches by hand (tests, tools):
  // without it a refused event fails the batch as any error would.
  apply(batch: ProjectionBatch<ClickHouseEvent>, publish?: PublishDeadLetters): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch, publish, resolve, reject });
      this.writing ??= this.writeGroups();
    });
  }

  private async writeGroups(): Promise<void> {
    // Let the other partitions' batches of the same fetch join the first group.
    await new Promise((r) => setImmediate(r));
    while (this.waiting.length) {
      // One batch per partition in a group: a partition's batches stay in order.
      const group: Pending[] = [];
      const later: Pending[] = [];
      for (const p of this.waiting) (group.some((g) => g.batch.partition === p.batch.partition) ? later : group).push(p);
      this.waiting = later;
      try {
        await this.writeGroup(group);
        for (const p of group) p.resolve();
      } catch (err) {
        // A failed request may still have been applied (the server finished the
        // insert, the answer was lost): the retry asks ClickHouse again how far
        // each table got instead of trusting what this process last knew.
        this.watermarks = null;
        for (const p of group) p.reject(err);
      }
    }
    this.writing = null;
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    const wm = await this.loadWatermarks();
    const applied = (table: Table | '', partition: number) => wm.get(table)?.get(partition) ?? -1;
    // Batches applied before (a retry after a crash or a failed group) are skipped whole.
    const todo = group.filter(({ batch }) => batch.lastOffset > applied('', batch.partition));
    if (todo.length === 0) return;
    const heartbeat = async () => {
      await Promise.all(todo.map(({ batch }) => batch.heartbeat?.()));
    };
    const seen = (table: Table, partition: number, offset: number) => offset <= Math.max(applied(table, partition), applied('', partition));

    const copies = await this.resultsWithCopies(todo);
    // Whether a result's row goes into `table`: once per result among those
    // with a replayed copy in the group, always for any other.
    const firstOf = (table: Table, id: string) => {
      if (!copies?.ids.has(id)) return true;
      const held = copies.held.get(table)!;
      if (held.has(id)) return false;
      held.add(id);
      return true;
    };

    // Rows of each partition stay in offset order, batch after batch.
    const rows: Record<Table, FactRow[]> = { [TEST_RESULTS_TABLE]: [], [RUNS_TABLE]: [], [TEST_ERRORS_TABLE]: [] };
    const deletedRuns: string[] = [];
    const deletedProjects: Array<{ project_id: string; deleted_at: string; _partition: number; _offset: number }> = [];
    const deletedHere = new Set<string>();
    for (const { batch: { partition, events } } of todo) {
      for (const { event: e, offset } of events) {
        const gone = this.deletedProjects.has(e.projectId) || deletedHere.has(e.projectId);
        if (gone && e.type !== 'project.deleted') continue; // a late event of a deleted project
        switch (e.type) {
          case 'test.reported': {
            if (!seen(TEST_RESULTS_TABLE, partition, offset) && firstOf(TEST_RESULTS_TABLE, e.data.id)) rows[TEST_RESULTS_TABLE].push(testResultRow(e, partition, offset));
            const error = seen(TEST_ERRORS_TABLE, partition, offset) ? null : testErrorRow(e, partition, offset);
            if (error && firstOf(TEST_ERRORS_TABLE, error.test_id)) rows[TEST_ERRORS_TABLE].push(error);
            break;
          }
          case 'run.created':
            if (!seen(RUNS_TABLE, partition, offset)) rows[RUNS_TABLE].push(runCreatedRow(e, partition, offset));
            break;
          case 'run.updated':
            if (!seen(RUNS_TABLE, partition, offset)) rows[RUNS_TABLE].push(runUpdatedRow(e, partition, offset));
            break;
          case 'run.deleted':
            // A mutation is idempotent, so replaying one is harmless.
            if (offset > applied('', partition)) deletedRuns.push(e.data.id);
            break;
          case 'project.deleted':
            deletedHere.add(e.projectId);
            if (offset > applied('', partition)) deletedProjects.push({ project_id: e.projectId, deleted_at: chDateTime(Date.parse(e.data.deletedAt)), _partition: partition, _offset: offset });
            break;
          case 'suite.reported':
          case 'artifact.uploaded':
          case 'test.quarantine_changed':
            break; // no ClickHouse fact yet
          default: {
            const unreachable: never = e;
            void unreachable;
          }
        }
      }
    }

    // A row ClickHouse refuses to parse (issue 14: a lone surrogate in a title)
    // would fail the insert on every retry and stop the partition: the table's
    // rows are bisected down to the refused ones, whose events are dead-lettered
    // as soon as they are isolated (the watermarks never pass an event that is
    // neither stored nor dead-lettered: each partition's rows are tried in
    // offset order) and left out of the later tables. A failed insert writes
    // nothing, so no row is inserted twice; a table that accepted an event
    // before a later table refused it keeps that row.
    const key = (partition: number, offset: number) => `${partition}:${offset}`;
    const refused = new Set<string>();
    const byPosition = new Map(todo.flatMap((p) => p.batch.events.map((pe) => [key(pe.partition, pe.offset), { pe, publish: p.publish }] as const)));
    for (const table of CLICKHOUSE_FACT_TABLES) {
      const tableRows = refused.size ? rows[table].filter((r) => !refused.has(key(r._partition, r._offset))) : rows[table];
      if (tableRows.length === 0) continue;
      await applyIsolating(tableRows, (part) => this.ch.insert(table, part), classifyClickHouseError, async ({ item, error }) => {
        const { pe, publish } = byPosition.get(key(item._partition, item._offset))!;
        if (!publish) throw error;
        refused.add(key(item._partition, item._offset));
        await publish([{ ...pe, reason: rejectionReason(`clickhouse (${table})`, error), step: 'clickhouse.insert' }]);
      });
      for (const { batch } of todo) raiseWatermark(wm, table, batch.partition, batch.lastOffset);
      await heartbeat(); // inserts and mutations can outlast the group's session
    }
    if (deletedRuns.length) {
      for (const table of CLICKHOUSE_FACT_TABLES) {
        await this.ch.command(`ALTER TABLE ${table} DELETE WHERE ${sql.inList('run_id', deletedRuns)}`);
      }
      await heartbeat();
      await deleteRunsFromDerived(this.ch, deletedRuns);
      await heartbeat();
    }
    // Tombstones first, then the deletion: rows of the project inserted later
    // (an event that was late, or a replay) find the tombstone (below).
    await this.ch.insert(DELETED_PROJECTS_TABLE, deletedProjects);
    const purge = deletedProjects.map((d) => d.project_id);
    // Rows just inserted for a project deleted earlier (in a replay, or by an
    // event of another partition) are deleted again: a mutation only covers the
    // rows that existed when it was made.
    const inserted = new Set(CLICKHOUSE_FACT_TABLES.flatMap((t) => rows[t].map((r) => r.project_id)));
    const late = inserted.size ? await this.deletedAmong([...inserted]) : [];
    purge.push(...late.filter((p) => !purge.includes(p)));
    if (purge.length) {
      // The derived tables go too: the views filled them from the facts' inserts.
      for (const table of [...CLICKHOUSE_FACT_TABLES, ...CLICKHOUSE_DERIVED_TABLES]) {
        await this.ch.command(`ALTER TABLE ${table} DELETE WHERE ${sql.inList('project_id', purge)}`);
      }
    }
    for (const p of deletedHere) this.deletedProjects.add(p);
    const now = chDateTime(Date.now());
    await this.ch.insert(OFFSETS_TABLE, todo.map(({ batch }) => ({ projection: this.name, topic: this.topic, partition: batch.partition, offset: batch.lastOffset, updated_at: now })));
    for (const { batch } of todo) raiseWatermark(wm, '', batch.partition, batch.lastOffset);
  }

  // A dead letter replayed for this projection (`runledger dlq replay`) may
  // have rows here already: a table before the one that refused it kept its row,
  // and in a replay of the whole log (a rebuild, after the cause was fixed) the
  // original was applied in full. Facts are keyed by position, so the copy's
  // rows would be new ones and the views would count its result twice. Returns
  // the results that have a copy in this group, with the ones each table holds
  // already (writeGroup adds those it inserts); null when the group holds no
  // copy, as almost always.
  private async resultsWithCopies(todo: Pending[]): Promise<{ ids: Set<string>; held: Map<Table, Set<string>> } | null> {
    const ids = new Set<string>();
    for (const { batch } of todo) {
      for (const { event: e, message } of batch.events) {
        if (e.type === 'test.reported' && message.headers?.[REPLAYED_FROM_HEADER] !== undefined) ids.add(e.data.id);
      }
    }
    if (ids.size === 0) return null;
    const held = new Map<Table, Set<string>>();
    for (const table of [TEST_RESULTS_TABLE, TEST_ERRORS_TABLE] as const) {
      const rows = await this.ch.select<{ id: string }>(`SELECT DISTINCT test_id AS id FROM ${table} WHERE ${sql.inList('test_id', [...ids])}`);
      held.set(table, new Set(rows.map((r) => r.id)));
    }
    return { ids, held };
  }

  private async deletedAmong(projectIds: string[]): Promise<string[]> {
    const rows = await this.ch.select<{ p: string }>(
      `SELECT DISTINCT project_id AS p FROM ${DELETED_PROJECTS_TABLE} WHERE ${sql.inList('project_id', projectIds)}`,
    );
    for (const r of rows) this.deletedProjects.add(r.p);
    return rows.map((r) => r.p);
  }

  private async loadWatermarks(): Promise<Map<string, Map<number, number>>> {
    if (this.watermarks) return this.watermarks;
    const wm = new Map<string, Map<number, number>>();
    for (const table of CLICKHOUSE_FACT_TABLES) {
      const rows = await this.ch.select<{ p: number; o: string }>(
        `SELECT _partition AS p, toString(max(_offset)) AS o FROM ${table} GROUP BY _partition`,
      );
      wm.set(table, new Map(rows.map((r) => [Number(r.p), Number(r.o)])));
    }
    const done = await this.ch.select<{ p: number; o: string }>(
      `SELECT partition AS p, toString(max(offset)) AS o FROM ${OFFSETS_TABLE}
       WHERE projection = ${sql.str(this.name)} AND topic = ${sql.str(this.topic)} GROUP BY partition`,
    );
    wm.set('', new Map(done.map((r) => [Number(r.p), Number(r.o)])));
    this.logger.info({ watermarks: Object.fromEntries([...wm].map(([t, m]) => [t || OFFSETS_TABLE, Object.fromEntries(m)])) }, 'resuming from ClickHouse');
    this.watermarks = wm;
    return wm;
  }
}

// A watermark only moves forward: a batch fetched again after a failure can
// end before rows a table already holds (its first attempt inserted them), and
// lowering the mark to that batch's end would insert those rows again.
function raiseWatermark(wm: Map<string, Map<number, number>>, table: string, partition: number, offset: number) {
  if (!wm.has(table)) wm.set(table, new Map());
  const marks = wm.get(table)!;
  marks.set(partition, Math.max(marks.get(partition) ?? -1, offset));
}
