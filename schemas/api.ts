import { z } from 'zod';
import { Annotation, Attempt, Pagination, RunStatus, TestError, TestStatus, durationMs, id, isoDate, path, tags, title } from './common.ts';
import { RunCreatedData, RunStats, RunUpdatedData, SuiteReportedData, TestReportedData } from './events.ts';
import { Artifact } from './upload.ts';

// Request and response bodies of the HTTP API. Paths, field names and shapes
// follow the Euriqa reference (shared/seeds/001); types are inferred from here.

const opt = <T extends z.ZodType>(s: T) => s.nullish().transform((v) => v ?? null);

// ---- errors and lists
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }),
});
export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });

export { Pagination };

// ---- auth bootstrap (Tripwire reference, shared/seeds/003)
// Weak passwords are refused: short ones, ones of few distinct characters, and
// well-known ones with digits or symbols around them ("Password123!").
const COMMON_PASSWORDS = new Set([
  'password', 'passw0rd', 'qwerty', 'qwertyuiop', 'asdfghjkl', 'letmein', 'welcome', 'iloveyou', 'admin', 'administrator',
  'abc', 'abcdef', 'login', 'monkey', 'dragon', 'football', 'baseball', 'sunshine', 'princess', 'trustno', 'secret',
  'changeme', 'master', 'runledger', 'default', 'test', 'testing',
]);
export const Password = z.string().min(10, 'must be at least 10 characters').max(200)
  .refine((p) => new Set(p).size >= 5, 'is too simple')
  .refine((p) => !COMMON_PASSWORDS.has(p.toLowerCase().replace(/^[^a-z]+|[^a-z]+$/g, '')), 'is too common');
export const SetupBody = z.strictObject({ email: z.email().max(320), password: Password });
export const LoginBody = z.strictObject({ email: z.email().max(320), password: z.string().min(1).max(200) });
export const User = z.object({ id: z.string(), email: z.string(), name: z.string().nullable(), avatarUrl: z.string().nullable(), role: z.enum(['admin', 'user']), createdAt: isoDate });
export const AuthResponse = z.object({ token: z.string(), user: User });

// ---- teams, projects, api keys: the create bodies; the rest of the access model is in schemas/accounts.ts
export const Name = z.string().trim().min(1).max(200);
export const TeamCreateBody = z.strictObject({ name: Name });
export const Team = z.object({ id: z.string(), name: z.string(), createdAt: isoDate });
export const ProjectCreateBody = z.strictObject({ name: Name, teamId: id('team') });
export const Project = z.object({ id: z.string(), name: z.string(), teamId: z.string(), createdAt: isoDate, updatedAt: isoDate });
export const ApiKeyScope = z.enum(['full', 'ingest', 'read']);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;
// `scopes` (a list, as in the API reference of shared/seeds/004) is taken as an
// alias of `scope`: the key gets the widest scope listed, never more, with the
// reference's `test:create` and `test:read` read as ingest and read. Giving
// both that disagree is a 400; giving neither makes a full key.
const SCOPE_ALIASES = { full: 'full', ingest: 'ingest', read: 'read', 'test:create': 'ingest', 'test:read': 'read' } as const;
const SCOPE_ORDER: ApiKeyScope[] = ['read', 'ingest', 'full'];
const widest = (list: ReadonlyArray<keyof typeof SCOPE_ALIASES>): ApiKeyScope =>
  list.map((s) => SCOPE_ALIASES[s]).reduce((a, b) => (SCOPE_ORDER.indexOf(b) > SCOPE_ORDER.indexOf(a) ? b : a));
export const ApiKeyCreateBody = z.strictObject({
  projectId: id('project'),
  name: Name,
  expiresAt: opt(isoDate.refine((d) => Date.parse(d) > Date.now(), 'must be in the future')),
  scope: ApiKeyScope.optional(),
  scopes: z.array(z.enum(Object.keys(SCOPE_ALIASES) as [keyof typeof SCOPE_ALIASES])).min(1).max(5).optional(),
}).refine((b) => !b.scope || !b.scopes || widest(b.scopes) === b.scope, { message: 'says another scope than `scope`', path: ['scopes'] })
  .transform(({ scopes, scope, ...rest }) => ({ ...rest, scope: scope ?? (scopes ? widest(scopes) : 'full') }));
export const ApiKeyCreated = z.object({
  id: z.string(), name: z.string(), projectId: z.string(), key: z.string(), scope: ApiKeyScope,
  isActive: z.boolean(), expiresAt: isoDate.nullable(), createdAt: isoDate,
});

// ---- runs
// The write bodies take every bound from the event they become
// (schemas/events.ts), so nothing the API acknowledges is refused downstream;
// test/unit/contract-bounds.test.ts checks that they still agree.
const RC = RunCreatedData.shape;
export const RunCreateBody = z.object({
  projectId: id('project'),
  status: RC.status,
  branch: opt(RC.branch),
  commitSha: opt(RC.commitSha),
  commitMessage: opt(RC.commitMessage),
  commitAuthor: opt(RC.commitAuthor),
  ciProvider: opt(RC.ciProvider),
  ciBuildId: opt(RC.ciBuildId),
  ciBuildUrl: opt(RC.ciBuildUrl),
  playwrightVersion: opt(RC.playwrightVersion),
  workers: opt(RC.workers),
  shardCurrent: opt(RC.shardCurrent),
  shardTotal: opt(RC.shardTotal),
  browser: opt(RC.browser),
  os: opt(RC.os),
  viewport: opt(RC.viewport),
  hostname: opt(RC.hostname),
  runTitle: opt(RC.runTitle),
  tags: RC.tags.default([]),
  grepPatterns: RC.grepPatterns.default([]),
});
export type RunCreateBody = z.infer<typeof RunCreateBody>;

const RU = RunUpdatedData.shape;
export const RunPatchFields = RunStats.partial().extend({
  status: RU.status.unwrap().optional(),
  duration: RU.duration.unwrap().optional(),
  // Our extension for merged shards (docs/ingest.md): which shard finished.
  shardCurrent: RU.shard.unwrap().shape.current.optional(),
});
const atLeastOneField = (b: object) => Object.keys(b).length > 0;
export const RunPatchBody = RunPatchFields.refine(atLeastOneField, 'at least one field is required');
export type RunPatchBody = z.infer<typeof RunPatchBody>;

const RunCounts = RunStats.extend({ passRate: z.number(), duration: z.number().int().nullable() });
export const Run = RunCounts.extend({
  id: z.string(), projectId: z.string(), status: RunStatus,
  branch: z.string().nullable(), commitSha: z.string().nullable(), commitMessage: z.string().nullable(),
  commitAuthor: z.string().nullable(), ciProvider: z.string().nullable(), ciBuildId: z.string().nullable(),
  ciBuildUrl: z.string().nullable(), playwrightVersion: z.string().nullable(), workers: z.number().nullable(),
  shardCurrent: z.number().nullable(), shardTotal: z.number().nullable(), browser: z.string().nullable(),
  os: z.string().nullable(), viewport: z.string().nullable(), hostname: z.string().nullable(),
  runTitle: z.string().nullable(), tags: z.array(z.string()), createdAt: isoDate, updatedAt: isoDate,
});
export type Run = z.infer<typeof Run>;
export const RunListItem = Run.pick({
  id: true, projectId: true, status: true, branch: true, commitSha: true, runTitle: true, commitMessage: true, ciBuildId: true, totalTests: true, passedTests: true,
  failedTests: true, skippedTests: true, flakyTests: true, passRate: true, duration: true, createdAt: true,
});
// POST /api/runs: the run as created, before any result (ingest/commands.ts createRun).
export const RunCreated = Run.pick({
  id: true, projectId: true, status: true, branch: true, commitSha: true, commitMessage: true, commitAuthor: true, ciProvider: true,
  ciBuildId: true, ciBuildUrl: true, playwrightVersion: true, workers: true, shardCurrent: true, shardTotal: true, browser: true,
  os: true, viewport: true, hostname: true, runTitle: true, tags: true, createdAt: true, updatedAt: true,
}).extend({ grepPatterns: z.array(z.string()) });
// PATCH /api/runs/:id (ingest/commands.ts updateRun): what was reported, null
// where not given; a finish without stats answers the counts of the run's
// tests. `shard`: a shard of a merged run reported (status is then the run's:
// running until every shard finished).
const nullableCount = z.number().int().nullable();
export const RunUpdated = z.object({
  id: z.string(), status: RunStatus.nullable(),
  totalTests: nullableCount, passedTests: nullableCount, failedTests: nullableCount, skippedTests: nullableCount, flakyTests: nullableCount,
  duration: nullableCount, updatedAt: isoDate,
  shard: z.object({ current: z.number().int(), total: z.number().int(), status: RunStatus, finished: z.number().int() }).optional(),
});
export const RunsQuery = Pagination.extend({
  projectId: id('project').optional(),
  status: RunStatus.optional(),
  branch: z.string().max(500).optional(),
  // runs carrying this tag (exact match)
  tag: z.string().min(1).max(200).optional(),
  // created at or after `from`, before `to`
  from: isoDate.optional(),
  to: isoDate.optional(),
}).refine((q) => !(q.from && q.to && Date.parse(q.from) > Date.parse(q.to)), { message: "'from' must not be after 'to'", path: ['from'] });

// ---- tests
const TR = TestReportedData.shape;
export const TestCreateBody = z.object({
  runId: TR.runId,
  projectId: id('project'),
  suiteId: opt(TR.suiteId),
  title: TR.title,
  fullTitle: TR.fullTitle,
  filePath: TR.filePath.default(''),
  lineNumber: opt(TR.lineNumber),
  // The Playwright project (browser) a test ran under: part of the test case identity.
  variant: TR.variant.default(''),
  status: TR.status,
  // fractions of a millisecond are rounded (same bound as the event's)
  duration: durationMs,
  retries: TR.retries.default(0),
  attempt: TR.attempt.default(1),
  isFlaky: TR.isFlaky.default(false),
  tags: TR.tags.default([]),
  annotations: TR.annotations.default([]),
  error: opt(TR.error),
  steps: TR.steps.default([]),
  attempts: TR.attempts.default([]),
  stdout: TR.stdout.default(''),
  stderr: TR.stderr.default(''),
  startedAt: opt(TR.startedAt),
});
export type TestCreateBody = z.infer<typeof TestCreateBody>;

export const TestResult = z.object({
  id: z.string(), runId: z.string(), projectId: z.string(), testCaseId: z.string(), suiteId: z.string().nullable(),
  title: z.string(), fullTitle: z.string(), filePath: z.string(), lineNumber: z.number().nullable(),
  variant: z.string(), status: TestStatus, duration: z.number(), retries: z.number(), attempt: z.number(),
  isFlaky: z.boolean(), tags: z.array(z.string()), annotations: z.array(Annotation), error: TestError.nullable(),
  attempts: z.array(Attempt), stdout: z.string(), stderr: z.string(), startedAt: isoDate, createdAt: isoDate,
  artifacts: z.array(Artifact),
});
// POST /api/tests: the result as reported (status `flaky` when it passed after a failed attempt).
export const TestReported = z.object({
  id: z.string(), runId: z.string(), projectId: z.string(), testCaseId: z.string(), title: z.string(), fullTitle: z.string(),
  status: TestStatus, duration: z.number().int(), isFlaky: z.boolean(), createdAt: isoDate,
});
// GET /api/tests (domain/pg/tests.ts testListView)
export const TestListItem = z.object({
  id: z.string(), runId: z.string(), testCaseId: z.string(), title: z.string(), fullTitle: z.string(), filePath: z.string(),
  variant: z.string(), status: TestStatus, duration: z.number().int(), isFlaky: z.boolean(), error: TestError.nullable(), createdAt: isoDate,
});
// A run's tests come up to 5,000 at once (the dashboard's run page reads a
// whole run in one or two requests); a project's, 500 like every other list.
export const RUN_TESTS_MAX_LIMIT = 5000;
export const TestsQuery = Pagination.extend({
  limit: z.coerce.number().int().min(1).max(RUN_TESTS_MAX_LIMIT).default(50),
  projectId: id('project').optional(),
  // enough alone for a user: the run's project is the one asked about
  runId: id('run').optional(),
  status: TestStatus.optional(),
  search: z.string().max(500).optional(),
}).refine((q) => q.runId !== undefined || q.limit <= 500, {
  message: `a 'limit' over 500 needs 'runId' (a run's tests: up to ${RUN_TESTS_MAX_LIMIT})`, path: ['limit'],
});
export const StepRow = z.object({
  title: z.string(), category: z.string(), status: z.string(), duration: z.number(), error: TestError.nullable(),
  depth: z.number().int(), parentIndex: z.number().int().nullable(),
});
export const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(20),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
  branch: z.string().max(500).optional(),
});
export const HistoryItem = z.object({
  runId: z.string(), testId: z.string(), status: TestStatus, duration: z.number(), branch: z.string().nullable(),
  commitSha: z.string().nullable(), createdAt: isoDate,
});

// ---- suites
const SR = SuiteReportedData.shape;
export const SuiteCreateBody = z.object({
  runId: SR.runId,
  projectId: id('project'),
  title: SR.title,
  filePath: opt(SR.filePath),
  parentSuiteId: opt(SR.parentSuiteId),
});
export type SuiteCreateBody = z.infer<typeof SuiteCreateBody>;
export const SuitesQuery = z.object({ runId: id('run'), projectId: id('project').optional() });
export type SuiteNode = {
  id: string; title: string; filePath: string | null; parentSuiteId: string | null; children: SuiteNode[];
};
// POST /api/test-suites (the suite id is derived from run, file path and title: the same pair is the same suite)
export const SuiteReported = z.object({
  id: z.string(), runId: z.string(), projectId: z.string(), title: z.string(), filePath: z.string().nullable(),
  parentSuiteId: z.string().nullable(), createdAt: isoDate,
});
// GET /api/test-suites: the tree (domain/pg/suites.ts suiteTree); a suite whose parent is unknown is a root.
// Recursive: its `id` names it in the OpenAPI document's components.
export const SuiteNode: z.ZodType<SuiteNode> = z.object({
  id: z.string(), title: z.string(), filePath: z.string().nullable(), parentSuiteId: z.string().nullable(),
  get children(): z.ZodArray<z.ZodType<SuiteNode>> {
    return z.array(SuiteNode);
  },
}).meta({ id: 'SuiteNode' });
export const SuiteTree = z.object({ data: z.array(SuiteNode) });

// ---- health (query-api/routes/health.ts, lib/projection-health.ts): the same
// shape with 200 and with 503.
const HealthCheck = z.object({
  name: z.enum(['postgres', 'clickhouse', 'kafka']), status: z.enum(['ok', 'down']), latencyMs: z.number().int(), error: z.string().optional(),
});
export const HealthReady = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.array(HealthCheck) });
const ConsumerHealth = z.object({
  projection: z.string(), groupId: z.string(),
  // stalled: events are waiting and no instance showed a sign of life within RUNLEDGER_HEARTBEAT_STALE_MS,
  // or an event has waited RUNLEDGER_STALL_AFTER_MS and its partition committed nothing meanwhile
  status: z.enum(['ok', 'stalled']), reason: z.string().nullable(), alive: z.boolean(), lag: z.number().int(),
  partitions: z.array(z.object({
    partition: z.number().int(), end: z.number().int(), committed: z.number().int().nullable(), lag: z.number().int(),
    lastCommitAt: isoDate.nullable(), retries: z.number().int(), stalled: z.boolean(),
  })),
  liveInstances: z.number().int(), lastHeartbeatAt: isoDate.nullable(), lastBatchAt: isoDate.nullable(), lastCommitAt: isoDate.nullable(),
  // the most recent failed batch, kept after recovery; retries: failed attempts of that partition's batch since its last commit
  lastError: z.object({ message: z.string(), at: isoDate, partition: z.number().int(), retries: z.number().int() }).nullable(),
  batchFailures: z.number().int(),
});
export const HealthDeep = z.object({
  status: z.enum(['ok', 'unhealthy']), checks: z.array(HealthCheck),
  // empty when Postgres or Kafka is down; consumersError when they could not be read
  consumers: z.array(ConsumerHealth), consumersError: z.string().optional(),
});
