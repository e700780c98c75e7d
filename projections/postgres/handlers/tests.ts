import type { PoolClient } from '../../../lib/pg.ts';
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

const COUNTED: Record<string, string> = {
  passed: 'passed_tests', flaky: 'flaky_tests', skipped: 'skipped_tests',
  failed: 'failed_tests', timedOut: 'failed_tests', interrupted: 'failed_tests',
};

// `seq` is the event's offset in its partition: a run's events share a
// partition, so within a run it is log order, which is commit order, and a
// replay gives every row the same value (the live stream resumes by it).
export async function testReported(tx: PoolClient, e: EventOf<'test.reported'>, offset: number): Promise<Outcome> {
  const d = e.data;
  const run = await tx.query('SELECT 1 FROM runs WHERE id = $1', [d.runId]);
  if (!run.rowCount) return { kind: 'drop', reason: 'unknown or deleted run' };

  const inserted = await tx.query(
    `INSERT INTO tests (id, run_id, project_id, test_case_id, suite_id, title, full_title, file_path, line_number, variant,
       status, duration, retries, attempt, is_flaky, tags, annotations, error, attempts, stdout, stderr, started_at, created_at, seq)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)
     ON CONFLICT (id) DO NOTHING`,
    [d.id, d.runId, e.projectId, d.testCaseId, d.suiteId, d.title, d.fullTitle, d.filePath, d.lineNumber, d.variant,
      d.status, d.duration, d.retries, d.attempt, d.isFlaky, JSON.stringify(d.tags), JSON.stringify(d.annotations),
      d.error ? JSON.stringify(d.error) : null, JSON.stringify(d.attempts), d.stdout, d.stderr, d.startedAt, d.createdAt, offset],
  );
  if (!inserted.rowCount) return { kind: 'ok' };

  const counter = COUNTED[d.status]!;
  await tx.query(`UPDATE runs SET total_tests = total_tests + 1, ${counter} = ${counter} + 1 WHERE id = $1`, [d.runId]);

  const steps = flattenSteps(d.steps);
  if (steps.length) {
    await tx.query(
      `INSERT INTO test_steps (test_id, idx, parent_idx, depth, title, category, status, duration, error)
       SELECT $1, * FROM unnest($2::int[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[], $9::jsonb[])`,
      [d.id, steps.map((s) => s.idx), steps.map((s) => s.parentIdx), steps.map((s) => s.depth), steps.map((s) => s.step.title),
        steps.map((s) => s.step.category), steps.map((s) => s.step.status), steps.map((s) => s.step.duration),
        steps.map((s) => (s.step.error ? JSON.stringify(s.step.error) : null))],
    );
  }

  // Test cases span runs, and so partitions: first/last seen are kept with
  // least/greatest so the result does not depend on cross-partition order.
  await tx.query(
    `INSERT INTO test_cases AS c (id, project_id, title, full_title, file_path, variant, first_seen_at, last_seen_at, last_test_id, last_status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET
       first_seen_at = least(c.first_seen_at, excluded.first_seen_at),
       last_seen_at = greatest(c.last_seen_at, excluded.last_seen_at),
       last_test_id = CASE WHEN (excluded.last_seen_at, excluded.last_test_id) > (c.last_seen_at, c.last_test_id) THEN excluded.last_test_id ELSE c.last_test_id END,
       last_status  = CASE WHEN (excluded.last_seen_at, excluded.last_test_id) > (c.last_seen_at, c.last_test_id) THEN excluded.last_status ELSE c.last_status END,
       title        = CASE WHEN (excluded.last_seen_at, excluded.last_test_id) > (c.last_seen_at, c.last_test_id) THEN excluded.title ELSE c.title END`,
    [d.testCaseId, e.projectId, d.title, d.fullTitle, d.filePath, d.variant, d.createdAt, d.id, d.status],
  );
  return { kind: 'ok' };
}
