import Router from '@koa/router';
import { AppError, notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { id } from '../../schemas/common.ts';
import { ArtifactsQuery } from '../../schemas/upload.ts';
import { runsRepo } from '../../domain/pg/runs.ts';
import { testsRepo } from '../../domain/pg/tests.ts';
import { artifactsRepo, type ArtifactRow } from '../../domain/pg/artifacts.ts';
import { isBlobKey } from '../../lib/blobs/blob-store.ts';
import { MIME_BY_EXT } from '../../lib/blobs/file-formats.ts';
import { ARTIFACT_URL_PREFIX, signArtifactUrl, verifyArtifactUrl } from '../../lib/blobs/signed-urls.ts';


// Artifact files behind signed URLs (no credential: the signature is the
// credential), and artifact metadata with a fresh URL for API callers.
export function artifactFilesRouter({ config, blobs }: AppDeps): Router {
  const router = new Router();
  router.get(`${ARTIFACT_URL_PREFIX}:projectId/:runId/:file`, async (ctx) => {
    const key = `${ctx.params.projectId}/${ctx.params.runId}/${ctx.params.file}`;
    const verdict = isBlobKey(key)
      ? verifyArtifactUrl(config.blobSigningSecret, key, ctx.query.expires, ctx.query.token)
      : { ok: false as const, reason: 'invalid_signature' as const };
    if (!verdict.ok) {
      throw new AppError('forbidden', verdict.reason === 'expired' ? 'this artifact URL has expired; ask the API for a new one' : 'this artifact URL is not valid', { reason: verdict.reason });
    }
    const blob = await blobs.get(key);
    if (!blob) throw notFound('artifact');
    const ext = key.slice(key.lastIndexOf('.') + 1);
    const type = MIME_BY_EXT[ext] ?? 'application/octet-stream';
    ctx.type = type;
    ctx.length = blob.size;
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Security-Policy', "sandbox; default-src 'none'");
    ctx.set('Cache-Control', 'private, max-age=300');
    ctx.set('Content-Disposition', `${type.startsWith('image/') || type.startsWith('video/') ? 'inline' : 'attachment'}; filename="${ctx.params.file}"`);
    ctx.body = blob.stream;
  });
  return router;
}

// An artifact as the API shows it, with a signed URL valid from now.
export function artifactView(row: ArtifactRow, config: AppDeps['config'], origin: string) {
  const signed = signArtifactUrl(config.publicUrl ?? origin, config.blobSigningSecret, row.storage_key, config.blobUrlTtlSeconds);
  return {
    id: row.id, runId: row.run_id, testId: row.test_id, type: row.type, fileName: row.file_name, fileSize: Number(row.file_size),
    mimeType: row.mime_type, sha256: row.sha256, ...signed, createdAt: row.created_at.toISOString(),
  };
}

export function artifactsRouter({ pool, config }: AppDeps): Router {
  const router = new Router();
  router.get('/api/artifacts', async (ctx) => {
    const q = parse(ArtifactsQuery, ctx.query);
    const principal = principalOf(ctx);
    let runId = q.runId;
    if (q.testId) {
      const test = await testsRepo.byId(pool, q.testId);
      if (!test || (runId && test.run_id !== runId)) throw notFound('test', q.testId);
      await authorize(pool, principal, test.project_id, 'read', { kind: 'test', id: q.testId });
      runId = test.run_id;
    } else {
      const run = await runsRepo.byId(pool, runId!);
      if (!run) throw notFound('run', runId);
      await authorize(pool, principal, run.project_id, 'read', { kind: 'run', id: runId! });
    }
    const { rows, total } = await artifactsRepo.list(pool, { runId: runId!, testId: q.testId, type: q.type, limit: q.limit, offset: q.offset });
    const origin = `${ctx.protocol}://${ctx.host}`;
    ctx.body = { data: rows.map((r) => artifactView(r, config, origin)), total, limit: q.limit, offset: q.offset };
  });

  router.get('/api/artifacts/:id', async (ctx) => {
    const artifactId = parse(id('artifact'), ctx.params.id);
    const row = await artifactsRepo.byId(pool, artifactId);
    if (!row) throw notFound('artifact', artifactId);
    await authorize(pool, principalOf(ctx), row.project_id, 'read', { kind: 'artifact', id: artifactId });
    ctx.body = artifactView(row, config, `${ctx.protocol}://${ctx.host}`);
  });
  return router;
}
