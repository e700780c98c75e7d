import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { killHard, pollWhileAlive, spawnProcess, type Projector } from '../support/processes.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool, type Pool } from '../../lib/pg.ts';
import { DigestScheduler } from '../../projections/webhooks/scheduler.ts';

// Scheduled digests: CRUD, pause/resume/trigger, one firing per due time
// across instances, a missed one fired once, and a real digest.ready delivery.
process.env.RUNLEDGER_WEBHOOK_POLL_MS = '50';

type Api = ReturnType<typeof client>;
let stack: TestStack;
let t: Tenant;
let other: Tenant;
let api: Api;
let server: Server;
let receiverUrl = '';
const got: Array<{ headers: Record<string, unknown>; body: any }> = [];
let dispatcher: Projector | undefined;
const pools: Pool[] = [];

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  t = await createTenant(stack.url, 'digests');
  other = await createTenant(stack.url, 'other');
  api = client(stack.url, { key: t.apiKey });
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(b) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/digest`;
  expect((await api.post('/api/webhooks', { projectId: t.projectId, url: receiverUrl, events: ['digest.ready'] })).status).toBe(201);
  // Something to summarise: a finished run with a failure.
  const run = (await api.post('/api/runs', runBody(t.projectId))).body.id;
  await api.post('/api/tests', testBody(t.projectId, run, 1, { status: 'failed', error: { message: 'expected 200, got 500' } }));
  await api.post('/api/tests', testBody(t.projectId, run, 2));
  await api.patch(`/api/runs/${run}`, { status: 'failed' });
  await stack.waitForProjections();
}, 120_000);

afterAll(async () => {
  if (dispatcher) await killHard(dispatcher);
  for (const p of pools) await p.end();
  server?.close();
  await stack?.stop();
});

const until = <T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms?: number) =>
  pollWhileAlive(dispatcher, what, f, ms);

describe('managing schedules', () => {
  it('creates, reads, changes, pauses, resumes and deletes a schedule', async () => {
    const created = await api.post('/api/schedules', { projectId: t.projectId, name: 'weekly', cron: '0 9 * * 1', timezone: 'Europe/Paris' });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: 'weekly', cron: '0 9 * * 1', timezone: 'Europe/Paris', isActive: true, lastRunAt: null });
    // Monday 09:00 in Paris is 07:00 or 08:00 UTC.
    const next = new Date(created.body.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getUTCDay()).toBe(1);
    expect([7, 8]).toContain(next.getUTCHours());
    const sid = created.body.id;
    expect((await api.get(`/api/schedules?projectId=${t.projectId}`)).body.data.map((s: { id: string }) => s.id)).toContain(sid);
    expect((await api.patch(`/api/schedules/${sid}`, { cron: '30 6 * * *', timezone: 'UTC' })).body).toMatchObject({ cron: '30 6 * * *', nextRunAt: expect.stringMatching(/T06:30:00/) });
    expect((await api.post(`/api/schedules/${sid}/pause`)).body).toMatchObject({ isActive: false, nextRunAt: null });
    expect((await api.post(`/api/schedules/${sid}/resume`)).body).toMatchObject({ isActive: true, nextRunAt: expect.stringMatching(/T06:30:00/) });
    expect((await api.del(`/api/schedules/${sid}`)).status).toBe(200);
    expect((await api.get(`/api/schedules/${sid}`)).status).toBe(404);
  });

  it('answers bad input with 400 validation_error, never 500', async () => {
    const s = (await api.post('/api/schedules', { projectId: t.projectId, cron: '0 * * * *' })).body.id;
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/api/schedules', { projectId: t.projectId }],
      ['POST', '/api/schedules', { projectId: t.projectId, cron: 'every day' }],
      ['POST', '/api/schedules', { projectId: t.projectId, cron: '61 * * * *' }],
      ['POST', '/api/schedules', { projectId: t.projectId, cron: '0 * * * *', timezone: 'Mars/Olympus' }],
      ['POST', '/api/schedules', { projectId: t.projectId, cron: '0 * * * *', extra: true }],
      ['POST', '/api/schedules', { projectId: 'proj_x', cron: '0 * * * *' }],
      ['GET', '/api/schedules?projectId=nope', undefined],
      ['GET', '/api/schedules/nope', undefined],
      ['PATCH', `/api/schedules/${s}`, {}],
      ['PATCH', `/api/schedules/${s}`, { cron: '* * *' }],
      ['POST', '/api/schedules/nope/pause', undefined],
      ['POST', '/api/schedules/nope/resume', undefined],
      ['POST', '/api/schedules/nope/trigger', undefined],
      ['DELETE', '/api/schedules/nope', undefined],
    ];
    for (const [method, path, body] of bad) {
      const res = await (method === 'GET' ? api.get(path) : method === 'DELETE' ? api.del(path) : method === 'PATCH' ? api.patch(path, body) : api.post(path, body));
      expect(res.status, `${method} ${path} ${res.text}`).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
  });

  it("answers another project's credentials with 404 on every route", async () => {
    const s = (await api.post('/api/schedules', { projectId: t.projectId, cron: '0 * * * *' })).body.id;
    const theirs = client(stack.url, { key: other.apiKey });
    for (const res of [
      await theirs.get(`/api/schedules?projectId=${t.projectId}`),
      await theirs.post('/api/schedules', { projectId: t.projectId, cron: '0 * * * *' }),
      await theirs.get(`/api/schedules/${s}`),
      await theirs.patch(`/api/schedules/${s}`, { name: 'x' }),
      await theirs.del(`/api/schedules/${s}`),
      await theirs.post(`/api/schedules/${s}/pause`),
      await theirs.post(`/api/schedules/${s}/resume`),
      await theirs.post(`/api/schedules/${s}/trigger`),
    ]) {
      expect(res.status, res.text).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    await api.del(`/api/schedules/${s}`);
  });
});

describe('firing', () => {
  it('fires a due time once across several instances; a time missed during downtime fires once, then the next is in the future', async () => {
    const s = (await api.post('/api/schedules', { projectId: t.projectId, name: 'hourly', cron: '0 * * * *' })).body;
    const missed = new Date(Date.now() - 3 * 3600_000);
    await stack.pool.query('UPDATE schedules SET next_run_at = $2 WHERE id = $1', [s.id, missed]);
    const logger = createLogger('test', 'silent');
    const instances = Array.from({ length: 3 }, () => {
      const pool = createPool(stack.config.pgUrl, 2);
      pools.push(pool);
      return new DigestScheduler(pool, stack.ch, logger, { everyMs: 60_000 });
    });
    const fired = await Promise.all(instances.map((i) => i.fireDue()));
    expect(fired.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await Promise.all(instances.map((i) => i.fireDue()))).toEqual([0, 0, 0]);
    const rows = (await stack.pool.query(
      `SELECT d.body FROM webhook_deliveries d WHERE d.project_id = $1 AND d.event = 'digest.ready' AND d.body::jsonb->'data'->>'scheduleId' = $2`, [t.projectId, s.id],
    )).rows;
    expect(rows).toHaveLength(1);
    const after = (await api.get(`/api/schedules/${s.id}`)).body;
    expect(Date.parse(after.nextRunAt)).toBeGreaterThan(Date.now());
    expect(after.lastRunAt).toBe(missed.toISOString());
    await api.post(`/api/schedules/${s.id}/pause`);
  });

  it('POST /trigger sends a digest now (202) with the sections; the dispatcher delivers digest.ready on schedule', async () => {
    dispatcher = spawnProcess(['ops/run/projector.ts', 'webhooks'], stack.env);
    const s = (await api.post('/api/schedules', { projectId: t.projectId, name: 'now', cron: '0 0 1 1 *' })).body;
    const trig = await api.post(`/api/schedules/${s.id}/trigger`);
    expect(trig.status).toBe(202);
    expect(trig.body.deliveries).toBe(1);
    const triggered = await until('the triggered digest', () => got.find((g) => g.body.id === trig.body.eventId));
    expect(triggered.headers['x-runledger-event']).toBe('digest.ready');
    const digest = triggered.body.data;
    expect(Object.keys(digest).sort()).toEqual(['newFlakyTests', 'passRate', 'period', 'projectId', 'quarantineChanges', 'runDuration', 'scheduleId', 'summary', 'topErrors'].sort());
    expect(digest.summary.executions).toBe(2);
    expect(digest.topErrors[0]).toMatchObject({ occurrences: 1 });

    // Every 2 seconds: the dispatcher fires it by itself.
    const every = (await api.post('/api/schedules', { projectId: t.projectId, name: 'often', cron: '*/2 * * * * *' })).body;
    const scheduled = await until('a scheduled digest', () => got.find((g) => g.body.data.scheduleId === every.id), 30_000);
    expect(scheduled.body).toMatchObject({ event: 'digest.ready', data: { projectId: t.projectId, summary: { executions: 2 } } });
    await api.post(`/api/schedules/${every.id}/pause`);
  });
});
