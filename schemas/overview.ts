import { z } from 'zod';
import { id, isoDate } from './common.ts';

// GET /api/overview: the dashboard's first page, in one request: the caller's
// teams and their projects, each with daily series for sparklines.
export const OverviewQuery = z.object({
  teamId: id('team').optional(),
  days: z.coerce.number().int().min(1).max(90).default(14),
});

const Day = z.object({
  day: z.string(), // YYYY-MM-DD (UTC)
  runs: z.number().int(),
  // passed / total tests of the day's runs, in percent; null without tests
  passRate: z.number().nullable(),
  // distinct test cases with a flaky result, and with a failed or timed-out one, that day
  flakyTests: z.number().int(),
  failedTests: z.number().int(),
});

export const OverviewProject = z.object({
  id: z.string(), name: z.string(),
  lastRun: z.object({ id: z.string(), status: z.string(), branch: z.string().nullable(), passRate: z.number(), createdAt: isoDate }).nullable(),
  // over the whole window
  runs: z.number().int(),
  passRate: z.number().nullable(),
  // the test cases the last flakiness scoring classified so (GET /api/flakiness)
  flaky: z.number().int(),
  broken: z.number().int(),
  daily: z.array(Day),
});

export const Overview = z.object({
  from: z.string(), to: z.string(), days: z.number().int(),
  teams: z.array(z.object({
    id: z.string(), name: z.string(), role: z.enum(['owner', 'admin', 'member', 'viewer']),
    projects: z.array(OverviewProject),
  })),
});

// GET /api/flakiness/transitions: how many test cases moved between stable,
// flaky and broken from one day (or week) to the next.
export const TransitionsQuery = z.object({
  projectId: id('project').optional(),
  period: z.enum(['7d', '30d', '90d', '365d']).default('30d'),
  interval: z.enum(['day', 'week']).default('week'),
  branch: z.string().max(500).optional(),
});
const TestState = z.enum(['stable', 'flaky', 'broken']);
export const Transitions = z.object({
  projectId: z.string(), period: z.string(), interval: z.enum(['day', 'week']), branch: z.string().nullable(),
  buckets: z.array(z.object({
    start: z.string(), // YYYY-MM-DD: the day, or the week's Monday (UTC)
    // test cases with executions in the bucket, by the bucket's state
    stable: z.number().int(), flaky: z.number().int(), broken: z.number().int(),
    // moves from the state of a test case's previous bucket with executions (`new`: none before in the period)
    transitions: z.array(z.object({ from: z.union([TestState, z.literal('new')]), to: TestState, count: z.number().int() })),
  })),
});
