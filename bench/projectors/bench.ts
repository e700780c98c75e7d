// Projector micro-benchmark (issue 15 §1): N realistic test.reported events
// (batches of 1,000, 20 runs, 4 steps, tags, ~3 % errors) applied by the
// Postgres projection and by the ClickHouse projector to the real stores, in
// this process, against baselines on the same rows measured in the same run:
//   - Postgres: COPY of the same rows into the same tables (tests, test_steps,
//     and test_cases once per case), one transaction per batch; the COPY text is
//     built in the timed section, as a COPY loader would have to;
//   - ClickHouse: JSONEachRow inserts of the same rows into the same tables
//     (test_results_v1, test_errors_v1), rows built beforehand (stricter).
// Goals: PG projector ≥ 0.5× COPY, CH projector ≥ 0.5× the raw insert.
// BENCH_RESULTS (default 20,000) sets N; BENCH_CPU_PROF=dir profiles this process
// only if node runs with --cpu-prof (see docs/scaling.md).
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import copyStreams from 'pg-copy-streams';
import { startTestStack, type TestStack } from '../../test/support/stack.ts';
import { createTenant } from '../../test/support/tenants.ts';
import { createLogger } from '../../lib/logger.ts';
import { PostgresProjection } from '../../projections/postgres/projector.ts';
import { flattenSteps } from '../../projections/postgres/handlers/tests.ts';
import { copyLine } from '../../lib/pg-copy.ts';
import { ClickHouseProjection } from '../../projections/clickhouse/projector.ts';
import { TEST_RESULTS_TABLE, testResultRow } from '../../projections/clickhouse/tables/test-results.ts';
import { TEST_ERRORS_TABLE, testErrorRow } from '../../projections/clickhouse/tables/test-errors.ts';
import type { PositionedEvent, Projection } from '../../projections/kafka/consumer.ts';
import type { EventOf } from '../../schemas/events.ts';
import { projectorLoad, type Load } from './events.ts';
import { ownCpuSeconds } from '../cpu.ts';

async function timed(fn: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number }> {
  const c0 = ownCpuSeconds();
  const t0 = process.hrtime.bigint();
  await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: ownCpuSeconds() - c0 };
}

const rate = (n: number, s: number) => Math.round(n / s);
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

async function feed(projection: Pick<Projection, 'apply'>, topic: string, batches: PositionedEvent[][]): Promise<void> {
  for (const events of batches) {
    await projection.apply({ topic, partition: 0, events, lastOffset: events.at(-1)!.offset }, async (letters) => {
      if (letters.length) throw new Error(`bench events dead-lettered: ${letters[0]!.reason}`);
    });
  }
}

async function copyBaseline(stack: TestStack, load: Load): Promise<void> {
  const cases = new Set<string>();
  for (const batch of load.batches.slice(1)) {
    const tests: string[] = [], steps: string[] = [], caseLines: string[] = [];
    for (const { event, offset } of batch) {
      const d = (event as EventOf<'test.reported'>).data;
      tests.push(copyLine([d.id, d.runId, event.projectId, d.testCaseId, d.suiteId, d.title, d.fullTitle, d.filePath, d.lineNumber, d.variant,
        d.status, d.duration, d.retries, d.attempt, d.isFlaky, d.tags, d.annotations, d.error, d.attempts, d.stdout, d.stderr, d.startedAt, d.createdAt, offset]));
      for (const s of flattenSteps(d.steps)) {
        steps.push(copyLine([d.id, s.idx, s.parentIdx, s.depth, s.step.title, s.step.category, s.step.status, s.step.duration, s.step.error]));
      }
      if (!cases.has(d.testCaseId)) {
        cases.add(d.testCaseId);
        caseLines.push(copyLine([d.testCaseId, event.projectId, d.title, d.fullTitle, d.filePath, d.variant]));
      }
    }
    // One transaction per batch, as the projector's.
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      await pipeline(Readable.from([tests.join('')]), client.query(copyStreams.from(
        `COPY tests (id, run_id, project_id, test_case_id, suite_id, title, full_title, file_path, line_number, variant, status, duration,
          retries, attempt, is_flaky, tags, annotations, error, attempts, stdout, stderr, started_at, created_at, seq) FROM STDIN`)));
      await pipeline(Readable.from([steps.join('')]), client.query(copyStreams.from(
        'COPY test_steps (test_id, idx, parent_idx, depth, title, category, status, duration, error) FROM STDIN')));
      if (caseLines.length) {
        await pipeline(Readable.from([caseLines.join('')]), client.query(copyStreams.from(
          'COPY test_cases (id, project_id, title, full_title, file_path, variant) FROM STDIN')));
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
}

export async function measureProjectors(results = Number(process.env.BENCH_RESULTS ?? 20_000)) {
  const stack = await startTestStack({ projections: [] });
  try {
    const tenant = await createTenant(stack.url, 'bench-projectors');
    const runs = 20;
    const load = projectorLoad(tenant.projectId, runs, Math.ceil(results / runs));
    const n = load.results;
    const logger = createLogger('bench', 'warn');
    const topic = stack.config.topic;

    // Postgres: the projection, then the same rows by COPY into emptied tables.
    // BENCH_PG_PROJECTION=<module path> measures another implementation (a copy of an older one).
    const Impl: typeof PostgresProjection = process.env.BENCH_PG_PROJECTION
      ? (await import(process.env.BENCH_PG_PROJECTION)).PostgresProjection
      : PostgresProjection;
    const pg = new Impl(stack.pool, logger);
    await feed(pg, topic, load.batches.slice(0, 1)); // the runs, untimed
    const pgRun = await timed(() => feed(pg, topic, load.batches.slice(1)));
    const counted = (await stack.pool.query('SELECT sum(total_tests)::int AS n FROM runs')).rows[0].n;
    if (counted !== n) throw new Error(`postgres projection counted ${counted} results, not ${n}`);
    await stack.pool.query('TRUNCATE tests, test_steps, test_cases');
    await stack.pool.query('VACUUM ANALYZE tests, test_steps, test_cases');
    const pgCopy = await timed(() => copyBaseline(stack, load));

    // ClickHouse: the projector, then the same rows by JSONEachRow.
    const ch = new ClickHouseProjection(stack.ch, topic, logger);
    await feed(ch, topic, load.batches.slice(0, 1));
    const chRun = await timed(() => feed(ch, topic, load.batches.slice(1)));
    const rows = load.batches.slice(1).map((b) => ({
      results: b.map(({ event, offset }) => testResultRow(event as EventOf<'test.reported'>, 1, offset)),
      errors: b.flatMap(({ event, offset }) => testErrorRow(event as EventOf<'test.reported'>, 1, offset) ?? []),
    }));
    const chRaw = await timed(async () => {
      for (const b of rows) {
        await stack.ch.insert(TEST_RESULTS_TABLE, b.results);
        await stack.ch.insert(TEST_ERRORS_TABLE, b.errors);
      }
    });

    return {
      results: n,
      batchSize: 1000,
      postgres: {
        projectorPerSecond: rate(n, pgRun.seconds), copyPerSecond: rate(n, pgCopy.seconds),
        projectorVsCopy: ratio(pgCopy.seconds, pgRun.seconds), goal: 0.5,
        projectorClientCpuSeconds: Math.round(pgRun.cpuSeconds * 100) / 100, copyClientCpuSeconds: Math.round(pgCopy.cpuSeconds * 100) / 100,
      },
      clickhouse: {
        projectorPerSecond: rate(n, chRun.seconds), rawInsertPerSecond: rate(n, chRaw.seconds),
        projectorVsRawInsert: ratio(chRaw.seconds, chRun.seconds), goal: 0.5,
        projectorClientCpuSeconds: Math.round(chRun.cpuSeconds * 100) / 100, rawClientCpuSeconds: Math.round(chRaw.cpuSeconds * 100) / 100,
      },
    };
  } finally {
    await stack.stop();
  }
}
