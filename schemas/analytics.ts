import { z } from 'zod';
import { id, isoDate, RunStatus } from './common.ts';
import { TestOrCaseId } from './flakiness.ts';
import { listOf } from './api.ts';

// Analytics over ClickHouse: trends, leaderboards, error clusters, side-by-side
// comparison of runs (Fusillade's /analytics/trends and /analytics/compare).

export const PERIOD_DAYS = { '7d': 7, '30d': 30, '90d': 90, '365d': 365 } as const;
const Period = z.enum(['7d', '30d', '90d', '365d']);
const branch = z.string().max(500).optional();

export const TrendMetric = z.enum(['pass_rate', 'flaky_rate', 'failed_tests', 'duration_p50', 'duration_p95', 'run_duration', 'test_count']);
export type TrendMetric = z.infer<typeof TrendMetric>;

export const TrendsQuery = z.object({
  projectId: id('project').optional(),
  metric: TrendMetric.default('pass_rate'),
  period: Period.default('30d'),
  interval: z.enum(['day', 'week']).default('day'),
  branch,
  testId: TestOrCaseId.optional(),
}).refine((q) => !(q.testId && (q.metric === 'run_duration' || q.metric === 'test_count')), {
  message: 'run_duration and test_count are per project, not per test', path: ['metric'],
});

export const LeaderboardQuery = z.object({
  projectId: id('project').optional(),
  type: z.enum(['slowest', 'failing', 'flakiest']).optional(),
  period: Period.default('30d'),
  branch,
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const ErrorsQuery = z.object({
  projectId: id('project').optional(),
  period: Period.default('30d'),
  branch,
  testId: TestOrCaseId.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

export const SideBySideQuery = z.object({
  runIds: z.string().max(400)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(id('run')).min(2, 'give 2 to 10 run ids').max(10, 'give 2 to 10 run ids')
      .refine((xs) => new Set(xs).size === xs.length, 'a run id is given twice')),
});

export const TrendPoint = z.object({ date: z.string(), value: z.number().nullable(), samples: z.number().int() });

// ---- responses (query-api/routes/analytics.ts, domain/analytics/compare.ts)
const num = z.number();
const int = z.number().int();
export const TrendsResponse = z.object({
  metric: TrendMetric, unit: z.enum(['percent', 'count', 'ms']), period: Period, interval: z.enum(['day', 'week']),
  branch: z.string().nullable(), testCaseId: z.string().nullable(),
  // one point per day (or week, from its Monday) of the period; value null where nothing ran
  data: z.array(TrendPoint),
  // over the points with a value: the last one, their mean, last minus first
  summary: z.object({ latest: num.nullable(), mean: num.nullable(), change: num.nullable() }),
});

const LeaderboardCase = { testCaseId: z.string(), testTitle: z.string(), filePath: z.string() };
// Each list is there when its `type` is asked for, all three without `type`.
export const LeaderboardsResponse = z.object({
  period: Period, branch: z.string().nullable(),
  // durations in ms; runs: executions that passed
  slowest: z.array(z.object({ ...LeaderboardCase, p50: int, p95: int, runs: int })).optional(),
  // failureRate in percent
  failing: z.array(z.object({ ...LeaderboardCase, failures: int, runs: int, failureRate: num })).optional(),
  flakiest: z.array(z.object({ ...LeaderboardCase, flakinessScore: num, flakyRuns: int, totalRuns: int, lastFlakyAt: isoDate.nullable() })).optional(),
});

export const ErrorCluster = z.object({
  fingerprint: z.string(), pattern: z.string(), topFrame: z.string().nullable(), sampleMessage: z.string(),
  occurrences: int, affectedTests: int, runs: int, firstSeenAt: isoDate, lastSeenAt: isoDate,
  flakyShare: num, mostlyFlaky: z.boolean(),
  // up to 5 test case ids
  exampleTestIds: z.array(z.string()),
});
export const ErrorClustersResponse = listOf(ErrorCluster).extend({ period: Period });

// A run as compared: its totals from ClickHouse; meanTestDuration in ms over the executed (not skipped) results.
export const ComparedRun = z.object({
  id: z.string(), status: RunStatus, branch: z.string().nullable(), commitSha: z.string().nullable(), createdAt: isoDate,
  totals: z.object({ tests: int, passed: int, failed: int, flaky: int, skipped: int, interrupted: int }),
  meanTestDuration: int.nullable(),
});
const ComparedCase = { testCaseId: z.string(), title: z.string(), fullTitle: z.string(), filePath: z.string() };
const CaseOutcome = z.enum(['passed', 'failed', 'flaky', 'skipped', 'other']);
export const RunComparison = z.object({
  run: ComparedRun,
  baseline: ComparedRun,
  regression: z.union([z.boolean(), z.literal('unknown')]),
  regressionReasons: z.array(z.string()),
  // the full counts; each list below holds at most 200
  counts: z.object({ newFailures: int, fixed: int, stillFailing: int, newTests: int, removedTests: int, newlyFlaky: int, durationChanges: int }),
  newFailures: z.array(z.object({
    ...ComparedCase, error: z.string().nullable(), history: z.object({ executions: int, failures: int }), pValue: num.nullable(),
    assessment: z.enum(['no_history', 'regression', 'likely_flaky']),
  })),
  fixed: z.array(z.object(ComparedCase)),
  stillFailing: z.array(z.object({ ...ComparedCase, error: z.string().nullable() })),
  newTests: z.array(z.object({ ...ComparedCase, status: CaseOutcome })),
  removedTests: z.array(z.object(ComparedCase)),
  newlyFlaky: z.array(z.object(ComparedCase)),
  // durations in ms
  durationChanges: z.array(z.object({
    ...ComparedCase, baseline: int, current: int, delta: int, ratio: num, historyRuns: int, pValue: num.nullable(),
    assessment: z.enum(['unknown', 'slower', 'faster', 'within_history']),
  })),
  // the mean test duration (ms) of both runs, change as a fraction, tested against the branch's previous runs
  durations: z.object({ current: int.nullable(), baseline: int.nullable(), change: num.nullable(), historyRuns: int, pValue: num.nullable() }),
});

export const SideBySideResponse = z.object({
  // passRate in percent of the tests
  runs: z.array(ComparedRun.extend({ passRate: num })),
  testsCompared: int,
  differing: int,
  // the test cases whose outcome differs between the runs (at most 500): outcome and duration per run, in the order asked, null where it did not run
  tests: z.array(z.object({ ...ComparedCase, outcomes: z.array(CaseOutcome.nullable()), durations: z.array(int.nullable()) })),
});
