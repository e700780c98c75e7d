import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, type Res } from '../support/http.ts';
import { runBody } from '../support/fixtures.ts';
import { sleep } from '../support/faults.ts';
import { newPostgres, startPostgres, stopPostgres, type PostgresServer } from '../support/services.ts';

// Postgres (a cluster of the test's own) stopped as in a crash and started
// again: meanwhile the API answers 503 with Retry-After for what needs it, and
// /health/ready says not ready; afterwards it serves again by itself, the
// Postgres projector included, without a restart of anything.
describe('Postgres restarted under the API and the projector', () => {
  let dir: string;
  let server: PostgresServer;
  let stack: TestStack;
  let tenant: Tenant;
  let runId: string;
  const during: Record<string, Res> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-fault-pg-'));
    server = await newPostgres(join(dir, 'pg'));
    stack = await startTestStack({ services: { RUNLEDGER_PG_URL: server.url }, projections: ['postgres'] });
    tenant = await createTenant(stack.url, 'pg-restart');
    const api = client(stack.url, { key: tenant.apiKey });
    runId = (await api.post('/api/runs', runBody(tenant.projectId))).body.id;
    await stack.waitForProjections();

    await stopPostgres(server, 'immediate');
    during.read = await api.get(`/api/runs/${runId}`);
    during.list = await api.get('/api/runs');
    during.write = await api.post('/api/runs', runBody(tenant.projectId));
    during.ready = await client(stack.url).get('/health/ready');
    await startPostgres(server);
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    if (server) await stopPostgres(server, 'fast').catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 unavailable with Retry-After while Postgres is down, never a 500', () => {
    for (const [what, res] of Object.entries(during)) {
      if (what === 'ready') continue;
      expect(res.status, `${what}: ${res.text}`).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(during.ready!.status).toBe(503);
  });

  it('serves reads and writes again by itself once Postgres is back, and the projector goes on', async () => {
    const api = client(stack.url, { key: tenant.apiKey });
    const deadline = Date.now() + 60_000;
    let read = await api.get(`/api/runs/${runId}`);
    while (read.status !== 200 && Date.now() < deadline) {
      await sleep(500);
      read = await api.get(`/api/runs/${runId}`);
    }
    expect(read.status).toBe(200);
    const created = await api.post('/api/runs', runBody(tenant.projectId));
    expect(created.status).toBe(201);
    await stack.waitForProjections(undefined, 120_000);
    expect((await api.get(`/api/runs/${created.body.id}`)).status).toBe(200);
  });
});
