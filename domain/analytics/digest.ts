import type { Queryable } from '../../lib/pg.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import { errorClusters, resultBuckets, runDurationBuckets } from '../ch/analytics.ts';
import { assessFlakiness, titled } from './flakiness/service.ts';
import { readProjectSettings } from '../pg/project-settings-read.ts';
import { dayOf } from './flakiness/score.ts';

const DAY = 86_400;
const MAX_PERIOD_DAYS = 90;
const isoDay = (d: number) => new Date(d * DAY * 1000).toISOString().slice(0, 10);
const round = (x: number) => Math.round(x * 10_000) / 10_000;

// The data of a `digest.ready` event: what happened in a project during
// [from, to], from the same queries as the analytics routes: new flaky tests
// (the flakiness service: classified flaky, first flaky execution in the
// period), quarantine changes, pass rate and duration per day, top error clusters.
export async function buildDigest(pool: Queryable, ch: ClickHouse, q: { projectId: string; scheduleId: string | null; from: Date; to: Date }) {
  const toSec = Math.floor(q.to.getTime() / 1000);
  const fromSec = Math.max(Math.floor(q.from.getTime() / 1000), toSec - MAX_PERIOD_DAYS * DAY);
  const fromDay = dayOf(fromSec);
  const settings = await readProjectSettings(pool, q.projectId);
  const [buckets, durations, errors, assessment, changes] = await Promise.all([
    resultBuckets(ch, { projectId: q.projectId, fromDay, week: false, quantiles: true }),
    runDurationBuckets(ch, { projectId: q.projectId, fromDay, week: false }),
    errorClusters(ch, { projectId: q.projectId, fromDay, limit: 5, offset: 0 }),
    assessFlakiness(ch, { projectId: q.projectId, asOf: q.to }, settings.flakiness),
    pool.query(
      `SELECT test_case_id, is_quarantined, reason, mode, actor, changed_at FROM quarantine_history
       WHERE project_id = $1 AND changed_at > $2 AND changed_at <= $3 ORDER BY changed_at, event_id LIMIT 100`,
      [q.projectId, new Date(fromSec * 1000), q.to],
    ),
  ]);
  const newlyFlaky = assessment.cases.filter((c) => c.score.classification === 'flaky' && (c.evidence.firstFlaky?.at ?? 0) >= fromSec);
  const executed = (b: (typeof buckets)[number]) => b.executions - b.skipped;
  const total = buckets.reduce((a, b) => ({ ex: a.ex + executed(b), ok: a.ok + b.passed + b.flaky, flaky: a.flaky + b.flaky }), { ex: 0, ok: 0, flaky: 0 });
  return {
    scheduleId: q.scheduleId,
    projectId: q.projectId,
    period: { from: new Date(fromSec * 1000).toISOString(), to: q.to.toISOString() },
    summary: { executions: total.ex, passRate: total.ex ? round(total.ok / total.ex) : null, flakyRate: total.ex ? round(total.flaky / total.ex) : null },
    passRate: buckets.map((b) => ({ day: isoDay(b.bucket), executions: executed(b), passRate: executed(b) ? round((b.passed + b.flaky) / executed(b)) : null, p50: b.p50, p95: b.p95 })),
    runDuration: durations.map((d) => ({ day: isoDay(d.bucket), runs: d.runs, p50: d.p50, p95: d.p95 })),
    newFlakyTests: (await titled(ch, q.projectId, newlyFlaky.slice(0, 50))).map((c) => ({
      testCaseId: c.testCaseId, title: c.title.fullTitle || c.title.title, filePath: c.title.filePath, score: round(c.score.score),
      firstFlakyAt: c.evidence.firstFlaky ? new Date(c.evidence.firstFlaky.at * 1000).toISOString() : null,
    })),
    // Who: the kind of actor only (user, api_key, system), as API keys may not learn user ids.
    quarantineChanges: changes.rows.map((r) => ({
      testCaseId: r.test_case_id, isQuarantined: r.is_quarantined, reason: r.reason, mode: r.mode,
      actorType: String(r.actor).split(':')[0], changedAt: r.changed_at.toISOString(),
    })),
    topErrors: errors.clusters.map((c) => ({
      fingerprint: c.fingerprint, pattern: c.pattern, occurrences: c.occurrences, tests: c.tests, runs: c.runs,
      lastSeenAt: new Date(c.lastAt * 1000).toISOString(),
    })),
  };
}
