import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { RATE_LIMIT_DEFAULTS, loadConfig } from '../../lib/config.ts';
import { rateLimitGroupOf } from '../../lib/http/rate-limit-groups.ts';

// Limits per API key and endpoint group: X-RateLimit-* on every response,
// 429 rate_limited with Retry-After past the limit. Small limits here so the
// test stays short; the defaults are the Euriqa table.
describe('rate limits', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;
  let runId: string;
  const max = { ...RATE_LIMIT_DEFAULTS, runs_write: 3, runs_read: 5, tests_write: 4, batch: 2 };

  beforeAll(async () => {
    stack = await startTestStack({ overrides: { rateLimits: { windowMs: 60_000, max } } });
    tenant = await createTenant(stack.url, 'limited');
    api = client(stack.url, { key: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('defaults to the Euriqa table, configurable per group', () => {
    const config = loadConfig({});
    expect(config.rateLimits).toEqual({ windowMs: 60_000, max: expect.objectContaining({ runs_read: 100, runs_write: 30, tests_read: 200, tests_write: 60, uploads: 30, projects: 60, keys: 30, flakiness: 60 }) });
    expect(loadConfig({ RUNLEDGER_RATE_LIMIT_BATCH: '7', RUNLEDGER_RATE_LIMIT_WINDOW_MS: '1000' }).rateLimits).toMatchObject({ windowMs: 1000, max: { batch: 7 } });
  });

  it('puts routes in their groups', () => {
    expect(rateLimitGroupOf('POST', '/api/runs')).toBe('runs_write');
    expect(rateLimitGroupOf('PATCH', '/api/runs/run_x')).toBe('runs_write');
    expect(rateLimitGroupOf('DELETE', '/api/runs/run_x')).toBe('runs_write');
    expect(rateLimitGroupOf('GET', '/api/runs/run_x')).toBe('runs_read');
    expect(rateLimitGroupOf('POST', '/api/tests')).toBe('tests_write');
    expect(rateLimitGroupOf('POST', '/api/test-suites')).toBe('tests_write');
    expect(rateLimitGroupOf('GET', '/api/tests/test_x/history')).toBe('tests_read');
    expect(rateLimitGroupOf('POST', '/api/upload')).toBe('uploads');
    expect(rateLimitGroupOf('POST', '/api/ingest/batch')).toBe('batch');
    expect(rateLimitGroupOf('POST', '/api/api-keys')).toBe('keys');
    expect(rateLimitGroupOf('POST', '/api/projects')).toBe('projects');
  });

  it('counts down in X-RateLimit-* headers, then answers 429 with Retry-After, appending nothing', async () => {
    const seen: Array<[number, string | null, string | null, string | null]> = [];
    for (let i = 0; i < 3; i++) {
      const r = await api.post('/api/runs', runBody(tenant.projectId));
      runId = r.body.id;
      seen.push([r.status, r.headers.get('x-ratelimit-limit'), r.headers.get('x-ratelimit-remaining'), r.headers.get('x-ratelimit-reset')]);
    }
    expect(seen.map((s) => s.slice(0, 3))).toEqual([[201, '3', '2'], [201, '3', '1'], [201, '3', '0']]);
    const reset = Number(seen[0]![3]);
    expect(Number.isInteger(reset)).toBe(true);
    expect(reset * 1000).toBeGreaterThan(Date.now());

    const end = await stack.topicEnd();
    const limited = await api.post('/api/runs', runBody(tenant.projectId));
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', details: { group: 'runs_write', limit: 3 } });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    expect(await stack.topicEnd()).toBe(end);
  });

  it('keeps groups apart: reads and test results still pass while run writes are limited', async () => {
    const run = await api.get(`/api/runs?projectId=${tenant.projectId}`);
    expect(run.status).toBe(200);
    expect(run.headers.get('x-ratelimit-limit')).toBe('5');
    const t = await api.post('/api/tests', testBody(tenant.projectId, runId, 1));
    expect(t.status).toBe(201);
    expect(t.headers.get('x-ratelimit-limit')).toBe('4');
  });

  it('counts per API key: another key of the same project has its own budget', async () => {
    const admin = client(stack.url, { token: tenant.token });
    const other = await admin.post('/api/api-keys', { projectId: tenant.projectId, name: 'second key' });
    const res = await client(stack.url, { key: other.body.key }).post('/api/runs', runBody(tenant.projectId));
    expect(res.status).toBe(201);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('gives the batch endpoint its own group, and error responses carry the headers too', async () => {
    const b1 = await api.post('/api/ingest/batch', { not: 'an array' });
    expect(b1.status).toBe(400);
    expect(b1.headers.get('x-ratelimit-limit')).toBe('2');
    expect(b1.headers.get('x-ratelimit-remaining')).toBe('1');
    await api.post('/api/ingest/batch', []);
    const b3 = await api.post('/api/ingest/batch', []);
    expect(b3.status).toBe(429);
    expect(b3.body.error.details.group).toBe('batch');
  });
});
