// The flakiness model on simulated histories without the stack: the same pure
// functions the query API runs (incident rule, evidence, score), fed straight
// from the simulator. Seconds instead of minutes, for exploring parameters; the
// figures we report come from the API path (accuracy.ts).
//   npx tsx bench/flakiness/offline.ts [runsPerTest] [retries] [seeds]
import { DEFAULT_PARAMS, dayOf, evidenceOf, scoreOf, type Execution, type FlakinessParams } from '../../domain/analytics/flakiness/score.ts';
import { DEFAULT_SIM, simulate } from './simulator.ts';
import { metricsOf } from './accuracy.ts';

export function offlineMetrics(sim: typeof DEFAULT_SIM, params: FlakinessParams = DEFAULT_PARAMS) {
  const end = new Date(Date.UTC(2026, 2, 20, 12));
  const { tests, runs } = simulate({ ...sim, end });
  const asOfDay = dayOf(end.getTime() / 1000);
  const incident = new Set(runs.filter((r) => {
    const executed = r.results.length;
    const failed = r.results.filter((x) => x.status === 'failed').length;
    return executed >= params.incidentMinResults && failed >= params.incidentFailureShare * executed;
  }).map((r) => r.index));
  const perTest = new Map<number, Execution[]>(tests.map((t) => [t.index, []]));
  for (const r of runs) {
    if (incident.has(r.index)) continue;
    for (const x of r.results) {
      perTest.get(x.test)!.push({
        t: Math.floor(r.at.getTime() / 1000), seq: `${r.index}`.padStart(6, '0'), outcome: x.status === 'passed' ? 'pass' : x.status === 'flaky' ? 'flaky' : 'fail',
        branch: r.branch, commit: r.commit, runId: `run_${r.index}`,
      });
    }
  }
  const predicted = new Map(tests.map((t) => [t.index, scoreOf(evidenceOf(perTest.get(t.index)!, asOfDay, params), params, false).classification]));
  return { ...metricsOf(tests, predicted), incidentRuns: incident.size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 30);
  const retries = Number(process.argv[3] ?? 2);
  const seeds = Number(process.argv[4] ?? 10);
  const all = Array.from({ length: seeds }, (_, i) => offlineMetrics({ ...DEFAULT_SIM, runs, retries, seed: i + 1 }));
  const mean = (k: 'precision' | 'recall' | 'f1' | 'confusion' | 'brokenRecall' | 'stableSpecificity' | 'recallAllFlaky') =>
    Math.round((all.reduce((a, m) => a + m[k], 0) / all.length) * 10_000) / 10_000;
  console.log(JSON.stringify({ runs, retries, seeds, precision: mean('precision'), recall: mean('recall'), f1: mean('f1'),
    confusion: mean('confusion'), brokenRecall: mean('brokenRecall'), stableSpecificity: mean('stableSpecificity'), recallAllFlaky: mean('recallAllFlaky') }));
  if (process.env.MATRIX) {
    const rows: Record<string, Record<string, number>> = {};
    for (const m of all) for (const [row, cols] of Object.entries(m.matrix)) for (const [c, n] of Object.entries(cols)) {
      rows[row] ??= {};
      rows[row]![c] = (rows[row]![c] ?? 0) + n;
    }
    console.log(rows);
  }
}
