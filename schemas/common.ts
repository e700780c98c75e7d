import { z } from 'zod';
import { idPattern, type IdKind } from './ids.ts';

export const id = (kind: IdKind) => z.string().regex(idPattern(kind), `must be a ${kind} id`);

// Bounds on free text keep one request from blowing up a row or an event.
export const shortText = z.string().max(500);
export const title = z.string().min(1).max(2000);
export const path = z.string().max(2000);
export const longText = z.string().max(1_048_576); // stdout/stderr, stacks: 1 MiB each
export const tags = z.array(z.string().max(200)).max(100);
// Numbers and instants every store can hold: Postgres int and ClickHouse
// Int32/UInt32 columns take up to 2^31 - 1; ClickHouse DateTime (UInt32 seconds)
// takes 1970 to 2106, and Postgres no year 0. A request schema takes its
// bounds from the event it becomes (schemas/api.ts), so a write the API
// acknowledged is one every projector applies.
export const INT32_MAX = 2_147_483_647;
const EARLIEST = Date.parse('1970-01-01T00:00:00Z');
const LATEST = Date.parse('2106-01-01T00:00:00Z');
export const isoDate = z.iso.datetime({ offset: true })
  .refine((d) => { const t = Date.parse(d); return t >= EARLIEST && t < LATEST; }, 'must be between 1970 and 2105');
export const nonNegInt = z.number().int().min(0).max(INT32_MAX);
// retries and attempt numbers: ClickHouse keeps them as UInt16
export const smallCount = z.number().int().min(0).max(65_535);
// Milliseconds, rounded; at most 2^31 - 1 (24.8 days): rounding never pushes a
// value past the bound, since anything above it is refused first.
export const durationMs = z.number().min(0).max(INT32_MAX).transform((v) => Math.round(v));

export const RunStatus = z.enum(['running', 'passed', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatus>;

// Playwright's outcomes plus Euriqa's `flaky` (passed after a failed attempt).
export const TestStatus = z.enum(['passed', 'failed', 'skipped', 'flaky', 'timedOut', 'interrupted']);
export type TestStatus = z.infer<typeof TestStatus>;

export const TestError = z.object({
  message: z.string().max(65_536).default(''),
  stack: longText.optional(),
  expected: z.string().max(65_536).optional(),
  actual: z.string().max(65_536).optional(),
  location: z.object({ file: path, line: nonNegInt.optional(), column: nonNegInt.optional() }).optional(),
});
export type TestError = z.infer<typeof TestError>;

export const StepCategory = z.enum(['hook', 'fixture', 'action', 'assertion', 'step', 'other']);

export type Step = {
  title: string;
  category: z.infer<typeof StepCategory>;
  status: 'passed' | 'failed' | 'skipped' | 'timedOut' | 'interrupted';
  duration: number;
  error: TestError | null;
  steps: Step[];
};

const MAX_STEP_DEPTH = 8;
const stepAt = (depth: number): z.ZodType<Step, any> =>
  z.object({
    title: title,
    category: StepCategory.default('step'),
    status: z.enum(['passed', 'failed', 'skipped', 'timedOut', 'interrupted']).default('passed'),
    duration: durationMs.default(0),
    error: TestError.nullable().default(null),
    steps: depth >= MAX_STEP_DEPTH ? z.array(z.never()).max(0).default([]) : z.array(stepAt(depth + 1)).max(1000).default([]),
  }) as unknown as z.ZodType<Step, any>;
export const StepInput = stepAt(1);

export const Annotation = z.object({ type: z.string().min(1).max(200), description: z.string().max(5000).optional() });

export const Attempt = z.object({
  attempt: z.number().int().min(1).max(100),
  status: TestStatus,
  duration: durationMs.default(0),
  error: TestError.nullable().default(null),
  startedAt: isoDate.optional(),
});
export type Attempt = z.infer<typeof Attempt>;

export const Pagination = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
