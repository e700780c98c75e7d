import type { Queryable } from '../../lib/pg.ts';
import { runCounts, runView, runsRepo, type RunRow } from '../../domain/pg/runs.ts';
import { testListView, type TestRow } from '../../domain/pg/tests.ts';

export const FINAL_STATUSES = new Set(['passed', 'failed', 'cancelled']);
const FAILED = ['failed', 'timedOut', 'interrupted'];

// The CI verdict of a finished run: exit code 1 when it failed or was
// cancelled, unless every failure is of a quarantined test and the caller asked
// to ignore those. Not finished: exitCode null.
export async function verdictOf(db: Queryable, run: RunRow, ignoreQuarantined: boolean) {
  const failures = (await db.query(
    `SELECT t.test_case_id, coalesce(q.is_quarantined, false) AS quarantined FROM tests t
     LEFT JOIN quarantines q ON q.test_case_id = t.test_case_id WHERE t.run_id = $1 AND t.status = ANY($2)`,
    [run.id, FAILED],
  )).rows as Array<{ test_case_id: string; quarantined: boolean }>;
  const quarantinedFailures = failures.filter((f) => f.quarantined).length;
  const finished = FINAL_STATUSES.has(run.status);
  let status = run.status;
  if (finished && run.status === 'failed' && ignoreQuarantined && failures.length > 0 && quarantinedFailures === failures.length) status = 'passed';
  return {
    status,
    finished,
    exitCode: finished ? (status === 'passed' ? 0 : 1) : null,
    ...runCounts(run), // duration among them
    failures: failures.length,
    quarantinedFailures,
    ignoredQuarantined: ignoreQuarantined,
  };
}

// Long poll: the run as soon as it is finished, or as it is at the deadline.
export async function waitForRun(db: Queryable, runId: string, timeoutMs: number, isClosed: () => boolean, everyMs = 250): Promise<{ run: RunRow | undefined; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await runsRepo.byId(db, runId);
    if (!run || FINAL_STATUSES.has(run.status)) return { run, timedOut: false };
    if (Date.now() >= deadline || isClosed()) return { run, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(everyMs, Math.max(0, deadline - Date.now()))));
  }
}

export type StreamEvent = { event: string; id?: number; data: unknown };

// One poll of a run's live stream: the test results committed after `afterSeq`
// (in commit order: `seq`), then what changed in the run. The run row is read
// first: a final status read before the tests means every test of the run is
// among them (the Postgres projector commits a run's events in log order).
export async function pollRun(db: Queryable, runId: string, afterSeq: number, last: { status: string; counts: string } | null, limit = 500) {
  const run = await runsRepo.byId(db, runId);
  if (!run) return { events: [{ event: 'end', data: { reason: 'deleted', runId } }] as StreamEvent[], afterSeq, last, done: true };
  const tests = (await db.query(
    `SELECT id, run_id, project_id, test_case_id, suite_id, title, full_title, file_path, line_number, variant, status, duration, retries,
       attempt, is_flaky, tags, annotations, error, attempts, created_at, seq FROM tests WHERE run_id = $1 AND seq > $2 ORDER BY seq, id LIMIT $3`,
    [runId, afterSeq, limit],
  )).rows as Array<TestRow & { seq: number }>;
  const events: StreamEvent[] = tests.map((t) => ({ event: 'test', id: t.seq, data: testListView(t) }));
  const seq = tests.at(-1)?.seq ?? afterSeq;
  const counts = runCounts(run);
  const now = { status: run.status, counts: JSON.stringify(counts) };
  if (!last || last.status !== now.status) events.push({ event: 'status', data: { runId, status: run.status } });
  if (!last || last.counts !== now.counts) events.push({ event: 'counters', data: { runId, ...counts } });
  const done = FINAL_STATUSES.has(run.status) && tests.length < limit;
  if (done) events.push({ event: 'end', data: runView(run) });
  return { events, afterSeq: seq, last: now, done };
}
