import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { JPEG, MP4, PNG, WEBM, ZIP, form, sized } from '../support/artifacts.ts';
import { newId } from '../../schemas/ids.ts';
import { signArtifactUrl } from '../../lib/blobs/signed-urls.ts';

const MiB = 1024 * 1024;

// POST /api/upload: formats checked by their first bytes, per-type size limits,
// the file durable before artifact.uploaded, a signed expiring URL; deleting
// the run deletes its files.
describe('artifact uploads', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let other: Tenant;
  let api: ReturnType<typeof client>;
  let runId: string;
  let testId: string;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'blobs'] });
    tenant = await createTenant(stack.url, 'uploads');
    other = await createTenant(stack.url, 'other uploads');
    api = client(stack.url, { key: tenant.apiKey });
    runId = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
    testId = (await api.post('/api/tests', testBody(tenant.projectId, runId, 1))).body.id;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const upload = async (fd: FormData, opts: { key?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${stack.url}/api/upload`, { method: 'POST', body: fd, headers: { 'x-api-key': opts.key ?? tenant.apiKey, ...(opts.headers ?? {}) } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers, text };
  };
  const fieldsFor = (type: string, file: Buffer, extra: Array<[string, string]> = []): Array<[string, string | Buffer]> =>
    [['type', type], ['runId', runId], ['projectId', tenant.projectId], ...extra, ['file', file]];
  const files = async (dir = stack.config.blobDir): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) out.push(...(await files(join(dir, e.name))));
      else out.push(join(dir, e.name));
    }
    return out;
  };

  it('stores a screenshot and answers with a signed URL that serves it', async () => {
    const end = await stack.topicEnd();
    const res = await upload(form(fieldsFor('screenshot', PNG, [['testId', testId]])));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ type: 'screenshot', fileName: 'screenshot.png', fileSize: PNG.length, mimeType: 'image/png', runId, testId });
    expect(res.body.id).toMatch(/^artifact_/);
    expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(3500 * 1000);
    expect(await stack.topicEnd()).toBe(end + 1);
    const file = await fetch(res.body.url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);
    // and the metadata, with a fresh URL, once projected
    const meta = await api.get(`/api/artifacts/${res.body.id}`, { 'x-runledger-position': res.headers.get('x-runledger-position')! });
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ id: res.body.id, fileSize: PNG.length, sha256: res.body.sha256 });
    expect((await client(stack.url, { key: other.apiKey }).get(`/api/artifacts/${res.body.id}`)).status).toBe(404);
  });

  it.each([
    ['a JPEG screenshot sent before its fields', () => [['file', JPEG], ['type', 'screenshot'], ['runId', runId], ['projectId', tenant.projectId]], 'image/jpeg'],
    ['a WebM video', () => fieldsFor('video', WEBM), 'video/webm'],
    ['an MP4 video', () => fieldsFor('video', MP4), 'video/mp4'],
    ['a ZIP trace', () => fieldsFor('trace', ZIP), 'application/zip'],
    ['a ZIP report', () => fieldsFor('report', ZIP), 'application/zip'],
  ] as Array<[string, () => Array<[string, string | Buffer]>, string]>)('stores %s', async (_, fields, mime) => {
    const res = await upload(form(fields(), 'artifact.bin'));
    expect(res.status, res.text).toBe(201);
    expect(res.body.mimeType).toBe(mime);
    expect((await fetch(res.body.url)).status).toBe(200);
  });

  it("lists a run's and a test's artifacts with fresh URLs, and shows a test's on the test", async () => {
    const shot = await upload(form(fieldsFor('screenshot', PNG, [['testId', testId]])));
    const trace = await upload(form(fieldsFor('trace', ZIP, [['testId', testId]])));
    expect([shot.status, trace.status]).toEqual([201, 201]);
    const position = { 'x-runledger-position': trace.headers.get('x-runledger-position')! };
    const ofTest = await api.get(`/api/artifacts?testId=${testId}`, position);
    expect(ofTest.status, ofTest.text).toBe(200);
    expect(ofTest.body.data.map((a: { id: string }) => a.id)).toEqual(expect.arrayContaining([shot.body.id, trace.body.id]));
    expect(ofTest.body.data.every((a: { testId: string }) => a.testId === testId)).toBe(true);
    const traces = await api.get(`/api/artifacts?runId=${runId}&type=trace&limit=1`);
    expect(traces.body).toMatchObject({ limit: 1, offset: 0 });
    expect(traces.body.data).toHaveLength(1);
    expect(traces.body.data[0].type).toBe('trace');
    expect(traces.body.total).toBeGreaterThanOrEqual(1);
    expect((await fetch(traces.body.data[0].url)).status).toBe(200);
    const onTest = await api.get(`/api/tests/${testId}`);
    expect(onTest.body.artifacts.map((a: { id: string }) => a.id)).toEqual(expect.arrayContaining([shot.body.id, trace.body.id]));
  });

  it.each([
    ['neither runId nor testId', '', 400, 'validation_error'],
    ['a malformed run id', '?runId=run_%27%3B--', 400, 'validation_error'],
    ['an unknown type', '?runId=RUN&type=pdf', 400, 'validation_error'],
    ['a run that does not exist', '?runId=run_00000000000000000000000000', 404, 'not_found'],
  ] as const)('refuses a listing with %s', async (_, query, status, code) => {
    const res = await api.get(`/api/artifacts${query.replace('RUN', runId)}`);
    expect(res.status, res.text).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it("answers another project's key with 404 for a run's and a test's artifacts, naming only what it asked", async () => {
    const foreign = client(stack.url, { key: other.apiKey });
    for (const q of [`runId=${runId}`, `testId=${testId}`]) {
      const res = await foreign.get(`/api/artifacts?${q}`);
      expect(res.status).toBe(404);
      expect(res.text).not.toContain(tenant.projectId);
    }
  });

  describe('refuses, appending nothing and leaving no file behind', () => {
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, string]> = [
      ['a ZIP named .png sent as a screenshot', () => upload(form(fieldsFor('screenshot', ZIP), 'shot.png')), 400, 'validation_error'],
      ['a PNG sent as a video', () => upload(form(fieldsFor('video', PNG))), 400, 'validation_error'],
      ['a text file', () => upload(form(fieldsFor('trace', Buffer.from('just some text, not a zip')), 'trace.zip')), 400, 'validation_error'],
      ['an empty file', () => upload(form(fieldsFor('screenshot', Buffer.alloc(0)))), 400, 'validation_error'],
      ['a screenshot one byte over 5 MiB', () => upload(form(fieldsFor('screenshot', sized(PNG, 5 * MiB + 1)))), 413, 'payload_too_large'],
      ['a trace over 50 MiB sent before its type', () => upload(form([['file', sized(ZIP, 50 * MiB + 1)], ['type', 'trace'], ['runId', runId], ['projectId', tenant.projectId]])), 413, 'payload_too_large'],
      ['an unknown type', () => upload(form(fieldsFor('log', PNG))), 400, 'validation_error'],
      ['no file', () => upload(form([['type', 'screenshot'], ['runId', runId], ['projectId', tenant.projectId]])), 400, 'validation_error'],
      ['two files', () => upload(form([...fieldsFor('screenshot', PNG), ['file', PNG]])), 400, 'validation_error'],
      ['a file under another field name', () => upload(form([['type', 'screenshot'], ['runId', runId], ['projectId', tenant.projectId], ['attachment', PNG]])), 400, 'validation_error'],
      ['a malformed runId', () => upload(form([['type', 'screenshot'], ['runId', 'run_abc'], ['projectId', tenant.projectId], ['file', PNG]])), 400, 'validation_error'],
      ['an unknown run', () => upload(form([['type', 'screenshot'], ['runId', newId('run')], ['projectId', tenant.projectId], ['file', PNG]])), 404, 'not_found'],
      ["another project's run", async () => {
        const foreignRun = (await client(stack.url, { key: other.apiKey }).post('/api/runs', runBody(other.projectId))).body.id;
        return upload(form([['type', 'screenshot'], ['runId', foreignRun], ['projectId', tenant.projectId], ['file', PNG]]));
      }, 404, 'not_found'],
      ["this project's run, from another project's key", () => upload(form(fieldsFor('screenshot', PNG)), { key: other.apiKey }), 404, 'not_found'],
      ['a test of another run', async () => {
        const run2 = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
        const t2 = (await api.post('/api/tests', testBody(tenant.projectId, run2, 2))).body.id;
        return upload(form(fieldsFor('screenshot', PNG, [['testId', t2]])));
      }, 404, 'not_found'],
      ['a JSON body', async () => {
        const res = await api.post('/api/upload', { type: 'screenshot', runId, projectId: tenant.projectId });
        return res;
      }, 415, 'unsupported_media_type'],
      ['a multipart body without a boundary', async () => {
        const res = await fetch(`${stack.url}/api/upload`, { method: 'POST', body: 'x', headers: { 'x-api-key': tenant.apiKey, 'content-type': 'multipart/form-data' } });
        return { status: res.status, body: await res.json() };
      }, 400, 'validation_error'],
      ['no credential', async () => {
        const res = await fetch(`${stack.url}/api/upload`, { method: 'POST', body: form(fieldsFor('screenshot', PNG)) });
        return { status: res.status, body: await res.json() };
      }, 401, 'invalid_auth'],
    ];
    it.each(cases)('%s', async (_, send, status, code) => {
      const end = await stack.topicEnd();
      const before = (await files()).filter((f) => !f.includes('/.tmp/')).length;
      const res = await send();
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error.code).toBe(code);
      // a run created by the case itself is the only event allowed
      expect((await stack.topicEnd()) - end).toBeLessThanOrEqual(2);
      const after = await files();
      expect(after.filter((f) => !f.includes('/.tmp/')).length).toBe(before);
      expect(after.filter((f) => f.includes('/staging/') || f.includes('/.tmp/'))).toEqual([]);
    });
  });

  it('refuses an altered or expired URL with 403', async () => {
    const res = await upload(form(fieldsFor('screenshot', PNG)));
    const url = new URL(res.body.url);
    const token = url.searchParams.get('token')!;
    const variants = [
      url.toString().replace(`token=${token}`, `token=${token.slice(0, -2)}xx`),
      url.toString().replace(/expires=(\d+)/, (_, e) => `expires=${Number(e) + 3600}`),
      url.toString().replace(res.body.id, newId('artifact')),
      `${url.origin}${url.pathname}`,
    ];
    for (const v of variants) {
      const r = await fetch(v);
      expect(r.status, v).toBe(403);
      expect((await r.json()).error).toMatchObject({ code: 'forbidden', details: { reason: 'invalid_signature' } });
    }
    const key = url.pathname.replace('/artifacts/', '');
    const expired = signArtifactUrl(url.origin, stack.config.blobSigningSecret, key, 3600, Date.now() - 2 * 3600 * 1000);
    const r = await fetch(expired.url);
    expect(r.status).toBe(403);
    expect((await r.json()).error.details.reason).toBe('expired');
  });

  it('replays an upload sent again with its Idempotency-Key, storing one file', async () => {
    const key = `upload-${Math.random()}`;
    const end = await stack.topicEnd();
    const before = (await files()).length;
    const first = await upload(form(fieldsFor('screenshot', PNG)), { headers: { 'idempotency-key': key } });
    const again = await upload(form(fieldsFor('screenshot', PNG)), { headers: { 'idempotency-key': key } });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body.id).toBe(first.body.id);
    expect(await stack.topicEnd()).toBe(end + 1);
    expect((await files()).length).toBe(before + 1);
    const different = await upload(form(fieldsFor('screenshot', JPEG)), { headers: { 'idempotency-key': key } });
    expect(different.status).toBe(409);
    expect(different.body.error.code).toBe('idempotency_error');
    expect((await files()).length).toBe(before + 1);
  });
  // A browser seeking in a video or leaving the page drops a download midway:
  // the normal end of a response, not an error to print as a stack trace.
  it('lets a client leave a download midway with nothing on stderr', async () => {
    const res = await upload(form(fieldsFor('video', sized(WEBM, 8 * MiB), [['testId', testId]])));
    expect(res.status, res.text).toBe(201);
    const printed = vi.spyOn(console, 'error');
    try {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          http.get(res.body.url, (r) => {
            expect(r.statusCode).toBe(200);
            r.once('data', () => {
              r.destroy();
              resolve();
            });
          }).on('error', reject);
        });
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(printed.mock.calls.map((c) => String(c[0]))).toEqual([]);
      // and the file is still served whole to a client that stays
      expect(Buffer.from(await (await fetch(res.body.url)).arrayBuffer()).length).toBe(8 * MiB);
    } finally {
      printed.mockRestore();
    }
  });
});

describe('deleting a run', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse', 'blobs'] });
    tenant = await createTenant(stack.url, 'deleting');
    api = client(stack.url, { key: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('removes every read model row and the artifact files, and refuses writes to it after', async () => {
    const runId = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
    const keep = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
    const test = (await api.post('/api/tests', testBody(tenant.projectId, runId, 1))).body;
    await api.post('/api/tests', testBody(tenant.projectId, keep, 1));
    const fd = new FormData();
    for (const [k, v] of [['type', 'screenshot'], ['runId', runId], ['projectId', tenant.projectId]]) fd.append(k!, v!);
    fd.append('file', new Blob([new Uint8Array(PNG)]), 'a.png');
    const artifact = await (await fetch(`${stack.url}/api/upload`, { method: 'POST', body: fd, headers: { 'x-api-key': tenant.apiKey } })).json();
    expect((await fetch(artifact.url)).status).toBe(200);
    await stack.waitForProjections();

    const deleted = await api.del(`/api/runs/${runId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true, message: 'Run deleted successfully' });
    const token = { 'x-runledger-position': deleted.headers.get('x-runledger-position')! };
    expect((await api.get(`/api/runs/${runId}`, token)).status).toBe(404);
    expect((await api.get(`/api/tests/${test.id}`)).status).toBe(404);
    expect((await api.get(`/api/tests/${test.id}/history`, token)).status).toBe(404);
    await stack.waitForProjections();
    expect((await fetch(artifact.url)).status).toBe(404);
    const rows = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE run_id = '${runId}'`);
    expect(rows[0]!.n).toBe('0');
    for (const table of ['tests', 'suites', 'artifacts', 'runs']) {
      const col = table === 'runs' ? 'id' : 'run_id';
      expect((await stack.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${col} = $1`, [runId])).rows[0].n, table).toBe(0);
    }
    // the other run is untouched
    expect((await api.get(`/api/runs/${keep}`)).body.totalTests).toBe(1);

    const end = await stack.topicEnd();
    for (const res of [
      await api.patch(`/api/runs/${runId}`, { status: 'passed' }),
      await api.post('/api/tests', testBody(tenant.projectId, runId, 2)),
      await api.del(`/api/runs/${runId}`),
      await api.post('/api/ingest/batch', [{ type: 'test', ...testBody(tenant.projectId, runId, 3) }]),
    ]) {
      expect(res.status === 404 || res.body.results?.[0]?.error?.code === 'not_found', res.text).toBe(true);
    }
    expect(await stack.topicEnd()).toBe(end);
  });

  it('deleting the project removes its artifact files too', async () => {
    const doomed = await createTenant(stack.url, 'doomed');
    const runId = (await client(stack.url, { key: doomed.apiKey }).post('/api/runs', runBody(doomed.projectId))).body.id;
    const fd = new FormData();
    for (const [k, v] of [['type', 'screenshot'], ['runId', runId], ['projectId', doomed.projectId]]) fd.append(k!, v!);
    fd.append('file', new Blob([new Uint8Array(PNG)]), 'a.png');
    const artifact = await (await fetch(`${stack.url}/api/upload`, { method: 'POST', body: fd, headers: { 'x-api-key': doomed.apiKey } })).json();
    expect((await fetch(artifact.url)).status).toBe(200);
    const deleted = await client(stack.url, { token: doomed.token }).del(`/api/projects/${doomed.projectId}`);
    expect(deleted.status, deleted.text).toBe(200);
    await stack.waitForProjections();
    expect((await fetch(artifact.url)).status).toBe(404);
  });

  it('takes a full-scope key: ingest and read keys get 403, another project 404', async () => {
    const runId = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
    const admin = client(stack.url, { token: tenant.token });
    for (const scope of ['ingest', 'read']) {
      const key = (await admin.post('/api/api-keys', { projectId: tenant.projectId, name: scope, scope })).body.key;
      const res = await client(stack.url, { key }).del(`/api/runs/${runId}`);
      expect(res.status, scope).toBe(403);
      expect(res.body.error.code).toBe('insufficient_scope');
    }
    const other = await createTenant(stack.url, 'other deleter');
    expect((await client(stack.url, { key: other.apiKey }).del(`/api/runs/${runId}`)).status).toBe(404);
    expect((await api.del(`/api/runs/${newId('run')}`)).status).toBe(404);
    expect((await api.del('/api/runs/latest')).status).toBe(400);
    expect((await admin.del(`/api/runs/${runId}`)).status).toBe(200);
  });
});
