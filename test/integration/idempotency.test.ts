import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { createApp } from '../../app/api.ts';
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool, type Pool } from '../../lib/pg.ts';
import { EventLog } from '../../lib/event-log.ts';

// Idempotency-Key (Fusillade reference): the same key within 24 h returns the
// original response and creates nothing; another body → 409; held in Postgres,
// so it holds across API processes.
describe('Idempotency-Key', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: ReturnType<typeof client>;
  // A second API instance on the same stores, as a second process would be.
  let second: { server: Server; eventLog: EventLog; pool: Pool; url: string };

  beforeAll(async () => {
    stack = await startTestStack();
    tenant = await createTenant(stack.url, 'idem');
    api = client(stack.url, { key: tenant.apiKey });
    const pool = createPool(stack.config.pgUrl, 5);
    const kafka = createKafka(stack.config, 'runledger-second');
    const eventLog = new EventLog(kafka, stack.config.topic, stack.config.kafkaTimeoutMs);
    const app = createApp({ ...stack, pool, kafka, eventLog, logger: createLogger('second', 'silent') });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    second = { server, eventLog, pool, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  });
  afterAll(async () => {
    await new Promise((r) => second?.server.close(r));
    await second?.eventLog.close();
    await second?.pool.end();
    await stack?.stop();
  });

  const key = () => `key-${Math.random().toString(36).slice(2)}`;
  const registered = async () => (await stack.pool.query('SELECT count(*)::int AS n FROM ingest_runs WHERE project_id = $1', [tenant.projectId])).rows[0].n;

  it('answers a repeated POST with the original response and creates nothing', async () => {
    const k = key();
    const body = runBody(tenant.projectId);
    const first = await api.post('/api/runs', body, { 'idempotency-key': k });
    expect(first.status).toBe(201);
    const end = await stack.topicEnd();
    const runs = await registered();
    const again = await api.post('/api/runs', body, { 'idempotency-key': k });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-runledger-position')).toBe(first.headers.get('x-runledger-position'));
    expect(await stack.topicEnd()).toBe(end);
    expect(await registered()).toBe(runs);
  });

  it('answers 409 idempotency_error for the same key with another body, creating nothing', async () => {
    const k = key();
    const run = await api.post('/api/runs', runBody(tenant.projectId), { 'idempotency-key': k });
    const end = await stack.topicEnd();
    const res = await api.post('/api/tests', testBody(tenant.projectId, run.body.id, 1), { 'idempotency-key': k });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('idempotency_error');
    const res2 = await api.post('/api/runs', runBody(tenant.projectId, { branch: 'other' }), { 'idempotency-key': k });
    expect(res2.status).toBe(409);
    expect(await stack.topicEnd()).toBe(end);
  });

  it.each([
    ['257 characters', 'k'.repeat(257)],
    ['empty', ''],
    ['a space inside', 'a b'],
  ])('answers 400 idempotency_error for a key of %s, creating nothing', async (_, k) => {
    const end = await stack.topicEnd();
    const res = await api.post('/api/runs', runBody(tenant.projectId), { 'idempotency-key': k });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('idempotency_error');
    expect(await stack.topicEnd()).toBe(end);
  });

  it('takes a key of exactly 256 characters', async () => {
    const res = await api.post('/api/runs', runBody(tenant.projectId), { 'idempotency-key': 'k'.repeat(255) + 'z' });
    expect(res.status).toBe(201);
  });

  it('creates once for ten concurrent requests with one key, across two API processes', async () => {
    const k = key();
    const body = runBody(tenant.projectId);
    const end = await stack.topicEnd();
    const runs = await registered();
    const bases = [stack.url, second.url];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => client(bases[i % 2]!, { key: tenant.apiKey }).post('/api/runs', body, { 'idempotency-key': k })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await stack.topicEnd()).toBe(end + 1);
    expect(await registered()).toBe(runs + 1);
  });

  it('scopes keys per caller: another key may use the same key string', async () => {
    const k = key();
    const other = await createTenant(stack.url, 'idem other');
    const mine = await api.post('/api/runs', runBody(tenant.projectId), { 'idempotency-key': k });
    const theirs = await client(stack.url, { key: other.apiKey }).post('/api/runs', runBody(other.projectId), { 'idempotency-key': k });
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('does not store an error: the corrected request goes through with the same key', async () => {
    const k = key();
    const bad = await api.post('/api/runs', { ...runBody(tenant.projectId), status: 'bogus' }, { 'idempotency-key': k });
    expect(bad.status).toBe(400);
    const good = await api.post('/api/runs', runBody(tenant.projectId), { 'idempotency-key': k });
    expect(good.status).toBe(201);
  });

  it('replays a batch answer and a test result, creating nothing the second time', async () => {
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    for (const [path, body] of [
      ['/api/ingest/batch', [{ type: 'test', ...testBody(tenant.projectId, run.body.id, 1) }]],
      ['/api/tests', testBody(tenant.projectId, run.body.id, 2)],
      ['/api/test-suites', { runId: run.body.id, projectId: tenant.projectId, title: 'Suite' }],
    ] as const) {
      const k = key();
      const first = await api.post(path, body, { 'idempotency-key': k });
      expect(first.status, path).toBeLessThan(300);
      const end = await stack.topicEnd();
      const again = await api.post(path, body, { 'idempotency-key': k });
      expect(again.status, path).toBe(first.status);
      expect(again.body, path).toEqual(first.body);
      expect(await stack.topicEnd(), path).toBe(end);
    }
  });

  it('replays an API key creation without the key itself (it is never stored)', async () => {
    const admin = client(stack.url, { token: tenant.token });
    const k = key();
    const first = await admin.post('/api/api-keys', { projectId: tenant.projectId, name: 'idem key' }, { 'idempotency-key': k });
    expect(first.status).toBe(201);
    expect(first.body.key).toMatch(/^rl_/);
    const again = await admin.post('/api/api-keys', { projectId: tenant.projectId, name: 'idem key' }, { 'idempotency-key': k });
    expect(again.status).toBe(201);
    expect(again.body).toEqual({ ...first.body, key: null });
    const stored = await stack.pool.query('SELECT body FROM idempotency_keys WHERE key = $1', [k]);
    expect(stored.rows[0].body).not.toContain(first.body.key);
  });

  it('ignores Idempotency-Key on PATCH and GET', async () => {
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    const k = key();
    expect((await api.patch(`/api/runs/${run.body.id}`, { status: 'passed', totalTests: 1 }, { 'idempotency-key': k })).status).toBe(200);
    expect((await api.patch(`/api/runs/${run.body.id}`, { status: 'failed', totalTests: 1 }, { 'idempotency-key': k })).body.status).toBe('failed');
  });
});
