import { chDateTime, sql, type ClickHouse } from '../../lib/clickhouse.ts';
import type { Logger } from '../../lib/logger.ts';
import type { PositionedEvent, Projection, ProjectionBatch, PublishDeadLetters } from '../kafka/consumer.ts';
import { applyIsolating, classifyClickHouseError, rejectionReason } from '../kafka/isolate.ts';
import { RUNS_TABLE, runCreatedRow, runUpdatedRow } from './tables/runs.ts';
import { TEST_RESULTS_TABLE, testResultRow } from './tables/test-results.ts';
import { TEST_ERRORS_TABLE, testErrorRow } from './tables/test-errors.ts';
import { CLICKHOUSE_DERIVED_TABLES, deleteRunsFromDerived } from './tables/derived.ts';

export const CLICKHOUSE_PROJECTION = 'clickhouse';
// Tables the projector inserts into, each row with its log position. Inserting
// into test_results_v1 also fills the derived tables (tables/derived.ts).
export const CLICKHOUSE_FACT_TABLES = [TEST_RESULTS_TABLE, RUNS_TABLE, TEST_ERRORS_TABLE] as const;
// Projects deleted through the log; emptied with the facts when the projection is reset.
export const DELETED_PROJECTS_TABLE = 'deleted_projects_v1';
const OFFSETS_TABLE = 'projection_offsets_v1';
type Table = (typeof CLICKHOUSE_FACT_TABLES)[number];

// ClickHouse facts. Rows carry the log position they came from; before writing
// a partition's batch the projector asks ClickHouse how far each table already
// got, so a batch replayed after a crash is skipped, never inserted twice
// (materialised aggregates would double count). One insert per table per batch;
// the consumer's fetch settings make batches large (DESIGN §4).
export class ClickHouseProjection implements Projection {
  readonly name = CLICKHOUSE_PROJECTION;
  // table → partition → last offset present; '' is projection_offsets_v1.
  private watermarks: Map<string, Map<number, number>> | null = null;
  // Deleted projects seen so far (they never come back): their rows are not inserted.
  private deletedProjects = new Set<string>();

  constructor(private ch: ClickHouse, private topic: string, private logger: Logger) {}

  onAssignment(): void {
    this.watermarks = null;
  }

  // `publish` is optional for callers that apply batches by hand (tests, tools):
  // without it a refused event fails the batch as any error would.
  async apply(batch: ProjectionBatch, publish?: PublishDeadLetters): Promise<void> {
    const { partition, events, lastOffset: last } = batch;
    const wm = await this.loadWatermarks();
    if (last <= (wm.get('')?.get(partition) ?? -1)) return; // the whole batch was applied before
    const seen = (table: Table | '', offset: number) => offset <= Math.max(wm.get(table)?.get(partition) ?? -1, wm.get('')?.get(partition) ?? -1);

    const rows: Record<Table, Array<{ project_id: string; _offset: number }>> = { [TEST_RESULTS_TABLE]: [], [RUNS_TABLE]: [], [TEST_ERRORS_TABLE]: [] };
    const deletedRuns: string[] = [];
    const deletedProjects: Array<{ project_id: string; deleted_at: string; _partition: number; _offset: number }> = [];
    const deletedHere = new Set<string>();
    for (const { event: e, offset } of events) {
      const gone = this.deletedProjects.has(e.projectId) || deletedHere.has(e.projectId);
      if (gone && e.type !== 'project.deleted') continue; // a late event of a deleted project
      switch (e.type) {
        case 'test.reported': {
          if (!seen(TEST_RESULTS_TABLE, offset)) rows[TEST_RESULTS_TABLE].push(testResultRow(e, partition, offset));
          const error = seen(TEST_ERRORS_TABLE, offset) ? null : testErrorRow(e, partition, offset);
          if (error) rows[TEST_ERRORS_TABLE].push(error);
          break;
        }
        case 'run.created':
          if (!seen(RUNS_TABLE, offset)) rows[RUNS_TABLE].push(runCreatedRow(e, partition, offset));
          break;
        case 'run.updated':
          if (!seen(RUNS_TABLE, offset)) rows[RUNS_TABLE].push(runUpdatedRow(e, partition, offset));
          break;
        case 'run.deleted':
          // A mutation is idempotent, so replaying one is harmless.
          if (!seen('', offset)) deletedRuns.push(e.data.id);
          break;
        case 'project.deleted':
          deletedHere.add(e.projectId);
          if (!seen('', offset)) {
            deletedProjects.push({ project_id: e.projectId, deleted_at: chDateTime(Date.parse(e.data.deletedAt)), _partition: partition, _offset: offset });
          }
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

    // A row ClickHouse refuses to parse (issue 14: a lone surrogate in a title)
    // would fail the insert on every retry and stop the partition: the table's
    // rows are bisected down to the refused ones, whose events are dead-lettered
    // as soon as they are isolated (the watermarks never pass an event that is
    // neither stored nor dead-lettered) and left out of the later tables. A
    // failed insert writes nothing, so no row is inserted twice; a table that
    // accepted an event before a later table refused it keeps that row.
    const refused = new Set<number>();
    const byOffset = new Map<number, PositionedEvent>(events.map((pe) => [pe.offset, pe]));
    for (const table of CLICKHOUSE_FACT_TABLES) {
      const tableRows = refused.size ? rows[table].filter((r) => !refused.has(r._offset)) : rows[table];
      if (tableRows.length === 0) continue;
      await applyIsolating(tableRows, (part) => this.ch.insert(table, part), classifyClickHouseError, async ({ item, error }) => {
        if (!publish) throw error;
        refused.add(item._offset);
        const pe = byOffset.get(item._offset)!;
        await publish([{ ...pe, reason: rejectionReason(`clickhouse (${table})`, error), step: 'clickhouse.insert' }]);
      });
      setWatermark(wm, table, partition, last);
      await batch.heartbeat?.(); // inserts and mutations can outlast the group's session
    }
    if (deletedRuns.length) {
      for (const table of CLICKHOUSE_FACT_TABLES) {
        await this.ch.command(`ALTER TABLE ${table} DELETE WHERE ${sql.inList('run_id', deletedRuns)}`);
      }
      await batch.heartbeat?.();
      await deleteRunsFromDerived(this.ch, deletedRuns);
      await batch.heartbeat?.();
    }
    // Tombstones first, then the deletion: a batch of another partition that
    // inserts the project's rows meanwhile finds the tombstone afterwards (below).
    await this.ch.insert(DELETED_PROJECTS_TABLE, deletedProjects);
    const purge = deletedProjects.map((d) => d.project_id);
    // Rows just inserted for a project deleted by another partition meanwhile
    // (or earlier in a replay) are deleted again: a mutation only covers the
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
    await this.ch.insert(OFFSETS_TABLE, [
      { projection: this.name, topic: this.topic, partition, offset: last, updated_at: chDateTime(Date.now()) },
    ]);
    setWatermark(wm, '', partition, last);
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

function setWatermark(wm: Map<string, Map<number, number>>, table: string, partition: number, offset: number) {
  if (!wm.has(table)) wm.set(table, new Map());
  wm.get(table)!.set(partition, offset);
}
