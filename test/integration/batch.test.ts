import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { newId } from '../../schemas/ids.ts';
import { BatchResponse } from '../../schemas/batch.ts';

// POST /api/ingest/batch: any mix of items, each validated on its own, appended
// in order; per-item results; refs to items earlier in the same batch.
describe('the batch endpoint', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let other: Tenant;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url, 'batch');
    other = await createTenant(stack.url, 'other');
    api = client(stack.url, { key: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const item = (type: string, body: Record<string, unknown>) => ({ type, ...body });
  const withoutIds = (b: Record<string, unknown>) => {
    const { runId: _r, projectId: _p, ...rest } = b;
    return rest;
  };

  it('creates a run, its suites and tests, and finishes it in one JSON request, in order', async () => {
    const end = await stack.topicEnd();
    const tests = Array.from({ length: 50 }, (_, i) => item('test', {
      ...withoutIds(testBody(tenant.projectId, '', i, i === 7 ? { status: 'failed', error: { message: 'boom' } } : {})), runRef: 'r', suiteRef: 'child',
    }));
    const res = await api.post('/api/ingest/batch', [
      item('run', { ...runBody(tenant.projectId), ref: 'r' }),
      item('suite', { runRef: 'r', ref: 'root', title: 'Checkout', filePath: 'tests/checkout.spec.ts' }),
      item('suite', { runRef: 'r', ref: 'child', parentSuiteRef: 'root', title: 'Cart', filePath: 'tests/checkout.spec.ts' }),
      ...tests,
      item('run-update', { runRef: 'r', status: 'failed' }),
    ]);
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    expect(BatchResponse.safeParse(res.body).success).toBe(true);
    expect(res.body).toMatchObject({ accepted: 54, rejected: 0 });
    expect(res.headers.get('x-runledger-position')).toMatch(/^\d+:\d+(,\d+:\d+)*$/);
    expect(await stack.topicEnd()).toBe(end + 54);
    const runId = res.body.results[0].id;
    expect(res.body.results.map((r: { index: number }) => r.index)).toEqual([...Array(54).keys()]);
    expect(res.body.results.at(-1)).toMatchObject({ type: 'run-update', id: runId, status: 'accepted' });

    // Read-your-writes with the batch's own token.
    const run = await api.get(`/api/runs/${runId}`, { 'x-runledger-position': res.headers.get('x-runledger-position')! });
    expect(run.status).toBe(200);
    expect(run.headers.get('x-runledger-stale')).toBeNull();
    expect(run.body).toMatchObject({ status: 'failed', totalTests: 50, failedTests: 1, passedTests: 49 });
    const suites = await api.get(`/api/test-suites?runId=${runId}`);
    expect(suites.body.data).toHaveLength(1);
    expect(suites.body.data[0]).toMatchObject({ title: 'Checkout', children: [{ title: 'Cart' }] });
    const listed = await api.get(`/api/tests?runId=${runId}&limit=100`);
    expect(listed.body.total).toBe(50);
    // items of one run keep their order in the log: tests were created in item order
    expect(listed.body.data.map((t: { title: string }) => t.title)).toEqual(tests.map((t) => (t as { title?: unknown }).title));
  });

  it('takes NDJSON, and a line that is not JSON is one rejected item', async () => {
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const lines = [
      JSON.stringify(item('test', testBody(tenant.projectId, run.id, 1))),
      '{"type":"test", not json',
      JSON.stringify(item('test', testBody(tenant.projectId, run.id, 2))),
    ].join('\n');
    const end = await stack.topicEnd();
    const res = await request(stack.url, 'POST', '/api/ingest/batch', { key: tenant.apiKey, raw: `${lines}\n`, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(res.body.results[1]).toMatchObject({ index: 1, status: 'rejected', error: { code: 'invalid_json' } });
    expect(await stack.topicEnd()).toBe(end + 2);
  });

  it('rejects each bad item with its error and accepts the rest', async () => {
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const foreignRun = (await client(stack.url, { key: other.apiKey }).post('/api/runs', runBody(other.projectId))).body;
    const good = (i: number) => item('test', testBody(tenant.projectId, run.id, i));
    const items = [
      good(1),
      item('test', { ...testBody(tenant.projectId, run.id, 2), status: 'bogus' }),
      item('test', testBody(tenant.projectId, newId('run'), 3)),
      item('test', testBody(tenant.projectId, foreignRun.id, 4)),
      item('test', testBody(other.projectId, foreignRun.id, 5)),
      item('test', { ...withoutIds(testBody(tenant.projectId, run.id, 6)), runRef: 'nope' }),
      item('test', { ...testBody(tenant.projectId, run.id, 7), runRef: 'both' }),
      item('bogus', { runId: run.id }),
      'not an object',
      item('test', { ...testBody(tenant.projectId, run.id, 8), duration: 2 ** 31 }),
      item('run', { ...runBody(other.projectId) }),
      item('run-update', { runId: run.id }),
      good(9),
    ];
    const end = await stack.topicEnd();
    const res = await api.post('/api/ingest/batch', items);
    expect(res.status, res.text).toBe(200);
    const codes = res.body.results.map((r: { status: string; error?: { code: string } }) => (r.status === 'accepted' ? 'ok' : r.error!.code));
    expect(codes).toEqual([
      'ok', 'validation_error', 'not_found', 'not_found', 'not_found', 'validation_error', 'validation_error',
      'validation_error', 'validation_error', 'validation_error', 'not_found', 'validation_error', 'ok',
    ]);
    expect(res.body.results[1].error.details.field).toBe('status');
    expect(await stack.topicEnd()).toBe(end + 2);
  });

  it('answers a whole-request error for a body that is not a batch, appending nothing', async () => {
    const end = await stack.topicEnd();
    for (const [body, status, code] of [
      [{ type: 'test' }, 400, 'validation_error'],
      [[], 400, 'validation_error'],
    ] as const) {
      const res = await api.post('/api/ingest/batch', body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
    }
    expect(await stack.topicEnd()).toBe(end);
  });

  it('takes 5,000 test results of about 1.5 KB in one request', { timeout: 120_000 }, async () => {
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const items = Array.from({ length: 5000 }, (_, i) => item('test', testBody(tenant.projectId, run.id, i, { stdout: 'x'.repeat(800) })));
    const bytes = JSON.stringify(items).length;
    expect(bytes).toBeGreaterThan(5_000_000);
    const end = await stack.topicEnd();
    const res = await api.post('/api/ingest/batch', items);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.body).toMatchObject({ accepted: 5000, rejected: 0 });
    expect(await stack.topicEnd()).toBe(end + 5000);
    expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(5000);
  });

  it('lets a JWT user send a batch for a run of their project without projectId', async () => {
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const res = await client(stack.url, { token: tenant.token }).post('/api/ingest/batch', [
      item('test', { ...withoutIds(testBody(tenant.projectId, run.id, 1)), runId: run.id }),
      item('run', withoutIds(runBody(tenant.projectId))),
    ]);
    expect(res.status).toBe(200);
    expect(res.body.results[0].status).toBe('accepted');
    // a run needs its projectId when the caller is a user (no key project to default to)
    expect(res.body.results[1]).toMatchObject({ status: 'rejected', error: { code: 'validation_error', details: { field: 'projectId' } } });
  });
});
