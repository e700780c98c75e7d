import type { TestStack } from './stack.ts';
import { POSTGRES_READ_MODELS } from '../../projections/postgres/read-models.ts';
import { CLICKHOUSE_FACT_TABLES } from '../../projections/clickhouse/projector.ts';
import { CLICKHOUSE_DERIVED_TABLES, DERIVED_SNAPSHOTS } from '../../projections/clickhouse/tables/derived.ts';

const PRIMARY_KEYS: Record<(typeof POSTGRES_READ_MODELS)[number], string> = {
  runs: 'id', suites: 'id', test_cases: 'id', tests: 'id', test_steps: 'test_id, idx', artifacts: 'id', quarantines: 'test_case_id', quarantine_history: 'event_id', project_tombstones: 'project_id',
};

// Every row of every read model, in a stable order: two snapshots are equal
// when the models are equal, row for row.
export async function snapshotPostgres(stack: TestStack): Promise<Record<string, unknown[]>> {
  const pg: Record<string, unknown[]> = {};
  for (const table of POSTGRES_READ_MODELS) {
    pg[table] = (await stack.pool.query(`SELECT * FROM ${table} ORDER BY ${PRIMARY_KEYS[table]}`)).rows;
  }
  return pg;
}

export async function snapshotClickHouse(stack: TestStack): Promise<Record<string, unknown[]>> {
  const ch: Record<string, unknown[]> = {};
  for (const table of CLICKHOUSE_FACT_TABLES) {
    ch[table] = await stack.ch.select(`SELECT * FROM ${table} ORDER BY _partition, _offset`);
  }
  // Materialised aggregates, finalised: the same numbers after a replay.
  for (const table of CLICKHOUSE_DERIVED_TABLES) ch[table] = await stack.ch.select(DERIVED_SNAPSHOTS[table]);
  return ch;
}

export async function snapshot(stack: TestStack) {
  return { pg: await snapshotPostgres(stack), ch: await snapshotClickHouse(stack) };
}
