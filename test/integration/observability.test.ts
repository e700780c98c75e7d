import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { killHard, spawnProcess, type Projector } from '../support/processes.ts';
import { PROJECTION_NAMES } from '../../lib/consumer-groups.ts';

// Polls until `ok` holds (or gives up after a generous bound and returns the last value).
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000, also?: () => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await fn();
  while (!ok(value) && Date.now() < deadline) {
    also?.();
    await new Promise((r) => setTimeout(r, 200));
    value = await fn();
  }
  return value;
}

type Deep = { status: string; checks: { name: string; status: string; latencyMs: number }[]; consumers: { projection: string; status: string; alive: boolean; lag: number; partitions: { partition: number; lag: number }[]; lastCommitAt: string | null }[] };
const consumer = (r: Res<Deep>, name: string) => r.body.consumers.find((c) => c.projection === name)!;

describe('operational visibility', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let env: Record<string, string>;
  const children: Projector[] = [];
  const deep = () => request<Deep>(stack.url, 'GET', '/health/deep');
  const spawn = (args: string[], extra: Record<string, string> = {}, logLevel?: string) => {
    const child = spawnProcess(args, { ...env, ...extra }, logLevel);
    children.push(child);
    return child;
  };
  const ingestSome = async (n: number) => {
    const api = client(stack.url, { key: tenant.apiKey });
    const run = await api.post('/api/runs', runBody(tenant.projectId));
    expect(run.status).toBe(201);
    for (let i = 0; i < n; i++) expect((await api.post('/api/tests', testBody(tenant.projectId, run.body.id, i))).status).toBe(201);
  };

  beforeAll(async () => {
    // Projectors beat every 200 ms; two seconds of silence is a stalled loop.
    stack = await startTestStack({ overrides: { heartbeatStaleMs: 2000 } });
    env = { ...stack.env, RUNLEDGER_HEARTBEAT_INTERVAL_MS: '200', RUNLEDGER_HEARTBEAT_STALE_MS: '2000' };
    tenant = await createTenant(stack.url);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) await killHard(c);
    await stack?.stop();
  });

  it('/health/deep reports each dependency with its status and latency, and every consumer group', async () => {
    const r = await deep();
    expect(r.status).toBe(200);
    expect(r.body.checks.map((c) => c.name).sort()).toEqual(['clickhouse', 'kafka', 'postgres']);
    for (const c of r.body.checks) {
      expect(c.status).toBe('ok');
      expect(c.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(r.body.consumers.map((c) => c.projection).sort()).toEqual([...PROJECTION_NAMES].sort());
    for (const c of r.body.consumers) expect(c.partitions).toHaveLength(3);
  });

  it('reports lag per partition while no projector runs, and calls such a consumer stalled', async () => {
    await ingestSome(3);
    const r = await deep();
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('unhealthy');
    const pg = consumer(r, 'postgres');
    expect(pg).toMatchObject({ status: 'stalled', alive: false, lag: 4 });
    expect(pg.partitions.reduce((s, p) => s + p.lag, 0)).toBe(4);
  });

  it('a running projector catches up and is healthy with zero lag and a last commit time', async () => {
    spawn(['ops/run/projector.ts', 'blobs']);
    spawn(['ops/run/projector.ts', 'flakiness']);
    // the reactors are consumer groups too: every group must be live for a 200
    spawn(['ops/run/projector.ts', 'quarantine']);
    spawn(['ops/run/projector.ts', 'webhooks']);
    // the next tests find these two at the end of `children`, postgres first
    const pg = spawn(['ops/run/projector.ts', 'postgres']);
    spawn(['ops/run/projector.ts', 'clickhouse']);
    // The commit time is written with the projector's next heartbeat (projection_progress), so it may trail lag 0 by one interval.
    const r = await until(deep, (x) => x.status === 200 && x.body.consumers.every((c) => c.lag === 0 && c.alive) && consumer(x, 'postgres').lastCommitAt !== null, 60_000, () => pg.assertAlive());
    expect(r.status).toBe(200);
    for (const c of r.body.consumers) expect(c).toMatchObject({ status: 'ok', alive: true, lag: 0 });
    expect(consumer(r, 'postgres').lastCommitAt).not.toBeNull();
  });

  it('a projector whose loop stopped (SIGSTOP, still connected) is unhealthy once events wait for it; a restarted one is healthy again', async () => {
    const pg = children[children.length - 2]!;
    pg.kill('SIGSTOP');
    await ingestSome(2);
    const stalled = await until(deep, (x) => consumer(x, 'postgres').status === 'stalled');
    expect(stalled.status).toBe(503);
    expect(consumer(stalled, 'postgres')).toMatchObject({ status: 'stalled', alive: false });
    expect(consumer(stalled, 'postgres').lag).toBeGreaterThan(0);
    expect(consumer(stalled, 'clickhouse').status).toBe('ok');

    await killHard(pg);
    const fresh = spawn(['ops/run/projector.ts', 'postgres']);
    const healthy = await until(deep, (x) => x.status === 200 && consumer(x, 'postgres').lag === 0, 60_000, () => fresh.assertAlive());
    expect(healthy.status).toBe(200);
    expect(consumer(healthy, 'postgres')).toMatchObject({ status: 'ok', alive: true, lag: 0 });
  });

  it('a projector killed with SIGKILL is unhealthy once events wait for it', async () => {
    const pg = children[children.length - 1]!;
    await killHard(pg);
    await ingestSome(1);
    const r = await until(deep, (x) => consumer(x, 'postgres').status === 'stalled');
    expect(consumer(r, 'postgres')).toMatchObject({ status: 'stalled', alive: false });
    expect(r.status).toBe(503);
    const again = spawn(['ops/run/projector.ts', 'postgres']);
    const healthy = await until(deep, (x) => x.status === 200, 60_000, () => again.assertAlive());
    expect(healthy.status).toBe(200);
  });

  it('/metrics counts HTTP requests by route template and status, never by raw path', async () => {
    const api = client(stack.url, { key: tenant.apiKey });
    const missing = await api.get('/api/runs/run_doesnotexist123');
    expect(missing.status).toBeGreaterThanOrEqual(400);
    const r = await request(stack.url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text).toContain(`runledger_http_requests_total{method="GET",route="/api/runs/:id",status="${missing.status}"}`);
    expect(r.text).toMatch(/runledger_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/api\/tests",status="201"\}/);
    expect(r.text).not.toContain('run_doesnotexist123');
  });

  it('/metrics has ingest events, Kafka produce latency and Postgres and ClickHouse query durations', async () => {
    await request(stack.url, 'GET', `/api/tests/test_x/history`, { key: tenant.apiKey });
    const r = await request(stack.url, 'GET', '/metrics');
    expect(r.text).toMatch(/runledger_ingest_events_total\{type="test.reported"\} (\d+)/);
    expect(Number(/runledger_ingest_events_total\{type="test.reported"\} (\d+)/.exec(r.text)![1])).toBeGreaterThanOrEqual(6);
    expect(r.text).toMatch(/runledger_kafka_produce_duration_seconds_count\{outcome="ok"\} [1-9]/);
    expect(r.text).toMatch(/runledger_db_query_duration_seconds_count\{store="postgres",op="SELECT",outcome="ok"\} [1-9]/);
    expect(r.text).toMatch(/runledger_db_query_duration_seconds_count\{store="clickhouse",op="select",outcome="ok"\} [1-9]/);
  });

  it('a projector serves its own /metrics on RUNLEDGER_METRICS_PORT: batch sizes, apply and commit times, lag', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const ch = spawn(['ops/run/projector.ts', 'clickhouse'], { RUNLEDGER_METRICS_PORT: String(port), RUNLEDGER_CONSUMER_GROUP_PREFIX: `${env.RUNLEDGER_CONSUMER_GROUP_PREFIX}.m` }, 'info');
    const scrape = () => fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text(), () => '');
    const text = await until(scrape, (t) => /runledger_consumer_lag\{projection="clickhouse"/.test(t), 60_000, () => ch.assertAlive());
    expect(text).toMatch(/runledger_consumer_batch_size_count\{projection="clickhouse"\} [1-9]/);
    expect(text).toMatch(/runledger_consumer_batch_processing_seconds_count\{projection="clickhouse"\} [1-9]/);
    expect(text).toMatch(/runledger_consumer_commit_seconds_count\{projection="clickhouse"\} [1-9]/);
    expect(text).toMatch(/runledger_consumer_lag\{projection="clickhouse",partition="\d"\} \d+/);
    expect(text).toMatch(/runledger_db_query_duration_seconds_count\{store="clickhouse",op="select",outcome="ok"\} [1-9]/);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    await killHard(ch);
  });

  it('dead-letters are counted, and logged with the correlationId of the event', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const pg = spawn(['ops/run/projector.ts', 'postgres'], { RUNLEDGER_METRICS_PORT: String(port), RUNLEDGER_CONSUMER_GROUP_PREFIX: `${env.RUNLEDGER_CONSUMER_GROUP_PREFIX}.dl` }, 'info');
    const producer = stack.kafka.producer();
    await producer.connect();
    // Valid JSON with a correlationId, but not a valid event.
    await producer.send({ topic: stack.config.topic, messages: [{ key: 'run_poison', value: JSON.stringify({ type: 'nonsense', correlationId: 'req-poison-42' }) }] });
    await producer.disconnect();
    const logged = await until(async () => pg.output(), (o) => o.includes('req-poison-42'), 60_000, () => pg.assertAlive());
    const line = JSON.parse(logged.split('\n').find((l) => l.includes('req-poison-42'))!);
    expect(line).toMatchObject({ msg: 'dead-lettered event', correlationId: 'req-poison-42', step: 'decode', service: 'projector-postgres' });
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text());
    expect(text).toMatch(/runledger_dead_letters_total\{projection="postgres",step="decode"\} [1-9]/);
    await killHard(pg);
  });

  it('the API logs every request as one JSON line with its request id, route template and status', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const apiProc = spawn(['ops/run/api.ts'], { RUNLEDGER_PORT: String(port) }, 'info');
    const base = `http://127.0.0.1:${port}`;
    await until(() => request(base, 'GET', '/health').then((x) => x.status, () => 0), (s) => s === 200, 30_000, () => apiProc.assertAlive());
    const r = await request(base, 'GET', '/api/runs/run_nope', { key: tenant.apiKey, headers: { 'x-request-id': 'req-log-77' } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.headers.get('x-request-id')).toBe('req-log-77');
    const out = await until(async () => apiProc.output(), (o) => o.includes('req-log-77'), 10_000);
    const line = JSON.parse(out.split('\n').find((l) => l.includes('req-log-77'))!);
    expect(line).toMatchObject({ msg: 'request', requestId: 'req-log-77', method: 'GET', route: '/api/runs/:id', path: '/api/runs/run_nope', status: r.status, service: 'api' });
    expect(typeof line.durationMs).toBe('number');
    await killHard(apiProc);
  });

  it('answers a wrong method on /health/deep and /metrics with 405, and an unknown path below them with 404', async () => {
    for (const path of ['/health/deep', '/metrics']) {
      const r = await request(stack.url, 'POST', path, { body: {} });
      expect(r.status, path).toBe(405);
      expect(r.body.error.code).toBe('method_not_allowed');
    }
    expect((await request(stack.url, 'GET', '/metrics/extra')).status).toBe(404);
    expect((await request(stack.url, 'GET', '/health/deep/x')).status).toBe(404);
  });
});
