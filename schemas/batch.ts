import { z } from 'zod';
import { id } from './common.ts';
import { RunCreateBody, RunPatchFields, SuiteCreateBody, TestCreateBody } from './api.ts';

// POST /api/ingest/batch (docs/ingest.md): a JSON array or NDJSON of items, each
// validated on its own. Items are the bodies of the single routes plus `type`;
// projectId may be left out (the API key's project), and items may refer to a
// run or suite created earlier in the same batch by the `ref` it was given.

const ref = z.string().min(1).max(200);
const target = {
  projectId: id('project').optional(),
  runId: id('run').optional(),
  runRef: ref.optional(),
};
const oneRun = (b: { runId?: string; runRef?: string }) => (b.runId === undefined) !== (b.runRef === undefined);
const oneRunMessage = { message: 'give exactly one of runId and runRef', path: ['runId'] };

export const BatchRunItem = RunCreateBody.extend({ type: z.literal('run'), ref: ref.optional(), projectId: id('project').optional() });
export const BatchSuiteItem = SuiteCreateBody.extend({ type: z.literal('suite'), ref: ref.optional(), parentSuiteRef: ref.optional(), ...target })
  .refine(oneRun, oneRunMessage);
export const BatchTestItem = TestCreateBody.extend({ type: z.literal('test'), suiteRef: ref.optional(), ...target })
  .refine(oneRun, oneRunMessage);
export const BatchRunUpdateItem = RunPatchFields.extend({ type: z.literal('run-update'), ...target })
  .refine(oneRun, oneRunMessage);

// Compiled (z.compile, as schemas/events.ts explains): every item of every batch goes through it.
export const BatchItem = z.compile(z.discriminatedUnion('type', [BatchRunItem, BatchSuiteItem, BatchTestItem, BatchRunUpdateItem]));
export type BatchItem = z.infer<typeof BatchItem>;
export const BATCH_ITEM_TYPES = ['run', 'suite', 'test', 'run-update'] as const;

const ErrorObject = z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) });
export const BatchResult = z.union([
  z.object({ index: z.number().int(), status: z.literal('accepted'), type: z.enum(BATCH_ITEM_TYPES), id: z.string(), ref: z.string().optional() }).loose(),
  z.object({ index: z.number().int(), status: z.literal('rejected'), error: ErrorObject }),
]);
export const BatchResponse = z.object({ accepted: z.number().int(), rejected: z.number().int(), results: z.array(BatchResult) });
