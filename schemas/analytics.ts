import { z } from 'zod';
import { id } from './common.ts';
import { TestOrCaseId } from './flakiness.ts';

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
