import type { PoolClient } from '../../../lib/pg.ts';
import { copyInto, copyLine } from '../../../lib/pg-copy.ts';
import type { Step } from '../../../schemas/common.ts';
import type { EventOf } from '../../../schemas/events.ts';
import type { Outcome } from '../outcome.ts';

type FlatStep = { idx: number; parentIdx: number | null; depth: number; step: Step };

// Depth-first, so idx order is the order a person reads the steps in.
export function flattenSteps(steps: Step[]): FlatStep[] {
  const out: FlatStep[] = [];
  const walk = (list: Step[], parentIdx: number | null, depth: number) => {
    for (const step of list) {
      const idx = out.length;
      out.push({ idx, parentIdx, depth, step });
      walk(step.steps, idx, depth + 1);
    }
  };
  walk(steps, null, 0);
  return out;
}

const COUNTERS = ['passed_tests', 'flaky_tests', 'skipped_tests', 'failed_tests'] as const;
const COUNTED: Record<string, (typeof COUNTERS)[number]> = {
  passed: 'passed_tests', flaky: 'flaky_tests', skipped: 'skipped_tests',
  failed: 'failed_tests', timedOut: 'failed_tests', interrupted: 'failed_tests',
};

export type ReportedTest = { event: EventOf<'test.reported'>; offset: number };

const TEST_COLUMNS = ['id', 'run_id', 'project_id', 'test_case_id', 'suite_id', 'title', 'full_title', 'file_path', 'line_number',
  'variant', 'status', 'duration', 'retries', 'attempt', 'is_flaky', 'tags', 'annotations', 'error', 'attempts', 'stdout', 'stderr',
  'started_at', 'created_at', 'seq'];
const STEP_COLUMNS = ['test_id', 'idx', 'parent_idx', 'depth', 'title', 'category', 'status', 'duration', 'error'];

// A run of consecutive test.reported events of one batch, applied set-based:
// one statement per table, whatever the number of results (issue 15 §1):
// COPY for the tests and their steps, unnest for the rest. The
// effect is the one of applying them one by one in log order:
//   - a result whose run is unknown (or deleted) is dropped;
//   - a result already stored (a replay, a duplicate) changes nothing at all;
//   - each stored result adds one to its run's counters: summed here, one
//     UPDATE for all runs instead of one per result on the same hot row;
//   - a test case's row is written by the first result stored for it, and
//     only then (insertTestCases).
// `seq` is the event's offset in its partition: a run's events share a
// partition, so within a run it is log order, which is commit order, and a
// replay gives every row the same value (the live stream resumes by it).
// Returns one outcome per item, in order.
export async function testsReported(tx: PoolClient, items: readonly ReportedTest[], knownCases: ReadonlySet<string>): Promise<Outcome[]> {
  const runIds = [...new Set(items.map((t) => t.event.data.runId))];
  const knownRuns = new Set<string>(
    (await tx.query('SELECT id FROM runs WHERE id = ANY($1::text[])', [runIds])).rows.map((r) => r.id as string),
  );
  const outcomes: Outcome[] = items.map((t) => (knownRuns.has(t.event.data.runId) ? { kind: 'ok' } : { kind: 'drop', reason: 'unknown or deleted run' }));
  // The first of two results with one id wins, as ON CONFLICT DO NOTHING would one by one.
  const byId = new Map<string, ReportedTest>();
  for (const t of items) if (knownRuns.has(t.event.data.runId) && !byId.has(t.event.data.id)) byId.set(t.event.data.id, t);
  if (byId.size === 0) return outcomes;
  const fresh = [...byId.values()];

  // Results already stored (a replay, a duplicate) are left out; the rest are
  // written with COPY. A result id is made by ingest, so only its own event,
  // on its own partition (applied one batch at a time), can store it again.
  const existing = new Set<string>(
    (await tx.query('SELECT id FROM tests WHERE id = ANY($1::text[])', [[...byId.keys()]])).rows.map((r) => r.id as string),
  );
  const stored = fresh.filter((t) => !existing.has(t.event.data.id));
  if (stored.length === 0) return outcomes;
  await copyInto(tx, 'tests', TEST_COLUMNS, stored.map(({ event: e, offset }) => {
    const d = e.data;
    return copyLine([d.id, d.runId, e.projectId, d.testCaseId, d.suiteId, d.title, d.fullTitle, d.filePath, d.lineNumber, d.variant,
      d.status, d.duration, d.retries, d.attempt, d.isFlaky, d.tags, d.annotations, d.error, d.attempts, d.stdout, d.stderr,
      d.startedAt, d.createdAt, offset]);
  }));

  await addToRunCounters(tx, stored);
  await insertSteps(tx, stored);
  await insertTestCases(tx, stored, knownCases);
  return outcomes;
}

async function addToRunCounters(tx: PoolClient, stored: readonly ReportedTest[]): Promise<void> {
  const perRun = new Map<string, Record<(typeof COUNTERS)[number] | 'total', number>>();
  for (const { event: { data: d } } of stored) {
    let c = perRun.get(d.runId);
    if (!c) perRun.set(d.runId, (c = { total: 0, passed_tests: 0, flaky_tests: 0, skipped_tests: 0, failed_tests: 0 }));
    c.total += 1;
    c[COUNTED[d.status]!] += 1;
  }
  const runs = [...perRun.keys()].sort(); // one lock order for every batch
  const of = (k: (typeof COUNTERS)[number] | 'total') => runs.map((r) => perRun.get(r)![k]);
  await tx.query(
    `UPDATE runs SET total_tests = total_tests + v.total, passed_tests = passed_tests + v.passed,
       flaky_tests = flaky_tests + v.flaky, skipped_tests = skipped_tests + v.skipped, failed_tests = failed_tests + v.failed
     FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[]) AS v(id, total, passed, flaky, skipped, failed)
     WHERE runs.id = v.id`,
    [runs, of('total'), of('passed_tests'), of('flaky_tests'), of('skipped_tests'), of('failed_tests')],
  );
}

async function insertSteps(tx: PoolClient, stored: readonly ReportedTest[]): Promise<void> {
  const lines: string[] = [];
  for (const { event: { data: d } } of stored) {
    for (const s of flattenSteps(d.steps)) {
      lines.push(copyLine([d.id, s.idx, s.parentIdx, s.depth, s.step.title, s.step.category, s.step.status, s.step.duration, s.step.error]));
    }
  }
  await copyInto(tx, 'test_steps', STEP_COLUMNS, lines);
}

// A test case's row is its identity: the id is derived from project, file,
// full title and variant, and the title comes with the full title. The first
// result stored for a case writes the row and later ones leave it alone (a
// result's outcome lives in tests and in ClickHouse), so every order of
// applying the log gives the same rows; a client that sent one case under two
// titles keeps the first stored. Cases in `known` (stored before, as this
// process saw) are not sent at all: from a suite's second run on, that is
// nearly every result, which spares Postgres an upsert per result, the most
// expensive statement of a batch before (docs/scaling.md, session 10). New
// rows go in id order, so two partitions' batches inserting the same new cases
// wait for each other in one order and never deadlock.
async function insertTestCases(tx: PoolClient, stored: readonly ReportedTest[], known: ReadonlySet<string>): Promise<void> {
  const firstOf = new Map<string, ReportedTest>();
  for (const t of stored) {
    const id = t.event.data.testCaseId;
    if (!known.has(id) && !firstOf.has(id)) firstOf.set(id, t);
  }
  if (firstOf.size === 0) return;
  const rows = [...firstOf.values()];
  const col = (f: (t: ReportedTest) => string) => rows.map(f);
  await tx.query(
    `INSERT INTO test_cases (id, project_id, title, full_title, file_path, variant)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       AS v(id, project_id, title, full_title, file_path, variant)
     ORDER BY id
     ON CONFLICT (id) DO NOTHING`,
    [col((t) => t.event.data.testCaseId), col((t) => t.event.projectId), col((t) => t.event.data.title), col((t) => t.event.data.fullTitle),
      col((t) => t.event.data.filePath), col((t) => t.event.data.variant)],
  );
}
