import Router from '@koa/router';
import busboy from 'busboy';
import type { Context } from 'koa';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { AppError, notFound } from '../lib/errors.ts';
import { newId } from '../schemas/ids.ts';
import { parse, toAppError } from '../lib/http/errors.ts';
import { wellFormed } from '../lib/text.ts';
import { fingerprintOf, onceForKey } from '../lib/http/idempotency.ts';
import type { AppDeps } from '../domain/app-deps.ts';
import { ARTIFACT_TYPES, MAX_ARTIFACT_BYTES, UploadFields, type ArtifactType } from '../schemas/upload.ts';
import { testsRepo } from '../domain/pg/tests.ts';
import type { BlobStore } from '../lib/blobs/blob-store.ts';
import { formatPosition } from '../lib/event-log.ts';
import { sniff, SNIFF_BYTES, type FileFormat } from '../lib/blobs/file-formats.ts';
import { signArtifactUrl } from '../lib/blobs/signed-urls.ts';
import { WriteScope } from './commands.ts';

export const UPLOAD_PATH = '/api/upload';
export const STAGING_PREFIX = 'staging';
const MULTIPART_OVERHEAD = 1024 * 1024;

type Received = { fields: Record<string, string>; file: { size: number; sha256: string; format: FileFormat; fileName: string } | null };

// POST /api/upload (Euriqa reference): multipart with file, type, runId, testId?,
// projectId. The file streams to the blob store while it arrives, capped at its
// type's limit (413 past it) and checked by its first bytes (400 for a format
// its type does not take). artifact.uploaded is appended only once the file is
// durably stored; the answer carries a signed, expiring URL to it.
export function uploadRouter({ pool, eventLog, logger, config, blobs, idempotency }: AppDeps): Router {
  const router = new Router();

  router.post(UPLOAD_PATH, async (ctx) => {
    if (!ctx.is('multipart/form-data')) {
      drain(ctx);
      throw new AppError('unsupported_media_type', 'send the upload as multipart/form-data');
    }
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > MAX_ARTIFACT_BYTES + MULTIPART_OVERHEAD) {
      drain(ctx);
      throw new AppError('payload_too_large', `an upload is at most ${MAX_ARTIFACT_BYTES} bytes`, { limitBytes: MAX_ARTIFACT_BYTES });
    }
    const artifactId = newId('artifact');
    const staged = `${STAGING_PREFIX}/${artifactId}`;
    const received = await receive(ctx, blobs, staged);
    let stored: string | null = staged;
    let kept = false;
    try {
      const fields = parse(UploadFields, received.fields);
      const file = received.file;
      if (!file) throw new AppError('validation_error', "'file' is required", { field: 'file', issues: [{ path: 'file', message: 'required' }] });
      const spec = ARTIFACT_TYPES[fields.type];
      if (!(spec.formats as readonly string[]).includes(file.format.name)) {
        throw new AppError('validation_error', `'file' is ${file.format.name}, which a ${fields.type} cannot be (${spec.formats.join(', ')})`, {
          field: 'file', detected: file.format.name, allowed: spec.formats, issues: [{ path: 'file', message: 'format does not match type' }],
        });
      }
      if (file.size > spec.maxBytes) throw tooLarge(fields.type);
      const scope = new WriteScope(pool, ctx);
      await scope.authorizeProject(fields.projectId);
      await scope.writableRun(fields.runId, fields.projectId);
      if (fields.testId) await requireTestOfRun(pool, fields.testId, fields.runId, config.readYourWritesTimeoutMs);

      const key = `${fields.projectId}/${fields.runId}/${artifactId}.${file.format.ext}`;
      await blobs.move(staged, key);
      stored = key;
      const work = async () => {
        const event = scope.event('artifact.uploaded', fields.projectId, fields.runId, {
          id: artifactId, runId: fields.runId, testId: fields.testId ?? null, type: fields.type, fileName: file.fileName,
          fileSize: file.size, mimeType: file.format.mimeType, storageKey: key, sha256: file.sha256, createdAt: scope.now,
        });
        ctx.set('X-Runledger-Position', formatPosition(await eventLog.append([event])));
        kept = true;
        const signed = signArtifactUrl(config.publicUrl ?? `${ctx.protocol}://${ctx.host}`, config.blobSigningSecret, key, config.blobUrlTtlSeconds);
        ctx.status = 201;
        ctx.body = {
          id: artifactId, runId: fields.runId, testId: fields.testId ?? null, type: fields.type, fileName: file.fileName,
          fileSize: file.size, mimeType: file.format.mimeType, sha256: file.sha256, ...signed, createdAt: scope.now,
        };
      };
      const idemKey = ctx.state.idempotencyKey as string | undefined;
      if (idemKey) {
        const fingerprint = fingerprintOf('POST', UPLOAD_PATH, JSON.stringify(Object.entries(received.fields).sort()), file.sha256, file.fileName);
        await onceForKey(ctx, idempotency, logger, idemKey, fingerprint, work);
      } else {
        await work();
      }
    } finally {
      // Not appended (refused, failed, or a replay of an earlier upload): the file goes.
      if (!kept && stored) await blobs.delete(stored).catch((err) => logger.error({ err, key: stored }, 'could not delete an unused upload'));
    }
  });

  return router;
}

const tooLarge = (type: ArtifactType | null, limit = type ? ARTIFACT_TYPES[type].maxBytes : MAX_ARTIFACT_BYTES) =>
  new AppError('payload_too_large', `the file is over the ${limit}-byte limit${type ? ` of a ${type}` : ''}`, { field: 'file', limitBytes: limit, ...(type ? { type } : {}) });

const invalid = (field: string, message: string) => new AppError('validation_error', `'${field}' ${message}`, { field, issues: [{ path: field, message }] });

function drain(ctx: Context) {
  ctx.req.unpipe();
  ctx.req.resume();
}

// The largest file a format may be: its type's limit when the type is known
// already (it came before the file), else the largest of the types taking it.
function capFor(format: FileFormat, type: string | undefined): { cap: number; type: ArtifactType | null } {
  if (type && type in ARTIFACT_TYPES) return { cap: ARTIFACT_TYPES[type as ArtifactType].maxBytes, type: type as ArtifactType };
  const takers = Object.values(ARTIFACT_TYPES).filter((t) => (t.formats as readonly string[]).includes(format.name));
  return { cap: Math.max(...takers.map((t) => t.maxBytes)), type: null };
}

// Passes the file through, deciding its format from the first bytes and
// stopping it at its cap.
function guard(typeField: () => string | undefined) {
  let head = Buffer.alloc(0);
  let size = 0;
  let cap = Infinity;
  let capType: ArtifactType | null = null;
  const state: { format: FileFormat | null } = { format: null };
  const unknown = () => invalid('file', `is not a format any artifact type takes (${Object.entries(ARTIFACT_TYPES).map(([t, s]) => `${t}: ${s.formats.join('/')}`).join('; ')})`);
  const decide = () => {
    state.format = sniff(head);
    if (state.format) ({ cap, type: capType } = capFor(state.format, typeField()));
    return state.format;
  };
  const transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!state.format) {
        head = Buffer.concat([head, chunk]).subarray(0, SNIFF_BYTES);
        if (head.length >= SNIFF_BYTES && !decide()) return done(unknown());
      }
      size += chunk.length;
      if (size > cap) return done(tooLarge(capType, cap));
      done(null, chunk);
    },
    flush(done) {
      if (!state.format && !decide()) return done(size === 0 ? invalid('file', 'is empty') : unknown());
      done();
    },
  });
  return { transform, state };
}

function receive(ctx: Context, blobs: BlobStore, staged: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.req.headers, limits: { files: 1, fields: 20, parts: 21, fieldSize: 4096, fieldNameSize: 100, headerPairs: 100 } });
    } catch (err) {
      drain(ctx);
      return reject(invalid('file', `cannot be read: ${(err as Error).message}`));
    }
    const fields: Record<string, string> = {};
    let file: Promise<Received['file']> | null = null;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      ctx.req.unpipe(bb);
      ctx.req.resume();
      // The file may still be arriving: let its write settle, then remove it.
      void Promise.resolve(file).catch(() => undefined).then(() => blobs.delete(staged)).catch(() => undefined)
        .then(() => reject(toAppError(err) ?? err));
    };
    bb.on('field', (name, value, info) => {
      if (info.nameTruncated || info.valueTruncated) return fail(invalid(name.slice(0, 100), 'is too long'));
      if (name in fields) return fail(invalid(name, 'is given twice'));
      fields[name] = wellFormed(value);
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || file) {
        stream.resume();
        return fail(invalid(name === 'file' ? 'file' : name, name === 'file' ? 'is given twice' : 'is not a file field (send the file as `file`)'));
      }
      const g = guard(() => fields.type);
      stream.on('error', (err) => g.transform.destroy(err));
      const fileName = (wellFormed(basename(info.filename ?? '')) || 'file').replace(/[\u0000-\u001f\u007f"\\]/g, '_').slice(0, 255);
      file = blobs.put(staged, stream.pipe(g.transform)).then((r) => ({ ...r, format: g.state.format!, fileName }));
      file.catch((err) => fail(err));
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      bb.on(limit, () => fail(invalid('file', 'the form has too many parts (one file and the fields type, runId, testId, projectId)')));
    }
    bb.on('error', (err) => fail(invalid('file', `the multipart body is malformed: ${(err as Error).message}`)));
    bb.on('close', () => {
      if (failed) return;
      Promise.resolve(file).then((f) => resolve({ fields, file: f ?? null }), fail);
    });
    ctx.req.on('aborted', () => fail(invalid('file', 'the upload was interrupted')));
    ctx.req.pipe(bb);
  });
}

// A test id must name a test of this run. Tests live in the read model, so a
// test reported a moment ago is waited for, briefly.
async function requireTestOfRun(pool: AppDeps['pool'], testId: string, runId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const test = await testsRepo.byId(pool, testId);
    if (test) {
      if (test.run_id !== runId) throw notFound('test', testId);
      return;
    }
    if (Date.now() >= deadline) throw notFound('test', testId);
    await new Promise((r) => setTimeout(r, 50));
  }
}
