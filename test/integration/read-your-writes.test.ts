import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { parsePosition } from '../../lib/http/read-your-writes.ts';

// Every ingest response carries X-Runledger-Position; a GET that sends it back
// waits (bounded) until the projections it reads from applied it.
describe('read-your-writes', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'], overrides: { readYourWritesTimeoutMs: 20_000 } });
    tenant = await createTenant(stack.url, 'ryw');
    api = client(stack.url, { key: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('waits for a stopped projection to apply the write, then answers with it', async () => {
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    await stack.stopProjection('postgres');
    const test = await api.post('/api/tests', testBody(tenant.projectId, run.body.id, 1));
    const token = test.headers.get('x-runledger-position')!;
    expect(token).toMatch(/^\d+:\d+$/);
    expect((await api.get(`/api/tests/${test.body.id}`)).status).toBe(404); // no token: the read model as it is
    const waiting = api.get(`/api/tests/${test.body.id}`, { 'x-runledger-position': token });
    await stack.startProjection('postgres');
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(test.body.id);
    expect(res.headers.get('x-runledger-stale')).toBeNull();
  });

  it('takes the token as a query parameter, and waits for ClickHouse on history', async () => {
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    const test = await api.post('/api/tests', testBody(tenant.projectId, run.body.id, 2));
    const token = encodeURIComponent(test.headers.get('x-runledger-position')!);
    const history = await api.get(`/api/tests/${test.body.id}/history?position=${token}`);
    expect(history.status).toBe(200);
    expect(history.body.data.map((h: { testId: string }) => h.testId)).toEqual([test.body.id]);
    expect(history.headers.get('x-runledger-stale')).toBeNull();
  });

  it('answers 400 validation_error for a malformed token', async () => {
    for (const token of ['abc', '1:', ':2', '1:2,x', '-1:5', '1:2;3:4', `${'1:1,'.repeat(1100)}1:1`]) {
      const res = await api.get(`/api/runs?position=${encodeURIComponent(token)}`);
      expect(res.status, token).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_error', details: { field: 'position' } });
    }
    expect((await api.get('/api/runs?position=1:1&position=2:2')).status).toBe(400);
  });

  it('parses a token to the highest offset per partition', () => {
    expect([...parsePosition('0:5,2:7,0:9')]).toEqual([[0, 9], [2, 7]]);
  });
});

describe('read-your-writes when the projection does not catch up in time', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ overrides: { readYourWritesTimeoutMs: 300 } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers with what is there and X-Runledger-Stale: true', async () => {
    const tenant = await createTenant(stack.url, 'stale');
    const api = client(stack.url, { key: tenant.apiKey });
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    const res = await api.get(`/api/runs/${run.body.id}`, { 'x-runledger-position': run.headers.get('x-runledger-position')! });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-runledger-stale')).toBe('true');
  });
});
