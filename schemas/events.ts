import { z } from 'zod';
import { Annotation, Attempt, RunStatus, TestError, TestStatus, id, isoDate, longText, nonNegInt, path, shortText, smallCount, tags, title, type Step } from './common.ts';
import { StepInput } from './common.ts';

// The event log's contract (DESIGN §2). Every event is one envelope; `data` is
// typed by `type` and `version`. Events are "fat": they carry the context every
// consumer needs (a test result carries its run's branch and commit), so no
// projector has to look anything up and a replay is a pure function of the log.

export const Actor = z.object({
  type: z.enum(['api_key', 'user', 'system']),
  id: z.string().max(100),
});
export type Actor = z.infer<typeof Actor>;

const RunContext = z.object({
  branch: z.string().max(500).nullable(),
  commitSha: z.string().max(200).nullable(),
  createdAt: isoDate,
});

export const RunCreatedData = z.object({
  id: id('run'),
  status: RunStatus,
  branch: z.string().max(500).nullable(),
  commitSha: z.string().max(200).nullable(),
  commitMessage: z.string().max(10_000).nullable(),
  commitAuthor: shortText.nullable(),
  ciProvider: shortText.nullable(),
  ciBuildId: shortText.nullable(),
  ciBuildUrl: z.string().max(2000).nullable(),
  playwrightVersion: z.string().max(100).nullable(),
  workers: nonNegInt.nullable(),
  shardCurrent: nonNegInt.nullable(),
  shardTotal: nonNegInt.nullable(),
  browser: shortText.nullable(),
  os: shortText.nullable(),
  viewport: z.string().max(100).nullable(),
  hostname: shortText.nullable(),
  runTitle: z.string().max(2000).nullable(),
  tags,
  grepPatterns: z.array(z.string().max(1000)).max(100),
  createdAt: isoDate,
});

export const RunStats = z.object({
  totalTests: nonNegInt,
  passedTests: nonNegInt,
  failedTests: nonNegInt,
  skippedTests: nonNegInt,
  flakyTests: nonNegInt,
});

export const RunUpdatedData = z.object({
  id: id('run'),
  status: RunStatus.nullable(),
  stats: RunStats.partial().nullable(),
  duration: nonNegInt.nullable(),
  updatedAt: isoDate,
  run: RunContext,
  // Set when one shard of a merged run reported: status is the run's, set only
  // once every shard finished (docs/ingest.md).
  shard: z.object({ current: nonNegInt, total: nonNegInt, status: RunStatus }).optional(),
});

export const SuiteReportedData = z.object({
  id: id('suite'),
  runId: id('run'),
  title,
  filePath: path.nullable(),
  parentSuiteId: id('suite').nullable(),
  reportedAt: isoDate,
});

const StepData: z.ZodType<Step, any> = StepInput;

export const TestReportedData = z.object({
  id: id('test'),
  runId: id('run'),
  testCaseId: id('testCase'),
  suiteId: id('suite').nullable(),
  title,
  fullTitle: title,
  filePath: path,
  lineNumber: nonNegInt.nullable(),
  variant: z.string().max(200),
  status: TestStatus,
  duration: nonNegInt,
  retries: smallCount,
  attempt: smallCount,
  isFlaky: z.boolean(),
  tags,
  annotations: z.array(Annotation).max(100),
  error: TestError.nullable(),
  steps: z.array(StepData).max(1000),
  attempts: z.array(Attempt).max(100),
  stdout: longText,
  stderr: longText,
  startedAt: isoDate,
  createdAt: isoDate,
  run: RunContext,
});

export const ArtifactUploadedData = z.object({
  id: id('artifact'),
  runId: id('run'),
  testId: id('test').nullable(),
  type: z.enum(['screenshot', 'video', 'trace', 'report']),
  fileName: z.string().max(500),
  fileSize: nonNegInt,
  mimeType: z.string().max(200),
  storageKey: z.string().max(1000),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: isoDate,
});

export const RunDeletedData = z.object({ id: id('run'), deletedAt: isoDate });

// A project and everything in it is gone: every projection drops the project's
// rows, and keeps dropping its events that arrive later (other partitions).
export const ProjectDeletedData = z.object({ id: id('project'), deletedAt: isoDate });

export const TestQuarantineChangedData = z.object({
  testCaseId: id('testCase'),
  isQuarantined: z.boolean(),
  reason: z.string().max(2000),
  mode: z.enum(['manual', 'automatic']),
  owner: shortText.nullable(),
  expiresAt: isoDate.nullable(),
  changedAt: isoDate,
});

export const EVENT_DATA = {
  'run.created': RunCreatedData,
  'run.updated': RunUpdatedData,
  'suite.reported': SuiteReportedData,
  'test.reported': TestReportedData,
  'artifact.uploaded': ArtifactUploadedData,
  'run.deleted': RunDeletedData,
  'test.quarantine_changed': TestQuarantineChangedData,
  'project.deleted': ProjectDeletedData,
} as const;
export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];

// Key order is the events' own (id, then type first: consumers read the type from the leading bytes).
const ENVELOPE = {
  version: z.literal(1),
  projectId: id('project'),
  runId: id('run').nullable(),
  occurredAt: isoDate,
  receivedAt: isoDate,
  actor: Actor,
  correlationId: z.string().max(200).nullable(),
};
const envelope = <T extends EventType>(type: T) => z.object({ id: id('event'), type: z.literal(type), ...ENVELOPE, data: EVENT_DATA[type] });

// Every event is validated by every projection that reads it, so these two are
// compiled (z.compile: one generated validator instead of a walk of the schema
// tree; same results and errors): a result's event in 2.0 µs instead of 6.1
// (docs/scaling.md). test/unit/compiled-schemas.test.ts checks they compile whole.

// An event with its envelope checked and its data not read: for a consumer that
// needs to know only which events of which projects arrived (flakiness).
export const EventEnvelope = z.compile(z.object({ id: id('event'), type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]), ...ENVELOPE }));
export type EventEnvelope = z.infer<typeof EventEnvelope>;

export const Event = z.compile(z.discriminatedUnion('type', [
  envelope('run.created'),
  envelope('run.updated'),
  envelope('suite.reported'),
  envelope('test.reported'),
  envelope('artifact.uploaded'),
  envelope('run.deleted'),
  envelope('test.quarantine_changed'),
  envelope('project.deleted'),
]));
export type Event = z.infer<typeof Event>;
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

// A run's events share a partition so they stay in order (DESIGN §2).
export function partitionKey(event: Event): string {
  if (event.runId) return event.runId;
  if (event.type === 'test.quarantine_changed') return event.data.testCaseId;
  return event.projectId;
}

// Headers of a dead letter appended to the log again by `runledger dlq replay`:
// where it came from (`<dlq topic>:<partition>:<offset>`), and the projections
// that had dead-lettered it, comma-separated: only those apply the copy, the
// others applied the original (projections/kafka/consumer.ts).
export const REPLAYED_FROM_HEADER = 'replayed-from';
export const REPLAYED_FOR_HEADER = 'replayed-for';

export type { TestError };
