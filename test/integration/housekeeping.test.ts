import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runEvents } from '../support/events.ts';
import { form, sized, PNG } from '../support/artifacts.ts';
import { EventLog } from '../../lib/event-log.ts';
import { createLogger } from '../../lib/logger.ts';
import { Housekeeper, type SweepReport } from '../../ops/housekeeping/housekeeper.ts';
import { CLICKHOUSE_DERIVED_TABLES, DERIVED_SNAPSHOTS } from '../../projections/clickhouse/tables/derived.ts';
import type { Event } from '../../schemas/events.ts';
import { runToEnd, spawnProcess } from '../support/processes.ts';
import { snapshot } from '../support/snapshot.ts';
import { resetClickHouseFacts, resetPostgresReadModels, rewindConsumerGroup, waitForMutations } from '../../projections/reset.ts';
import { groupIdOf } from '../../lib/consumer-groups.ts';

// Retention: runs older than their project's dataRetentionDays leave every
// store through the log (run.deleted, as a user's DELETE does), whole ClickHouse
// months past every project's retention are dropped, old idempotency keys go;
// the space is really given back, and what is kept stays exact.

const DAY = 24 * 3600 * 1000;
let stack: TestStack;
let scratch: TestStack; // a from-scratch ClickHouse projection of the kept runs only
let eventLog: EventLog;
let a: Tenant; // keeps 30 days
let b: Tenant; // keeps the default 90 days
const now = new Date();
const ago = (days: number) => new Date(now.getTime() - days * DAY);
const yyyymm = (d: Date) => `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

type Planned = { name: string; tenant: () => Tenant; at: Date; expired: boolean; runId?: string; events?: Event[] };
const runs: Planned[] = [
  { name: 'A 400 days', tenant: () => a, at: ago(400), expired: true },
  { name: 'A 200 days', tenant: () => a, at: ago(200), expired: true },
  { name: 'A 45 days', tenant: () => a, at: ago(45), expired: true },
  { name: 'A 3 days', tenant: () => a, at: ago(3), expired: false },
  { name: 'A today', tenant: () => a, at: now, expired: false },
  { name: 'B 200 days', tenant: () => b, at: ago(200), expired: true },
  { name: 'B 45 days', tenant: () => b, at: ago(45), expired: false },
  // kept, with one result whose reporter clock says 300 days ago: that month stays
  { name: 'B 1 day, skewed clock', tenant: () => b, at: ago(1), expired: false },
  // an earlier sweep marked it and crashed before appending its run.deleted
  { name: 'A 100 days, left pending', tenant: () => a, at: ago(100), expired: true },
];
const SKEWED = ago(300);
const kept = () => runs.filter((r) => !r.expired).map((r) => r.runId!).sort();
const expired = () => runs.filter((r) => r.expired).map((r) => r.runId!).sort();
let report: SweepReport;
const before = { blobBytes: 0, chActiveBytes: 0, chRows: 0 };
const after = { blobBytes: 0, chActiveBytes: 0, chRows: 0 };
const keptFileBytes = new Map<string, number>();

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}
const chParts = async (s: TestStack) => (await s.ch.select<{ bytes: string; rows: string }>(
  `SELECT toString(sum(bytes_on_disk)) AS bytes, toString(sum(rows)) AS rows FROM system.parts WHERE database = '${s.ch.database}' AND active`,
))[0]!;
const runIdsIn = async (table: string) => (await stack.ch.select<{ r: string }>(`SELECT DISTINCT run_id AS r FROM ${table} ORDER BY r`)).map((x) => x.r);

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse', 'blobs'] });
  scratch = await startTestStack({ projections: ['clickhouse'] });
  eventLog = new EventLog(stack.kafka, stack.config.topic, stack.config.kafkaTimeoutMs);
  a = await createTenant(stack.url, 'keeps-30');
  b = await createTenant(stack.url, 'keeps-90');
  const settings = await client(stack.url, { token: a.token }).patch(`/api/projects/${a.projectId}/settings`, { dataRetentionDays: 30 });
  expect(settings.status).toBe(200);

  const keptEvents: Event[] = [];
  for (const [i, r] of runs.entries()) {
    const { runId, events } = runEvents(r.tenant().projectId, { tests: 60, at: r.at, branch: i % 2 ? 'main' : 'dev' });
    if (r.name.includes('skewed')) {
      const t = events.find((e) => e.type === 'test.reported')!;
      (t.data as { startedAt: string }).startedAt = SKEWED.toISOString();
    }
    r.runId = runId;
    r.events = events;
    // the ingest registry knows the run as ingest would have registered it
    await stack.pool.query('INSERT INTO ingest_runs (id, project_id, branch, commit_sha, created_at) VALUES ($1, $2, $3, $4, $5)',
      [runId, r.tenant().projectId, 'main', 'c0ffee', r.at]);
    await eventLog.append(events);
    if (!r.expired) keptEvents.push(...events);
    // an artifact file per run, through the API
    const file = sized(PNG, 40_000 + i);
    const up = await fetch(`${stack.url}/api/upload`, {
      method: 'POST', headers: { 'x-api-key': r.tenant().apiKey },
      body: form([['type', 'screenshot'], ['runId', runId], ['projectId', r.tenant().projectId], ['file', file]]),
    });
    expect(up.status).toBe(201);
    if (!r.expired) keptFileBytes.set(runId, file.length);
  }
  const pending = runs.find((r) => r.name.includes('pending'))!;
  await stack.pool.query('UPDATE ingest_runs SET deleted_at = $2, expiry_pending = true WHERE id = $1', [pending.runId, ago(1)]);
  await stack.pool.query(
    `INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ('user:x', 'old', 'f', now() - interval '2 days'), ('user:x', 'fresh', 'f', now())`,
  );
  const scratchLog = new EventLog(scratch.kafka, scratch.config.topic, scratch.config.kafkaTimeoutMs);
  await scratchLog.append(keptEvents);
  await scratchLog.close();
  await Promise.all([stack.waitForProjections(), scratch.waitForProjections()]);

  before.blobBytes = await dirBytes(stack.config.blobDir);
  const p = await chParts(stack);
  before.chActiveBytes = Number(p.bytes);
  before.chRows = Number(p.rows);

  const housekeeper = new Housekeeper(stack.pool, stack.ch, eventLog, createLogger('housekeeping', 'silent'), {
    batchSize: 2, idempotencyTtlSeconds: 24 * 3600, // small batches: the loop over batches is exercised
  });
  report = await housekeeper.sweep(now);
  await stack.waitForProjections();

  after.blobBytes = await dirBytes(stack.config.blobDir);
  const q = await chParts(stack);
  after.chActiveBytes = Number(q.bytes);
  after.chRows = Number(q.rows);
  console.log(`retention freed: artifact files ${before.blobBytes} -> ${after.blobBytes} bytes; ClickHouse active parts ${before.chActiveBytes} -> ${after.chActiveBytes} bytes, ${before.chRows} -> ${after.chRows} rows`);
}, 300_000);

afterAll(async () => {
  await eventLog?.close();
  await scratch?.stop();
  await stack?.stop();
});

describe('retention sweep', () => {
  it('deletes the runs past their own project\'s retention, and keeps the others', async () => {
    // 4 marked by this sweep; the one left pending by a crashed sweep is appended too
    expect(report.expiredRuns).toBe(4);
    const pg = (q: string) => stack.pool.query(q).then((r) => r.rows.map((x) => x.run_id as string).sort());
    expect(await pg('SELECT id AS run_id FROM runs')).toEqual(kept());
    expect([...new Set(await pg('SELECT run_id FROM tests'))]).toEqual(kept());
    expect([...new Set(await pg('SELECT t.run_id FROM test_steps s JOIN tests t ON t.id = s.test_id'))]).toEqual(kept());
    expect(await pg('SELECT run_id FROM artifacts')).toEqual(kept());
    const registry = (await stack.pool.query('SELECT id, deleted_at, expiry_pending FROM ingest_runs ORDER BY id')).rows;
    expect(registry.filter((r) => r.deleted_at).map((r) => r.id).sort()).toEqual(expired());
    expect(registry.some((r) => r.expiry_pending)).toBe(false);
  });

  it('appends one run.deleted per expired run, by the housekeeping actor, as the deletion of record', async () => {
    const r = await stack.pool.query('SELECT id FROM ingest_runs WHERE deleted_at IS NOT NULL');
    expect(r.rowCount).toBe(expired().length);
    // the run cannot be written to any more: ingest answers 404 like for a deleted run
    const gone = runs.find((x) => x.expired)!;
    const res = await client(stack.url, { key: gone.tenant().apiKey }).patch(`/api/runs/${gone.runId}`, { status: 'passed' });
    expect(res.status).toBe(404);
  });

  it('removes the expired runs from every ClickHouse table, facts and derived', async () => {
    for (const table of ['test_results_v1', 'runs_v1', 'test_errors_v1', 'run_results_v1', 'run_stats_v1']) {
      expect(await runIdsIn(table), table).toEqual(kept()); // every run has failures, so errors too
    }
  });

  it('drops whole months past every project\'s retention, and keeps a month holding a kept run\'s result', async () => {
    const dropped = new Set(report.droppedPartitions.map((p) => `${p.table}:${p.partition}`));
    for (const table of ['test_results_v1', 'test_errors_v1', 'run_results_v1', 'test_case_daily_v1', 'project_daily_v1', 'runs_v1']) {
      expect(dropped.has(`${table}:${yyyymm(ago(400))}`), `${table} ${yyyymm(ago(400))}`).toBe(true);
      expect(dropped.has(`${table}:${yyyymm(ago(200))}`), `${table} ${yyyymm(ago(200))}`).toBe(true);
      expect(dropped.has(`${table}:${yyyymm(ago(45))}`)).toBe(false); // B keeps its run of then
    }
    expect(dropped.has(`test_results_v1:${yyyymm(SKEWED)}`)).toBe(false);
    const skewed = await stack.ch.select<{ n: string }>(
      `SELECT toString(count()) AS n FROM test_results_v1 WHERE toYYYYMM(started_at) = ${yyyymm(SKEWED)}`,
    );
    expect(skewed[0]!.n).toBe('1');
  });

  it('keeps every aggregate over the kept runs exact: equal to a from-scratch projection of the kept runs alone', async () => {
    for (const table of CLICKHOUSE_DERIVED_TABLES) {
      const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ _partition, _offset, ...rest }) => rest);
      const live = strip(await stack.ch.select(DERIVED_SNAPSHOTS[table]));
      const fromScratch = strip(await scratch.ch.select(DERIVED_SNAPSHOTS[table]));
      expect(live.length, table).toBeGreaterThan(0);
      expect(live, table).toEqual(fromScratch);
    }
    const facts = (s: TestStack) => s.ch.select(
      'SELECT test_id, run_id, status, duration_ms, started_at, run_created_at FROM test_results_v1 FINAL ORDER BY test_id',
    );
    expect(await facts(stack)).toEqual(await facts(scratch));
  });

  it('gives the space back: the expired runs\' files are gone, ClickHouse keeps fewer bytes', async () => {
    expect(after.blobBytes).toBe([...keptFileBytes.values()].reduce((x, y) => x + y, 0));
    expect(after.blobBytes).toBeLessThan(before.blobBytes);
    for (const r of runs) {
      const files = await readdir(join(stack.config.blobDir, r.tenant().projectId, r.runId!)).catch(() => []);
      expect(files.length > 0, r.name).toBe(!r.expired);
    }
    expect(after.chActiveBytes).toBeLessThan(before.chActiveBytes);
    const keptResults = runs.filter((r) => !r.expired).length * 60;
    const expiredResults = runs.filter((r) => r.expired).length * 60;
    expect(after.chRows).toBeLessThan(before.chRows - expiredResults); // results, errors, per-run rows and derived rows went
    expect((await stack.ch.select<{ n: string }>('SELECT toString(count()) AS n FROM test_results_v1 FINAL'))[0]!.n).toBe(String(keptResults));
  });

  it('expires idempotency keys past their TTL and keeps the others', async () => {
    expect(report.idempotencyKeys).toBeGreaterThanOrEqual(1);
    const keys = (await stack.pool.query(`SELECT key FROM idempotency_keys WHERE scope = 'user:x' ORDER BY key`)).rows.map((r) => r.key);
    expect(keys).toEqual(['fresh']);
  });

  it('does nothing more when swept again', async () => {
    const again = await new Housekeeper(stack.pool, stack.ch, eventLog, createLogger('housekeeping', 'silent'), { batchSize: 500, idempotencyTtlSeconds: 24 * 3600 }).sweep(now);
    expect(again).toEqual({ skipped: false, expiredRuns: 0, droppedPartitions: [], idempotencyKeys: 0 });
  });

  it('leaves the log the record: a replay of it rebuilds Postgres and ClickHouse as the sweep left them', async () => {
    const live = await snapshot(stack);
    await stack.stopProjection('postgres');
    await stack.stopProjection('clickhouse');
    await resetPostgresReadModels(stack.pool);
    await resetClickHouseFacts(stack.ch);
    for (const name of ['postgres', 'clickhouse'] as const) await rewindConsumerGroup(stack.kafka, groupIdOf(stack.config, name), stack.config.topic);
    await stack.startProjection('postgres');
    await stack.startProjection('clickhouse');
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
    const replayed = await snapshot(stack);
    expect(replayed.pg.runs!.map((r: any) => r.id).sort()).toEqual(kept());
    expect(replayed.pg).toEqual(live.pg);
    expect(replayed.ch).toEqual(live.ch);
  });
});

describe('the housekeeping process (ops/run/housekeeping.ts)', () => {
  it('sweeps once with --once: a run that expired since is deleted through the log', async () => {
    const { runId, events } = runEvents(a.projectId, { tests: 3, at: ago(31) });
    await stack.pool.query('INSERT INTO ingest_runs (id, project_id, branch, commit_sha, created_at) VALUES ($1, $2, $3, $4, $5)', [runId, a.projectId, 'main', 'c0ffee', ago(31)]);
    await eventLog.append(events);
    await stack.waitForProjections();
    expect((await stack.pool.query('SELECT 1 FROM runs WHERE id = $1', [runId])).rowCount).toBe(1);
    const run = await runToEnd(['ops/run/housekeeping.ts', '--once'], { ...stack.env, RUNLEDGER_LOG_LEVEL: 'silent' });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toMatchObject({ skipped: false, expiredRuns: 1 });
    await stack.waitForProjections();
    expect((await stack.pool.query('SELECT 1 FROM runs WHERE id = $1', [runId])).rowCount).toBe(0);
    expect(await runIdsIn('test_results_v1')).toEqual(kept());
  });

  it('sweeps on its cron schedule, and stops on SIGTERM', async () => {
    const child = spawnProcess(['ops/run/housekeeping.ts'], { ...stack.env, RUNLEDGER_HOUSEKEEPING_CRON: '* * * * * *' }, 'info');
    try {
      for (let i = 0; i < 200 && !child.output().includes('housekeeping sweep done'); i++) {
        child.assertAlive();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(child.output()).toContain('"msg":"housekeeping scheduled"');
      expect(child.output()).toContain('"msg":"housekeeping sweep done"');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
