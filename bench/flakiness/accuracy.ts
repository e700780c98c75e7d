// How well GET /api/flakiness classifies, against simulated histories with
// known ground truth sent through the real ingest API (POST /api/runs,
// POST /api/tests, PATCH /api/runs/:id), scored by the real projectors and query
// API. The scorer never sees the ground truth; it is only used here, after.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { startTestStack, type TestStack } from '../../test/support/stack.ts';
import { createApp } from '../../app/api.ts';
import { createLogger } from '../../lib/logger.ts';
import { EventLog } from '../../lib/event-log.ts';
import { createTenant } from '../../test/support/tenants.ts';
import { client } from '../../test/support/http.ts';
import { DEFAULT_SIM, simulate, type SimOptions, type SimTest, type Truth } from './simulator.ts';

type Predicted = 'stable' | 'flaky' | 'broken' | 'insufficient_data' | 'missing';

export type Metrics = {
  tests: number; runsPerTest: number; retries: number; seed: number; incidentRuns: number;
  truth: Record<Truth, number>;
  flakyManifested: number; // flaky tests that failed an attempt outside incidents: the detectable ones
  precision: number; recall: number; f1: number; // positive class: flaky, against the detectable flaky tests
  recallAllFlaky: number; // against every flaky test, including those that never failed
  confusion: number; // (flaky called broken + broken called flaky) / (flaky + broken)
  brokenRecall: number; stableSpecificity: number;
  matrix: Record<string, Record<Predicted, number>>;
  sendSeconds: number; projectSeconds: number;
};

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export function metricsOf(tests: SimTest[], predicted: Map<number, Predicted>): Omit<Metrics, 'runsPerTest' | 'retries' | 'seed' | 'incidentRuns' | 'sendSeconds' | 'projectSeconds'> {
  const matrix: Metrics['matrix'] = {};
  const bump = (row: string, p: Predicted) => {
    matrix[row] ??= { stable: 0, flaky: 0, broken: 0, insufficient_data: 0, missing: 0 };
    matrix[row]![p]++;
  };
  let tp = 0, fp = 0, fn = 0, tpAll = 0, flakyAsBroken = 0, brokenAsFlaky = 0, brokenOk = 0, stableOk = 0;
  const truth: Record<Truth, number> = { stable: 0, flaky: 0, broken: 0 };
  let manifested = 0;
  for (const t of tests) {
    const p = predicted.get(t.index) ?? 'missing';
    truth[t.truth]++;
    const row = t.truth === 'flaky' ? (t.manifested ? 'flaky (failed at least once)' : 'flaky (never failed)') : `${t.truth} (${t.kind})`;
    bump(row, p);
    if (t.truth === 'flaky') {
      if (p === 'flaky') tpAll++;
      if (p === 'broken') flakyAsBroken++;
      if (t.manifested) {
        manifested++;
        if (p === 'flaky') tp++;
        else fn++;
      }
    } else if (p === 'flaky') {
      fp++;
      if (t.truth === 'broken') brokenAsFlaky++;
    }
    if (t.truth === 'broken' && p === 'broken') brokenOk++;
    if (t.truth === 'stable' && p === 'stable') stableOk++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 1;
  const recall = tp + fn ? tp / (tp + fn) : 1;
  const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    tests: tests.length, truth, flakyManifested: manifested,
    precision: r4(precision), recall: r4(recall), f1: r4(precision + recall ? (2 * precision * recall) / (precision + recall) : 0),
    recallAllFlaky: r4(truth.flaky ? tpAll / truth.flaky : 1),
    confusion: r4(truth.flaky + truth.broken ? (flakyAsBroken + brokenAsFlaky) / (truth.flaky + truth.broken) : 0),
    brokenRecall: r4(truth.broken ? brokenOk / truth.broken : 1),
    stableSpecificity: r4(truth.stable ? stableOk / truth.stable : 1),
    matrix,
  };
}

// More API instances on the same stores, as a deployment would scale out: each
// has its own Kafka producer, and a producer sends one request at a time.
async function moreApiInstances(stack: TestStack, n: number) {
  const logger = createLogger('bench', 'silent');
  const out: Array<{ url: string; close(): Promise<void> }> = [];
  for (let i = 0; i < n; i++) {
    const eventLog = new EventLog(stack.kafka, stack.config.topic, stack.config.kafkaTimeoutMs);
    const app = createApp({ config: stack.config, pool: stack.pool, ch: stack.ch, kafka: stack.kafka, eventLog, logger });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    out.push({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections?.();
        await eventLog.close();
      },
    });
  }
  return out;
}

// One simulated project through the API, then its classification scored.
export async function runScenario(stack: TestStack, sim: Omit<SimOptions, 'end'>, urls: string[] = [stack.url]): Promise<Metrics> {
  const tenant = await createTenant(stack.url, `sim-${sim.seed}-${sim.runs}-${sim.retries}`);
  const api = client(stack.url, { key: tenant.apiKey });
  const apis = urls.map((u) => client(u, { key: tenant.apiKey }));
  let turn = 0;
  const { tests, runs } = simulate({ ...sim, end: new Date(Date.now() - 10 * 60_000) });
  const started = Date.now();
  const caseToTest = new Map<string, number>();
  await pool(runs, 3, async (run) => {
    const created = await api.post('/api/runs', {
      projectId: tenant.projectId, status: 'running', branch: run.branch, commitSha: run.commit, ciProvider: 'simulator',
    });
    if (created.status !== 201) throw new Error(`POST /api/runs: ${created.status} ${created.text}`);
    const runId = created.body.id as string;
    await pool(run.results, 12, async (res) => {
      const t = tests[res.test]!;
      const posted = await apis[turn++ % apis.length]!.post('/api/tests', {
        runId, projectId: tenant.projectId, title: t.title, fullTitle: t.fullTitle, filePath: t.filePath,
        status: res.status, duration: res.duration, retries: res.retries, attempt: res.attempt,
        attempts: res.attempts, error: res.error, startedAt: new Date(run.at.getTime() + res.test * 10).toISOString(),
      });
      if (posted.status !== 201) throw new Error(`POST /api/tests: ${posted.status} ${posted.text}`);
      caseToTest.set(posted.body.testCaseId, res.test);
    });
    const failed = run.results.filter((x) => x.status === 'failed').length;
    await api.patch(`/api/runs/${runId}`, {
      status: failed ? 'failed' : 'passed', totalTests: run.results.length, failedTests: failed,
      passedTests: run.results.filter((x) => x.status === 'passed').length, flakyTests: run.results.filter((x) => x.status === 'flaky').length,
    });
  });
  const sent = Date.now();
  await stack.waitForProjections(undefined, 300_000);
  const projected = Date.now();

  const predicted = new Map<number, Predicted>();
  let incidentRuns = 0;
  for (let offset = 0; ; offset += 500) {
    const page = await api.get(`/api/flakiness?projectId=${tenant.projectId}&limit=500&offset=${offset}`);
    if (page.status !== 200) throw new Error(`GET /api/flakiness: ${page.status} ${page.text}`);
    incidentRuns = page.body.summary.incidentRuns;
    for (const item of page.body.data) predicted.set(caseToTest.get(item.testCaseId)!, item.classification);
    if (offset + 500 >= page.body.total) break;
  }
  return {
    ...metricsOf(tests, predicted), runsPerTest: sim.runs, retries: sim.retries, seed: sim.seed, incidentRuns,
    sendSeconds: Math.round((sent - started) / 100) / 10, projectSeconds: Math.round((projected - sent) / 100) / 10,
  };
}

// `npm run bench flakiness-accuracy`: 30 runs per test with and without
// retries, then how the figures move with the length of the history.
export async function measureFlakinessAccuracy(): Promise<unknown> {
  const env = process.env;
  const tests = Number(env.BENCH_SIM_TESTS ?? DEFAULT_SIM.tests);
  const seeds = (env.BENCH_SIM_SEEDS ?? '1,2').split(',').map(Number);
  const runsPerTest = (env.BENCH_SIM_RUNS ?? '10,20,30,50,100').split(',').map(Number);
  const retries = (env.BENCH_SIM_RETRIES ?? '2,0').split(',').map(Number);
  // Scoring reads ClickHouse (and Postgres only for quarantines and settings):
  // the Postgres projector is not needed, and the machine is better spent on the rest.
  const stack = await startTestStack({ projections: ['clickhouse'] });
  const extra = await moreApiInstances(stack, Number(env.BENCH_API_INSTANCES ?? 3));
  const urls = [stack.url, ...extra.map((x) => x.url)];
  const results: Metrics[] = [];
  try {
    for (const r of retries) {
      for (const runs of runsPerTest) {
        for (const seed of seeds) {
          const m = await runScenario(stack, { ...DEFAULT_SIM, tests, runs, retries: r, seed }, urls);
          results.push(m);
          const { matrix, ...headline } = m;
          console.error(JSON.stringify(headline));
          if (env.BENCH_SIM_MATRIX) console.error(JSON.stringify(matrix, null, 1));
        }
      }
    }
  } finally {
    for (const x of extra) await x.close();
    await stack.stop();
  }
  // Pooled over seeds: one line per (retries, runs per test).
  const pooled = new Map<string, Metrics[]>();
  for (const m of results) {
    const key = `${m.retries}/${m.runsPerTest}`;
    pooled.set(key, [...(pooled.get(key) ?? []), m]);
  }
  const mean = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10_000) / 10_000;
  return {
    summary: [...pooled.values()].map((ms) => ({
      retries: ms[0]!.retries, runsPerTest: ms[0]!.runsPerTest, seeds: ms.length, tests: ms[0]!.tests,
      precision: mean(ms.map((m) => m.precision)), recall: mean(ms.map((m) => m.recall)), f1: mean(ms.map((m) => m.f1)),
      confusion: mean(ms.map((m) => m.confusion)), recallAllFlaky: mean(ms.map((m) => m.recallAllFlaky)),
      brokenRecall: mean(ms.map((m) => m.brokenRecall)), stableSpecificity: mean(ms.map((m) => m.stableSpecificity)),
      flakyManifested: ms.map((m) => `${m.flakyManifested}/${m.truth.flaky}`).join(' '),
    })),
  };
}
