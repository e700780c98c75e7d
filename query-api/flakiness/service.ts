import type { ClickHouse } from '../../lib/clickhouse.ts';
import { caseDays, caseExecutions, incidentCaseDays, incidentRuns, type Scope } from '../ch/flakiness.ts';
import { dayOf, evidenceOf, passOnlyEvidence, scoreOf, type Evidence, type FlakinessParams, type Score } from './score.ts';

export type CaseFlakiness = {
  testCaseId: string;
  title: string;
  fullTitle: string;
  filePath: string;
  lastAt: number; // unix seconds of its latest execution in scope
  incidentExecutions: number; // executions left out because their run was an incident
  evidence: Evidence;
  score: Score; // without its interval: see withInterval
};

export type Assessment = { asOfDay: number; fromDay: number; incidentRuns: string[]; cases: CaseFlakiness[] };

// Scores every test case of a project (or the given ones) that ran in the
// window, as of `asOf`. Two steps: the per-day aggregates give every test case's
// counts; only the test cases with a failed or flaky execution outside incident
// runs have their executions read, because only they can have evidence.
export async function assessFlakiness(
  ch: ClickHouse,
  q: { projectId: string; branch?: string; testCaseIds?: readonly string[]; asOf: Date },
  params: FlakinessParams,
): Promise<Assessment> {
  const asOfDay = dayOf(Math.floor(q.asOf.getTime() / 1000));
  const fromDay = asOfDay - params.windowDays + 1;
  const scope: Scope = { projectId: q.projectId, branch: q.branch, fromDay, testCaseIds: q.testCaseIds };
  const [incidents, days] = await Promise.all([incidentRuns(ch, q.projectId, fromDay, params), caseDays(ch, scope)]);
  const inIncidents = await incidentCaseDays(ch, scope, incidents);

  const cases = days.map((c) => {
    const taken = inIncidents.get(c.testCaseId);
    let incidentExecutions = 0;
    const perDay = c.days.map((d) => {
      const t = taken?.get(d.day);
      incidentExecutions += t?.executions ?? 0;
      return { day: d.day, executions: d.executions - (t?.executions ?? 0), bad: d.bad - (t?.bad ?? 0) };
    });
    return { ...c, perDay, incidentExecutions };
  });
  const candidates = cases.filter((c) => c.perDay.some((d) => d.bad > 0)).map((c) => c.testCaseId);
  const executions = await caseExecutions(ch, { ...scope, testCaseIds: candidates }, incidents);

  return {
    asOfDay,
    fromDay,
    incidentRuns: incidents,
    cases: cases.map((c) => {
      const ex = executions.get(c.testCaseId);
      const evidence = ex ? evidenceOf(ex, asOfDay, params) : passOnlyEvidence(c.perDay, asOfDay, params);
      return {
        testCaseId: c.testCaseId, title: c.title, fullTitle: c.fullTitle, filePath: c.filePath, lastAt: c.lastAt,
        incidentExecutions: c.incidentExecutions, evidence, score: scoreOf(evidence, params, false),
      };
    }),
  };
}

export const withInterval = (c: CaseFlakiness, params: FlakinessParams): CaseFlakiness => ({ ...c, score: scoreOf(c.evidence, params) });
