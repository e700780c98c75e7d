import { afterEach, describe, expect, it } from 'vitest';
import { deadUrl } from '../support/net.ts';
import { inOrder, scriptedServer, type Scripted } from '../support/scripted-server.ts';
import { RunledgerClient, RunledgerError, backoffMs, delayBefore, parseRetryAfter, DEFAULT_RETRY } from '../../clients/sdk/src/index.ts';

// The SDK's retry rules against a scripted HTTP server on loopback.
let server: Awaited<ReturnType<typeof scriptedServer>> | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function scripted(answers: Scripted[]) {
  server = await scriptedServer(inOrder(answers));
  return server;
}

const unavailable = { status: 503, headers: { 'retry-after': '0' }, body: { error: { code: 'unavailable', message: 'Kafka is unreachable', details: {} } } };
const fast = { minDelayMs: 1, maxDelayMs: 5 };

describe('the SDK', () => {
  it('retries a 503 with the same Idempotency-Key on every try, so the write happens once', async () => {
    const { url, seen } = await scripted([unavailable, unavailable, { status: 201, body: { id: 'run_1' } }]);
    const client = new RunledgerClient({ url, apiKey: 'rl_key', retry: fast });
    const res = await client.createRun({ projectId: 'project_x', status: 'running' });
    expect(res.body).toEqual({ id: 'run_1' });
    expect(seen).toHaveLength(3);
    const keys = new Set(seen.map((s) => s.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.every((s) => s.headers['x-api-key'] === 'rl_key')).toBe(true);
  });

  it('gives every POST call its own key, and GET and PATCH none', async () => {
    const { url, seen } = await scripted([{ status: 200, body: { data: [] } }]);
    const client = new RunledgerClient({ url, apiKey: 'k' });
    await client.batch([]);
    await client.batch([]);
    await client.listRuns({ limit: 5 });
    await client.updateRun('run_1', { status: 'passed' });
    expect(seen[0]!.headers['idempotency-key']).not.toBe(seen[1]!.headers['idempotency-key']);
    expect(seen[2]!.headers['idempotency-key']).toBeUndefined();
    expect(seen[2]!.url).toBe('/api/runs?limit=5');
    expect(seen[3]!.headers['idempotency-key']).toBeUndefined();
  });

  it('honours Retry-After on 429 rather than its own backoff', async () => {
    const { url } = await scripted([{ status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'rate_limited', message: 'slow down', details: {} } } }, { status: 200, body: {} }]);
    const delays: number[] = [];
    const client = new RunledgerClient({ url, retry: { minDelayMs: 10_000, maxDelayMs: 10_000 }, onRetry: (i) => delays.push(i.delayMs) });
    await client.request('GET', '/api/runs');
    expect(delays).toEqual([0]);
  });

  it('does not retry a 4xx that would fail again, and carries the error code and details', async () => {
    const { url, seen } = await scripted([{ status: 400, body: { error: { code: 'validation_error', message: "'status' is invalid", details: { field: 'status' } } } }]);
    const client = new RunledgerClient({ url, retry: fast });
    const err = await client.createRun({ projectId: 'project_x', status: 'running' }).catch((e) => e);
    expect(err).toBeInstanceOf(RunledgerError);
    expect(err).toMatchObject({ status: 400, code: 'validation_error', details: { field: 'status' }, retryable: false });
    expect(seen).toHaveLength(1);
  });

  it('retries a refused connection and then reports it as a network error', async () => {
    const url = await deadUrl();
    const retries: number[] = [];
    const client = new RunledgerClient({ url, retry: { ...fast, retries: 2 }, onRetry: (i) => retries.push(i.attempt) });
    const err = await client.health().catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: 'network_error' });
    expect(retries).toEqual([]); // health() is a probe: no retries
    const err2 = await client.request('GET', '/api/runs').catch((e) => e);
    expect(err2).toMatchObject({ status: 0, code: 'network_error', retryable: true });
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the configured number of retries', async () => {
    const { url, seen } = await scripted([unavailable]);
    const client = new RunledgerClient({ url, retry: { ...fast, retries: 3 } });
    const err = await client.batch([]).catch((e) => e);
    expect(err).toMatchObject({ status: 503, code: 'unavailable' });
    expect(seen).toHaveLength(4);
  });

  it('uploads a file as multipart with the fields before the file', async () => {
    const { url, seen } = await scripted([{ status: 201, body: { id: 'artifact_1' } }]);
    const client = new RunledgerClient({ url, apiKey: 'k' });
    await client.upload({ file: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), fileName: 'shot.png', type: 'screenshot', runId: 'run_1', projectId: 'project_1', testId: 'test_1' });
    const body = seen[0]!.body;
    expect(seen[0]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen[0]!.headers['idempotency-key']).toBeDefined();
    const order = ['name="type"', 'name="runId"', 'name="projectId"', 'name="testId"', 'name="file"; filename="shot.png"'].map((s) => body.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("makes an artifact's signed URL absolute when the server built it from a missing Origin ('null/artifacts/…')", async () => {
    const signed = 'null/artifacts/proj_1/run_1/artifact_1.png?expires=1&token=t';
    const { url } = await scripted([{ status: 200, body: { id: 'artifact_1', url: signed } }]);
    const client = new RunledgerClient({ url: `${url}/` });
    expect((await client.getArtifact('artifact_1')).url).toBe(`${url}/artifacts/proj_1/run_1/artifact_1.png?expires=1&token=t`);
    const ok = 'https://cdn.example/artifacts/a.png?token=t';
    server!.seen.length = 0;
    await server!.close();
    const again = await scripted([{ status: 201, body: { id: 'artifact_2', url: ok } }]);
    const uploaded = await new RunledgerClient({ url: again.url }).upload({ file: new Uint8Array([1]), type: 'screenshot', runId: 'run_1', projectId: 'p' });
    expect(uploaded.body.url).toBe(ok);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('backs off exponentially with jitter inside [window/2, window], capped', () => {
    const policy = { minDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, policy, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    const err = new RunledgerError('x', 503, 'unavailable', {}, 120_000);
    expect(delayBefore(1, err, DEFAULT_RETRY)).toBe(DEFAULT_RETRY.maxRetryAfterMs);
  });
});
