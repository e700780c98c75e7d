import type { ClickHouse } from '../../lib/clickhouse.ts';
import { caseCounts, caseEvidence, caseTitles, incidentCounts, incidentRuns, type CaseTitle, type Scope } from '../ch/flakiness.ts';
import { dayOf, evidenceOf, passOnlyEvidence, scoreOf, type Evidence, type FlakinessParams, type Score } from './score.ts';

export type CaseFlakiness = {
  testCaseId: string;
  lastAt: number; // unix seconds of its latest execution in scope
  incidentExecutions: number; // executions left out because their run was an incident
  evidence: Evidence;
  score: Score; // without its interval: see withInterval
};

export type Assessment = { asOfDay: number; fromDay: number; incidentRuns: string[]; cases: CaseFlakiness[] };

// Scores every test case of a project (or the given ones) that ran in the
// window, as of `asOf`. Two steps: the per-day aggregates give every test case's
// counts; only the test cases with a failed or flaky execution outside incident
// runs have their (sparse) histories read, because only they can have evidence.
export async function assessFlakiness(
  ch: ClickHouse,
  q: { projectId: string; branch?: string; testCaseIds?: readonly string[]; asOf: Date },
  params: FlakinessParams,
): Promise<Assessment> {
  const asOfDay = dayOf(Math.floor(q.asOf.getTime() / 1000));
  const fromDay = asOfDay - params.windowDays + 1;
  const scope: Scope = { projectId: q.projectId, branch: q.branch, fromDay, testCaseIds: q.testCaseIds };
  const [incidents, counts] = await Promise.all([
    incidentRuns(ch, q.projectId, fromDay, params),
    caseCounts(ch, scope, asOfDay, params.halfLifeDays),
  ]);
  const inIncidents = await incidentCounts(ch, scope, incidents, asOfDay, params.halfLifeDays);
  const cases = counts.map((c) => {
    const taken = inIncidents.get(c.testCaseId) ?? { executions: 0, weighted: 0, bad: 0 };
    return {
      ...c, incidentExecutions: taken.executions, executions: c.executions - taken.executions,
      weighted: c.weighted - taken.weighted, bad: c.bad - taken.bad,
    };
  }).filter((c) => c.executions > 0 || c.incidentExecutions > 0);
  const candidates = cases.filter((c) => c.bad > 0).map((c) => c.testCaseId);
  const histories = await caseEvidence(ch, { ...scope, testCaseIds: candidates }, incidents);

  return {
    asOfDay,
    fromDay,
    incidentRuns: incidents,
    cases: cases.map((c) => {
      const h = histories.get(c.testCaseId);
      const evidence = h
        ? evidenceOf(h.executions, asOfDay, params, { executions: c.executions, weightedExecutions: c.weighted, commitsWithPass: h.commitsWithPass })
        : passOnlyEvidence({ executions: c.executions, weightedExecutions: c.weighted });
      return { testCaseId: c.testCaseId, lastAt: c.lastAt, incidentExecutions: c.incidentExecutions, evidence, score: scoreOf(evidence, params, false) };
    }),
  };
}

// The titles of the test cases about to be shown (only those: titles are the
// expensive part of the aggregate to read).
export async function titled<T extends { testCaseId: string }>(ch: ClickHouse, projectId: string, cases: T[]): Promise<Array<T & { title: CaseTitle }>> {
  const titles = await caseTitles(ch, projectId, cases.map((c) => c.testCaseId));
  return cases.map((c) => ({ ...c, title: titles.get(c.testCaseId) ?? { title: '', fullTitle: '', filePath: '' } }));
}

export const withInterval = (c: CaseFlakiness, params: FlakinessParams): CaseFlakiness => ({ ...c, score: scoreOf(c.evidence, params) });
