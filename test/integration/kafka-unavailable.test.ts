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
import { EventLog } from '../../lib/event-log.ts';

// A second API instance on the same stores whose broker address leads nowhere:
// a real refused connection, not a mock. Ingest must answer 503 + Retry-After and
// leave nothing half-written.
describe('ingest when Kafka cannot be reached', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let server: Server;
  let deadLog: EventLog;
  let base: string;

  beforeAll(async () => {
    stack = await startTestStack();
    tenant = await createTenant(stack.url);
    const config = { ...stack.config, kafkaBrokers: ['127.0.0.1:1'], kafkaTimeoutMs: 3000 };
    const kafka = createKafka(config, 'runledger-dead');
    deadLog = new EventLog(kafka, config.topic, config.kafkaTimeoutMs);
    const app = createApp({ ...stack, config, kafka, eventLog: deadLog, logger: createLogger('dead', 'silent') });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await deadLog?.close();
    await stack?.stop();
  });

  it('answers 503 unavailable with Retry-After and registers no run', async () => {
    const api = client(base, { key: tenant.apiKey });
    const res = await api.post('/api/runs', runBody(tenant.projectId));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.body.error.code).toBe('unavailable');
    const registered = await stack.pool.query('SELECT count(*)::int AS n FROM ingest_runs WHERE project_id = $1', [tenant.projectId]);
    expect(registered.rows[0].n).toBe(0);
  });

  it('answers 503 for test results of a run created while Kafka was up, and appends nothing', async () => {
    const healthy = client(stack.url, { key: tenant.apiKey });
    const run = await healthy.post('/api/runs', runBody(tenant.projectId));
    expect(run.status).toBe(201);
    const end = await stack.topicEnd();
    const res = await client(base, { key: tenant.apiKey }).post('/api/tests', testBody(tenant.projectId, run.body.id, 1));
    expect(res.status).toBe(503);
    expect(await stack.topicEnd()).toBe(end);
  });

  it('fails fast once the circuit is open', async () => {
    const api = client(base, { key: tenant.apiKey });
    for (let i = 0; i < 3; i++) await api.post('/api/runs', runBody(tenant.projectId));
    const res = await api.post('/api/runs', runBody(tenant.projectId));
    expect(res.status).toBe(503);
    expect(res.body.error.details.reason).toBe('circuit_open');
  });

  it('reports not ready on /health/ready while the healthy instance is ready', async () => {
    const dead = await client(base).get('/health/ready');
    expect(dead.status).toBe(503);
    expect(dead.body.checks.find((c: any) => c.name === 'kafka').status).toBe('down');
    expect((await client(stack.url).get('/health/ready')).status).toBe(200);
    expect((await client(base).get('/health')).status).toBe(200);
  });
});
