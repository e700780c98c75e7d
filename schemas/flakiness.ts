import { z } from 'zod';
import { id, isoDate, shortText } from './common.ts';

// Flakiness and quarantine (Euriqa: GET/POST /api/flakiness), plus the
// quarantine list reporters fetch and a test case's quarantine history.

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
export const TestOrCaseId = z.union([id('test'), id('testCase')]);
const Classification = z.enum(['stable', 'flaky', 'broken', 'insufficient_data']);

export const FlakinessQuery = z.object({
  projectId: id('project').optional(),
  minScore: z.coerce.number().min(0).max(1).optional(),
  quarantined: bool.optional(),
  branch: z.string().max(500).optional(),
  classification: Classification.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

// GET /api/tests/:id/flakiness: scored on one branch (live), or on all (the stored scores when current).
export const CaseFlakinessQuery = z.object({
  branch: z.string().max(500).optional(),
});

export const QuarantineBody = z.strictObject({
  testId: TestOrCaseId,
  projectId: id('project'),
  isQuarantined: z.boolean(),
  reason: z.string().trim().min(1).max(2000).optional(),
  owner: shortText.nullish(),
  expiresAt: isoDate.refine((d) => Date.parse(d) > Date.now(), 'must be in the future').nullish(),
}).refine((b) => b.isQuarantined || (b.expiresAt == null && b.owner == null), {
  message: 'owner and expiresAt only go with isQuarantined: true', path: ['expiresAt'],
});

export const QuarantineQuery = z.object({
  projectId: id('project').optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const QuarantineHistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

// ---- responses
const FlakyEvidence = z.object({
  executions: z.number().int(), retryFlakes: z.number().int(), sameCommitFlakes: z.number().int(), flakyCommits: z.number().int(),
  flips: z.number().int(), transientFailures: z.number().int(), failures: z.number().int(), brokenFailures: z.number().int(),
  incidentExecutionsExcluded: z.number().int(), currentFailureStreak: z.number().int(),
  weightedExecutions: z.number(), flakeWeight: z.number(),
  exampleRunIds: z.array(z.string()), firstFlakyCommit: z.string().nullable(), lastFlakyCommit: z.string().nullable(),
  firstFlakyAt: isoDate.nullable(),
});

export const FlakinessItem = z.object({
  testId: z.string(), testCaseId: z.string(), testTitle: z.string(), fullTitle: z.string(), filePath: z.string(),
  flakinessScore: z.number(), totalRuns: z.number().int(), flakyRuns: z.number().int(), lastFlakyAt: isoDate.nullable(),
  isQuarantined: z.boolean(),
  interval: z.object({ lower: z.number(), upper: z.number(), mass: z.number() }),
  classification: Classification,
  evidence: FlakyEvidence,
  scoringVersion: z.string(),
});

// GET /api/tests/:id/flakiness: the list's item, and where its score came from.
export const CaseFlakiness = FlakinessItem.extend({ asOf: isoDate, source: z.enum(['snapshot', 'live']) });

export const FlakinessResponse = z.object({
  data: z.array(FlakinessItem), total: z.number().int(), limit: z.number().int(), offset: z.number().int(),
  summary: z.object({
    totalFlakyTests: z.number().int(), quarantinedTests: z.number().int(), averageFlakinessScore: z.number(),
    brokenTests: z.number().int(), testsScored: z.number().int(), incidentRuns: z.number().int(),
  }),
  scoringVersion: z.string(),
  // When the scores were computed, and whether they were read as the flakiness
  // projection stored them or computed for this request.
  asOf: isoDate,
  source: z.enum(['snapshot', 'live']),
  window: z.object({ from: isoDate, days: z.number().int(), halfLifeDays: z.number() }),
});

// POST /api/flakiness: the change as appended to the log (testId as given;
// mode is always manual here; changedAt and updatedAt are the same instant).
export const QuarantineChange = z.object({
  testId: z.string(), testCaseId: z.string(), isQuarantined: z.boolean(), reason: z.string(), mode: z.enum(['manual', 'automatic']),
  owner: z.string().nullable(), expiresAt: isoDate.nullable(), changedAt: isoDate, updatedAt: isoDate,
});

export const QuarantineEntry = z.object({
  testId: z.string(), testCaseId: z.string(), testTitle: z.string(), fullTitle: z.string(), filePath: z.string(), variant: z.string(),
  reason: z.string(), mode: z.enum(['manual', 'automatic']), owner: z.string().nullable(), expiresAt: isoDate.nullable(),
  quarantinedAt: isoDate, quarantinedBy: z.string(),
});

export const QuarantineHistoryEntry = z.object({
  eventId: z.string(), isQuarantined: z.boolean(), reason: z.string(), mode: z.enum(['manual', 'automatic']),
  owner: z.string().nullable(), expiresAt: isoDate.nullable(), actor: z.string(), changedAt: isoDate,
});
