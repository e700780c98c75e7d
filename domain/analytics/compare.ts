import type { ClickHouse } from '../../lib/clickhouse.ts';
import { caseHistory, previousRuns, runCases, runSummaries, type RunCase, type RunSummary, type Source } from '../ch/analytics.ts';
import { incidentRuns } from '../ch/flakiness.ts';
import { DEFAULT_PARAMS, dayOf } from './flakiness/score.ts';
import { fisherGreater, mannWhitneyGreater } from './stats.ts';

// Run comparison (GET /api/runs/:id/compare/:baselineId), see docs/analytics.md.
//
// Lists: new failures, fixed, still failing, new and removed tests, newly flaky,
// duration changes. Verdict: true, false or "unknown", with reasons:
// - a new failure is tested against the test's history on the baseline's branch
//   (its last HISTORY executions before the baseline, incidents left out) with
//   Fisher's exact test: p < ALPHA is a regression; otherwise the test fails
//   that often anyway, which puts the verdict in the "unknown" band; with fewer
//   than MIN_HISTORY executions of history the clear rule applies: a new
//   failure is a regression;
// - the run's mean test duration is tested against the previous runs on the
//   branch with the Mann-Whitney U test: p < ALPHA and at least SLOWER slower is
//   a regression, p < UNKNOWN_BAND an "unknown"; without enough previous runs,
//   the clear rule: 50 % slower than the baseline is a regression;
// - per test, a duration at least SLOWER (and 100 ms) away from the baseline's
//   is tested the same way against the test's history, and listed with its p.
const HISTORY = 30;
const MIN_HISTORY = 5;
const HISTORY_RUNS = 20;
const ALPHA = 0.05;
const UNKNOWN_BAND = 0.2;
const SLOWER = 1.2;
const LIST_LIMIT = 200;

const FAIL = new Set(['failed', 'timedOut']);
type Outcome = 'passed' | 'failed' | 'flaky' | 'skipped' | 'other';
function outcomeOf(c: RunCase | undefined): Outcome | null {
  if (!c) return null;
  const s = c.statuses;
  const fails = s.filter((x) => FAIL.has(x)).length;
  const passes = s.filter((x) => x === 'passed' || x === 'flaky').length;
  if (fails && passes) return 'flaky'; // ran more than once, with both results
  if (fails) return 'failed';
  if (s.includes('flaky')) return 'flaky';
  if (passes) return 'passed';
  return s.every((x) => x === 'skipped') ? 'skipped' : 'other';
}
const isPass = (o: Outcome | null) => o === 'passed' || o === 'flaky';
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

export type RunMeta = { id: string; status: string; branch: string | null; commitSha: string | null; createdAt: string };

function runView(meta: RunMeta, s: RunSummary | undefined) {
  const executed = s ? s.results - s.skipped : 0;
  return {
    ...meta,
    totals: s
      ? { tests: s.results, passed: s.passed, failed: s.failed + s.timedOut, flaky: s.flaky, skipped: s.skipped, interrupted: s.interrupted }
      : { tests: 0, passed: 0, failed: 0, flaky: 0, skipped: 0, interrupted: 0 },
    meanTestDuration: s && executed ? Math.round(s.durationSum / executed) : null,
  };
}

const caseView = (c: RunCase) => ({ testCaseId: c.testCaseId, title: c.title, fullTitle: c.fullTitle, filePath: c.filePath });

export async function compareRuns(ch: ClickHouse, projectId: string, current: RunMeta, baseline: RunMeta, src: Source = {}) {
  const [cur, base, summaries] = await Promise.all([
    runCases(ch, projectId, current.id, src), runCases(ch, projectId, baseline.id, src), runSummaries(ch, projectId, [current.id, baseline.id], src),
  ]);
  const cs = summaries.get(current.id);
  const bs = summaries.get(baseline.id);
  const branch = bs?.branch ?? baseline.branch ?? '';
  const before = bs?.firstAt ?? Math.floor(Date.parse(baseline.createdAt) / 1000);
  const incidents = await incidentRuns(ch, projectId, dayOf(before) - 30, DEFAULT_PARAMS, src);

  const newFailures: RunCase[] = [];
  const fixed: RunCase[] = [];
  const stillFailing: RunCase[] = [];
  const newTests: RunCase[] = [];
  const newlyFlaky: RunCase[] = [];
  const removedTests: RunCase[] = [];
  const durationCandidates: Array<{ c: RunCase; base: number; cur: number }> = [];
  for (const [id, c] of cur) {
    const b = base.get(id);
    const oc = outcomeOf(c);
    const ob = outcomeOf(b);
    if (!b) newTests.push(c);
    else if (oc === 'failed' && isPass(ob)) newFailures.push(c);
    else if (ob === 'failed' && isPass(oc)) fixed.push(c);
    else if (oc === 'failed' && ob === 'failed') stillFailing.push(c);
    if (b && oc === 'flaky' && ob === 'passed') newlyFlaky.push(c);
    if (b && isPass(oc) && isPass(ob)) {
      const ratio = b.duration > 0 ? c.duration / b.duration : Infinity;
      if (Math.abs(c.duration - b.duration) >= 100 && (ratio >= SLOWER || ratio <= 1 / SLOWER)) durationCandidates.push({ c, base: b.duration, cur: c.duration });
    }
  }
  for (const [id, b] of base) if (!cur.has(id)) removedTests.push(b);

  // History only for the few test cases that need it.
  const history = await caseHistory(ch, {
    projectId, branch, beforeSec: before + 1, fromSec: before - 30 * 86_400, n: HISTORY, excludedRuns: [...incidents, current.id],
    testCaseIds: [...new Set([...newFailures, ...durationCandidates.map((d) => d.c)].map((c) => c.testCaseId))],
  });

  const reasons: string[] = [];
  let regression: boolean | 'unknown' = false;
  const raise = (level: true | 'unknown', reason: string) => {
    reasons.push(reason);
    if (level === true) regression = true;
    else if (regression === false) regression = 'unknown';
  };

  const failures = newFailures.map((c) => {
    const h = history.get(c.testCaseId) ?? [];
    const fails = h.filter((x) => FAIL.has(x.status)).length;
    const failsNow = c.statuses.filter((x) => FAIL.has(x)).length;
    const p = h.length >= MIN_HISTORY ? fisherGreater(failsNow, c.statuses.length - failsNow, fails, h.length - fails) : null;
    const assessment = p === null ? 'no_history' : p < ALPHA ? 'regression' : 'likely_flaky';
    return { ...caseView(c), error: c.error || null, history: { executions: h.length, failures: fails }, pValue: p === null ? null : round(p), assessment };
  });
  const significant = failures.filter((f) => f.assessment === 'regression');
  const unexplained = failures.filter((f) => f.assessment === 'no_history');
  const flakyLooking = failures.filter((f) => f.assessment === 'likely_flaky');
  if (significant.length) raise(true, `${significant.length} new failure(s) their history does not explain (Fisher's exact test, p < ${ALPHA}): ${significant.slice(0, 5).map((f) => f.fullTitle).join('; ')}`);
  if (unexplained.length) raise(true, `${unexplained.length} new failure(s) of tests with under ${MIN_HISTORY} earlier runs on ${branch || 'this branch'}: ${unexplained.slice(0, 5).map((f) => f.fullTitle).join('; ')}`);
  if (flakyLooking.length) raise('unknown', `${flakyLooking.length} new failure(s) of tests that fail that often anyway (p ≥ ${ALPHA}): ${flakyLooking.slice(0, 5).map((f) => f.fullTitle).join('; ')}`);

  const durationChanges = durationCandidates.map(({ c, base: b, cur: now }) => {
    const h = (history.get(c.testCaseId) ?? []).filter((x) => x.status === 'passed' || x.status === 'flaky').map((x) => x.duration);
    const slower = now > b;
    const p = h.length >= MIN_HISTORY ? (slower ? mannWhitneyGreater(h, [now]).p : mannWhitneyGreater([now], h).p) : null;
    return {
      ...caseView(c), baseline: b, current: now, delta: now - b, ratio: round(b > 0 ? now / b : 0, 3), historyRuns: h.length,
      pValue: p === null ? null : round(p), assessment: p === null ? 'unknown' : p < ALPHA ? (slower ? 'slower' : 'faster') : 'within_history',
    };
  }).sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta));

  // The run as a whole: its mean test duration against the branch's previous runs.
  const meanOf = (s: RunSummary | undefined) => (s && s.results - s.skipped > 0 ? s.durationSum / (s.results - s.skipped) : null);
  const curMean = meanOf(cs);
  const baseMean = meanOf(bs);
  const previous = (await previousRuns(ch, projectId, branch, before + 1, HISTORY_RUNS + 1, src))
    .filter((r) => r.runId !== current.id && !incidents.includes(r.runId)).map(meanOf).filter((x): x is number => x !== null);
  let durations: { current: number | null; baseline: number | null; change: number | null; historyRuns: number; pValue: number | null } =
    { current: null, baseline: null, change: null, historyRuns: previous.length, pValue: null };
  if (curMean !== null && baseMean !== null && baseMean > 0) {
    const change = curMean / baseMean - 1;
    const p = previous.length >= MIN_HISTORY ? mannWhitneyGreater(previous, [curMean]).p : null;
    durations = { current: Math.round(curMean), baseline: Math.round(baseMean), change: round(change), historyRuns: previous.length, pValue: p === null ? null : round(p) };
    const pct = `${Math.round(change * 100)} %`;
    if (p !== null && change >= SLOWER - 1) {
      if (p < ALPHA) raise(true, `tests ran ${pct} slower on average than the baseline; slower than the ${previous.length} previous runs on ${branch || 'the branch'} (Mann-Whitney U, p = ${round(p, 3)})`);
      else if (p < UNKNOWN_BAND) raise('unknown', `tests ran ${pct} slower on average than the baseline, which the ${previous.length} previous runs do not rule out (p = ${round(p, 3)})`);
    } else if (p === null && change >= 0.5) {
      raise(true, `tests ran ${pct} slower on average than the baseline (too few earlier runs to test: the rule is 50 %)`);
    }
  }
  if (current.status === 'running') raise('unknown', 'the run is still running');
  if (regression === false) reasons.push('no new failures and no significant slowdown');

  const list = <T>(xs: T[]) => xs.slice(0, LIST_LIMIT);
  return {
    run: runView(current, cs),
    baseline: runView(baseline, bs),
    regression,
    regressionReasons: reasons,
    counts: {
      newFailures: newFailures.length, fixed: fixed.length, stillFailing: stillFailing.length, newTests: newTests.length,
      removedTests: removedTests.length, newlyFlaky: newlyFlaky.length, durationChanges: durationChanges.length,
    },
    newFailures: list(failures),
    fixed: list(fixed.map(caseView)),
    stillFailing: list(stillFailing.map((c) => ({ ...caseView(c), error: c.error || null }))),
    newTests: list(newTests.map((c) => ({ ...caseView(c), status: outcomeOf(c) }))),
    removedTests: list(removedTests.map(caseView)),
    newlyFlaky: list(newlyFlaky.map(caseView)),
    durationChanges: list(durationChanges),
    durations,
  };
}

// Side by side (GET /api/analytics/compare?runIds=…): each run's totals, and the
// test cases whose outcome is not the same in every run.
export async function sideBySide(ch: ClickHouse, projectId: string, runs: RunMeta[]) {
  const ids = runs.map((r) => r.id);
  const [summaries, cases] = await Promise.all([runSummaries(ch, projectId, ids), Promise.all(ids.map((id) => runCases(ch, projectId, id)))]);
  const all = new Map<string, RunCase>();
  for (const perRun of cases) for (const [id, c] of perRun) if (!all.has(id)) all.set(id, c);
  const differing = [...all.values()].map((c) => {
    const outcomes = cases.map((perRun) => outcomeOf(perRun.get(c.testCaseId)));
    return { c, outcomes, durations: cases.map((perRun) => perRun.get(c.testCaseId)?.duration ?? null) };
  }).filter((x) => new Set(x.outcomes).size > 1)
    .sort((a, b) => (a.c.fullTitle < b.c.fullTitle ? -1 : a.c.fullTitle > b.c.fullTitle ? 1 : 0));
  return {
    runs: runs.map((r) => {
      const view = runView(r, summaries.get(r.id));
      return { ...view, passRate: view.totals.tests ? round((view.totals.passed / view.totals.tests) * 100, 2) : 0 };
    }),
    testsCompared: all.size,
    differing: differing.length,
    tests: differing.slice(0, 500).map(({ c, outcomes, durations }) => ({ ...caseView(c), outcomes, durations })),
  };
}
