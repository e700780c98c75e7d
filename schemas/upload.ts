import { z } from 'zod';
import { id, Pagination } from './common.ts';

// POST /api/upload (multipart): artifact types, their formats and size limits
// from the Euriqa reference (shared/seeds/001). A file's format is read from its
// first bytes, never from its name.
const MiB = 1024 * 1024;
export const ARTIFACT_TYPES = {
  screenshot: { formats: ['png', 'jpeg', 'webp', 'gif'], maxBytes: 5 * MiB },
  video: { formats: ['webm', 'mp4', 'avi', 'mov'], maxBytes: 100 * MiB },
  trace: { formats: ['zip'], maxBytes: 50 * MiB },
  report: { formats: ['zip'], maxBytes: 200 * MiB },
} as const satisfies Record<string, { formats: readonly string[]; maxBytes: number }>;
export type ArtifactType = keyof typeof ARTIFACT_TYPES;
export const ArtifactTypeName = z.enum(Object.keys(ARTIFACT_TYPES) as [ArtifactType, ...ArtifactType[]]);
export const MAX_ARTIFACT_BYTES = Math.max(...Object.values(ARTIFACT_TYPES).map((t) => t.maxBytes));

const opt = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === '' ? undefined : v), s.optional());
export const UploadFields = z.object({
  type: ArtifactTypeName,
  runId: id('run'),
  testId: opt(id('test')),
  projectId: id('project'),
});
export type UploadFields = z.infer<typeof UploadFields>;

export const Artifact = z.object({
  id: z.string(), runId: z.string(), testId: z.string().nullable(), type: ArtifactTypeName, fileName: z.string(),
  fileSize: z.number().int(), mimeType: z.string(), sha256: z.string(), url: z.string(), expiresAt: z.string(), createdAt: z.string(),
});

// GET /api/artifacts: a run's or a test's artifacts, each with a fresh signed URL.
export const ArtifactsQuery = Pagination.extend({
  runId: id('run').optional(),
  testId: id('test').optional(),
  type: ArtifactTypeName.optional(),
}).refine((q) => q.runId || q.testId, { message: 'give runId or testId', path: ['runId'] });
