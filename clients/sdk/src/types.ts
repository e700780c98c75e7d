import type { z } from 'zod';
import type {
  ApiKeyCreated, HistoryItem, HistoryQuery, Project, Run, RunCreateBody, RunListItem, RunPatchBody, RunsQuery, StepRow,
  SuiteCreateBody, SuiteNode, TestCreateBody, TestResult, TestsQuery,
} from '../../../schemas/api.ts';
import type { BatchItem as BatchItemSchema, BatchResponse as BatchResponseSchema } from '../../../schemas/batch.ts';
import type { Artifact as ArtifactSchema, ArtifactType } from '../../../schemas/upload.ts';

// The client's types come from the server's zod schemas (schemas/): what a
// request may carry is the schema's input type, what an answer holds its output.
// Only types are imported, so nothing of the server is loaded at run time.

export type RunCreate = z.input<typeof RunCreateBody>;
export type RunPatch = z.input<typeof RunPatchBody>;
export type TestCreate = z.input<typeof TestCreateBody>;
export type SuiteCreate = z.input<typeof SuiteCreateBody>;
export type BatchItem = z.input<typeof BatchItemSchema>;
export type BatchResponse = z.infer<typeof BatchResponseSchema>;
export type BatchResult = BatchResponse['results'][number];

export type RunDetails = z.infer<typeof Run>;
export type RunSummary = z.infer<typeof RunListItem>;
export type TestDetails = z.infer<typeof TestResult>;
export type Step = z.infer<typeof StepRow>;
export type HistoryEntry = z.infer<typeof HistoryItem>;
export type Suite = SuiteNode;
export type ProjectDetails = z.infer<typeof Project>;
export type ApiKey = z.infer<typeof ApiKeyCreated>;
export type { ArtifactType };
export type Artifact = z.infer<typeof ArtifactSchema>;

type Page = { limit?: number; offset?: number };
type Filter<T> = Page & Omit<Partial<z.input<T & z.ZodType>>, 'limit' | 'offset'>;
export type RunsFilter = Filter<typeof RunsQuery>;
export type TestsFilter = Filter<typeof TestsQuery>;
export type HistoryFilter = Filter<typeof HistoryQuery>;

export type List<T> = { data: T[]; total: number; limit: number; offset: number };

// Answers of the write routes (ingest/commands.ts).
export type RunCreated = RunCreate & { id: string; projectId: string; createdAt: string; updatedAt: string };
export type RunUpdated = {
  id: string; status: RunDetails['status'] | null; totalTests: number | null; passedTests: number | null; failedTests: number | null;
  skippedTests: number | null; flakyTests: number | null; duration: number | null; updatedAt: string;
  shard?: { current: number; total: number; status: string; finished: number };
};
export type TestReported = {
  id: string; runId: string; projectId: string; testCaseId: string; title: string; fullTitle: string; status: TestDetails['status'];
  duration: number; isFlaky: boolean; createdAt: string;
};

// GET /api/quarantine?projectId=… (being built alongside the flakiness work; the
// shape agreed for it). Not in schemas/ yet: once it is, this becomes z.infer of it.
export type QuarantineEntry = {
  testId: string | null; testCaseId: string; testTitle: string; fullTitle: string; filePath: string; variant: string;
  reason: string | null; mode: string | null; owner: string | null; expiresAt: string | null; quarantinedAt: string; quarantinedBy: string | null;
};
