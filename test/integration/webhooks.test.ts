import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { killHard, pollWhileAlive, spawnProcess, type Projector } from '../support/processes.ts';

// Webhooks end to end: the API, the Postgres and ClickHouse projectors in this process (the
// dispatcher derives flaky and regression signals after they applied a run), and
// the webhooks dispatcher as its own OS process (as ops/up runs it), against
// real HTTP receivers on loopback. Backoff is in milliseconds here.
process.env.RUNLEDGER_WEBHOOK_RETRY_DELAYS_MS = '300,300,300';
process.env.RUNLEDGER_WEBHOOK_TIMEOUT_MS = '4000';
process.env.RUNLEDGER_WEBHOOK_POLL_MS = '50';

type Api = ReturnType<typeof client>;
type Got = { headers: IncomingMessage['headers']; body: string; answered: boolean };
type Receiver = { url: string; got: Got[]; close(): Promise<void> };

// answer(n) for the n-th request (1-based): a status, or 'hang' (never answers).
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<Receiver> {
  const got: Got[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const g: Got = { headers: req.headers, body, answered: false };
      got.push(g);
      const a = answer(got.length);
      if (a === 'hang') return void open.add(res);
      g.answered = true;
      res.writeHead(a, { 'content-type': 'text/plain' }).end(`answer ${a}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

let stack: TestStack;
let t: Tenant;
let other: Tenant;
let api: Api;
let dispatcher: Projector;
const receivers: Receiver[] = [];

const startDispatcher = () => {
  dispatcher = spawnProcess(['ops/run/projector.ts', 'webhooks'], stack.env);
};

const until = <T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms?: number) =>
  pollWhileAlive(dispatcher, what, f, ms);

async function hook(url: string, extra: Record<string, unknown> = {}) {
  const res = await api.post('/api/webhooks', { projectId: t.projectId, url, ...extra });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; secret: string };
}

// A finished run with one test result.
async function finishedRun(status: 'passed' | 'failed' = 'passed', tests: Array<Record<string, unknown>> = [{ status }]) {
  const run = await api.post('/api/runs', runBody(t.projectId));
  expect(run.status).toBe(201);
  for (const [i, extra] of tests.entries()) expect((await api.post('/api/tests', testBody(t.projectId, run.body.id, i + 1, extra))).status).toBe(201);
  expect((await api.patch(`/api/runs/${run.body.id}`, { status })).status).toBe(200);
  return run.body.id as string;
}

const deliveriesOf = async (hookId: string) => (await api.get(`/api/webhooks/${hookId}/deliveries`)).body.data as Array<Record<string, any>>;

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  t = await createTenant(stack.url, 'hooks');
  other = await createTenant(stack.url, 'other');
  api = client(stack.url, { key: t.apiKey });
  startDispatcher();
}, 120_000);

afterAll(async () => {
  if (dispatcher) await killHard(dispatcher);
  for (const r of receivers) await r.close();
  await stack?.stop();
});

describe('managing webhooks', () => {
  it('generates a whsec_ secret shown once, and lists hooks without secrets or header values', async () => {
    const r = await receiver();
    receivers.push(r);
    const created = await api.post('/api/webhooks', { projectId: t.projectId, url: r.url, events: ['run.failed'], headers: { Authorization: 'Bearer s3cret' }, isActive: false });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(created.body.headers).toEqual({ Authorization: 'Bearer s3cret' });
    const list = await client(stack.url, { key: t.apiKey }).get(`/api/webhooks?projectId=${t.projectId}`);
    expect(list.status).toBe(200);
    const item = list.body.data.find((w: { id: string }) => w.id === created.body.id);
    expect(item).toMatchObject({ url: r.url, events: ['run.failed'], isActive: false, headers: { Authorization: '****' } });
    expect(list.text).not.toContain(created.body.secret);
    expect(list.text).not.toContain('s3cret');
    const patched = await api.patch(`/api/webhooks/${created.body.id}`, { events: ['run.completed', 'run.failed'] });
    expect(patched.status).toBe(200);
    expect(patched.body.events).toEqual(['run.completed', 'run.failed']);
    expect((await api.del(`/api/webhooks/${created.body.id}`)).status).toBe(200);
    expect((await api.get(`/api/webhooks/${created.body.id}`)).status).toBe(404);
  });

  it('answers bad input with 400 and the error shape, never 500', async () => {
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/api/webhooks', { projectId: t.projectId }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'not a url' }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'ftp://example.com/x' }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', events: ['no.such.event'] }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', events: [] }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', headers: { 'X-Runledger-Signature': 'forged' } }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', headers: { 'X-A': 'one\r\nInjected: yes' } }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', secret: 'short' }],
      ['POST', '/api/webhooks', { projectId: 'proj_nope', url: 'http://127.0.0.1/x' }],
      ['POST', '/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1/x', unknown: 1 }],
      ['GET', '/api/webhooks/not-an-id', undefined],
      ['GET', '/api/webhooks/not-an-id/deliveries', undefined],
      ['POST', '/api/webhooks/not-an-id/test', undefined],
      ['PATCH', '/api/webhooks/not-an-id', { isActive: true }],
      ['DELETE', '/api/webhooks/not-an-id', undefined],
      ['GET', '/api/webhooks?projectId=nope', undefined],
    ];
    const h = await hook('http://127.0.0.1:9/x', { isActive: false });
    bad.push(['PATCH', `/api/webhooks/${h.id}`, {}], ['PATCH', `/api/webhooks/${h.id}`, { url: 'gopher://x' }],
      ['GET', `/api/webhooks/${h.id}/deliveries?limit=0`, undefined], ['GET', `/api/webhooks/${h.id}/deliveries?status=nope`, undefined]);
    for (const [method, path, body] of bad) {
      const res = await (method === 'GET' ? api.get(path) : method === 'DELETE' ? api.del(path) : method === 'PATCH' ? api.patch(path, body) : api.post(path, body));
      expect(res.status, `${method} ${path} ${res.text}`).toBe(400);
      expect(res.body.error.code, `${method} ${path}`).toBe('validation_error');
      expect(typeof res.body.error.message).toBe('string');
    }
    const notJson = await api.post('/api/webhooks', undefined, { 'content-type': 'application/json' });
    expect(notJson.status).toBeLessThan(500);
  });

  it("answers another project's credentials with 404 on every route", async () => {
    const h = await hook('http://127.0.0.1:9/x', { isActive: false });
    const theirs = client(stack.url, { key: other.apiKey });
    for (const res of [
      await theirs.get(`/api/webhooks?projectId=${t.projectId}`),
      await theirs.post('/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1:9/x' }),
      await theirs.get(`/api/webhooks/${h.id}`),
      await theirs.patch(`/api/webhooks/${h.id}`, { isActive: true }),
      await theirs.del(`/api/webhooks/${h.id}`),
      await theirs.get(`/api/webhooks/${h.id}/deliveries`),
      await theirs.post(`/api/webhooks/${h.id}/test`),
    ]) {
      expect(res.status, res.text).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await api.get(`/api/webhooks/${h.id}`)).body.isActive).toBe(false);
  });
});

describe('deliveries', () => {
  it('delivers run.completed signed; python3 (an independent HMAC) verifies the signature', async () => {
    const r = await receiver();
    receivers.push(r);
    const h = await hook(r.url, { events: ['run.completed'], headers: { 'X-Custom': 'yes' } });
    const runId = await finishedRun('passed');
    const got = await until('the delivery', () => r.got.find((g) => g.body.includes(runId)));
    const payload = JSON.parse(got.body);
    expect(payload).toMatchObject({ event: 'run.completed', data: { run: { id: runId, status: 'passed', totalTests: 1, passedTests: 1 } } });
    expect(payload.id).toMatch(/^evt_/);
    expect(Date.parse(payload.timestamp)).not.toBeNaN();
    expect(got.headers['x-custom']).toBe('yes');
    expect(got.headers['x-runledger-event']).toBe('run.completed');
    expect(got.headers['x-runledger-delivery']).toMatch(/^whd_/);
    const sig = String(got.headers['x-runledger-signature']);
    expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const py = `
import hmac, hashlib, sys
secret, header, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
parts = dict(p.split("=", 1) for p in header.split(","))
expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
sys.exit(0 if hmac.compare_digest(expected, parts["v1"]) else 1)`;
    const verify = (secret: string, body: string) => spawnSync('python3', ['-c', py, secret, sig], { input: body }).status;
    expect(verify(h.secret, got.body)).toBe(0);
    // The check can fail: another secret or another body does not verify.
    expect(verify(`${h.secret}x`, got.body)).toBe(1);
    expect(verify(h.secret, got.body.replace('passed', 'failed'))).toBe(1);

    const [d] = await until('the delivery row', async () => (await deliveriesOf(h.id)).filter((x) => x.status === 'delivered'));
    expect(d).toMatchObject({ event: 'run.completed', status: 'delivered', attempts: 1, statusCode: 200, responseExcerpt: 'answer 200', nextAttemptAt: null });
    expect(d!.id).toBe(got.headers['x-runledger-delivery']);
  });

  it('retries with backoff a receiver that fails twice, then succeeds; same delivery id and body each time', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    receivers.push(r);
    const h = await hook(r.url, { events: ['run.failed'] });
    const runId = await finishedRun('failed');
    await until('three attempts', () => r.got.length >= 3);
    const ds = await until('delivered', async () => (await deliveriesOf(h.id)).find((x) => x.status === 'delivered'));
    expect(ds).toMatchObject({ event: 'run.failed', attempts: 3, statusCode: 200 });
    expect(r.got).toHaveLength(3);
    expect(new Set(r.got.map((g) => g.headers['x-runledger-delivery'])).size).toBe(1);
    expect(new Set(r.got.map((g) => g.body)).size).toBe(1);
    expect(JSON.parse(r.got[0]!.body).data.run.id).toBe(runId);
  });

  it('gives up after the configured attempts, and 410 Gone disables the hook', async () => {
    const failing = await receiver(() => 503);
    const gone = await receiver(() => 410);
    receivers.push(failing, gone);
    const f = await hook(failing.url, { events: ['run.completed'] });
    const g = await hook(gone.url, { events: ['run.completed'] });
    await finishedRun();
    const failed = await until('failed', async () => (await deliveriesOf(f.id)).find((x) => x.status === 'failed'));
    expect(failed).toMatchObject({ attempts: 4, statusCode: 503, nextAttemptAt: null });
    expect(failing.got).toHaveLength(4);
    await until('disabled', async () => (await deliveriesOf(g.id)).find((x) => x.status === 'disabled'));
    const hookNow = (await api.get(`/api/webhooks/${g.id}`)).body;
    expect(hookNow).toMatchObject({ isActive: false, disabledReason: expect.stringContaining('410') });
    expect(gone.got).toHaveLength(1);
  });

  it('loses no delivery and sends none twice when the dispatcher is SIGKILLed between attempts', async () => {
    const r = await receiver((n) => (n === 1 ? 503 : 200));
    receivers.push(r);
    const h = await hook(r.url, { events: ['run.completed'] });
    const runId = await finishedRun();
    // The first attempt failed and is recorded: kill before the retry.
    await until('a recorded first attempt', async () => (await deliveriesOf(h.id)).find((x) => x.attempts === 1));
    await killHard(dispatcher);
    const countAtKill = r.got.length;
    // More events while it is down, then a fresh process: its consumer group
    // reads again from the last committed offset.
    const later = await finishedRun();
    startDispatcher();
    await until('both delivered', async () => {
      const ds = await deliveriesOf(h.id);
      return ds.length === 2 && ds.every((x) => x.status === 'delivered') && ds;
    });
    expect(countAtKill).toBe(1);
    const ok = r.got.slice(1).map((g) => JSON.parse(g.body).data.run.id);
    expect(ok.sort()).toEqual([runId, later].sort());
    // Let the restarted dispatcher settle, then nothing more arrives.
    await stack.waitForProjections(['postgres']);
    const rows = await stack.pool.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1', [h.id]);
    expect(rows.rows[0].n).toBe(2);
  });

  it('a receiver that hangs does not delay deliveries to another', async () => {
    const hanging = await receiver(() => 'hang');
    const fine = await receiver();
    receivers.push(hanging, fine);
    const slow = await hook(hanging.url, { events: ['run.completed'] });
    const fast = await hook(fine.url, { events: ['run.completed'] });
    for (let i = 0; i < 6; i++) await finishedRun();
    // The receiver sees a body before the sender records the delivery: wait for the records.
    await until('six deliveries to the healthy receiver, recorded', async () =>
      fine.got.length >= 6 && (await deliveriesOf(fast.id)).filter((x) => x.status === 'delivered').length === 6);
    // Meanwhile not one request to the hanging receiver was answered or gave up:
    // with one send at a time, the healthy ones would have waited behind them.
    const slowRows = (await stack.pool.query('SELECT attempts, status FROM webhook_deliveries WHERE webhook_id = $1', [slow.id])).rows;
    expect(slowRows).toHaveLength(6);
    expect(slowRows.every((x) => x.attempts === 0 && x.status === 'pending')).toBe(true);
    expect(hanging.got.length).toBeGreaterThan(0);
    expect(hanging.got.every((g) => !g.answered)).toBe(true);
    await api.patch(`/api/webhooks/${slow.id}`, { isActive: false });
  });

  it('POST /api/webhooks/:id/test sends a signed webhook.test now and records it', async () => {
    const r = await receiver();
    receivers.push(r);
    const h = await hook(r.url);
    const res = await api.post(`/api/webhooks/${h.id}/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event: 'webhook.test', status: 'delivered', attempts: 1, statusCode: 200 });
    expect(r.got).toHaveLength(1);
    expect(JSON.parse(r.got[0]!.body)).toMatchObject({ event: 'webhook.test', data: { webhookId: h.id } });
    const down = await hook('http://127.0.0.1:9/nothing-listens');
    const failed = await api.post(`/api/webhooks/${down.id}/test`);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ status: 'failed', statusCode: null, error: expect.any(String) });
  });

  it('sends test.quarantined and test.unquarantined from quarantine changes', async () => {
    const r = await receiver();
    receivers.push(r);
    await hook(r.url, { events: ['test.quarantined', 'test.unquarantined'] });
    const runId = await finishedRun();
    const test = (await api.get(`/api/tests?runId=${runId}`)).body.data[0];
    const q1 = await api.post('/api/flakiness', { projectId: t.projectId, testId: test.testCaseId, isQuarantined: true, reason: 'flaky on CI' });
    expect(q1.status, q1.text).toBe(200);
    expect((await api.post('/api/flakiness', { projectId: t.projectId, testId: test.testCaseId, isQuarantined: false, reason: 'fixed' })).status).toBe(200);
    await until('two events', () => r.got.length >= 2);
    const events = r.got.map((g) => JSON.parse(g.body));
    // Deliveries are concurrent: no order between events (docs/webhooks.md); the timestamps tell it.
    events.sort((x, y) => Date.parse(x.timestamp) - Date.parse(y.timestamp));
    expect(events.map((e) => e.event)).toEqual(['test.quarantined', 'test.unquarantined']);
    expect(events[0].data).toMatchObject({ testCaseId: test.testCaseId, isQuarantined: true, reason: 'flaky on CI', mode: 'manual' });
  });

  it('derives test.flaky_detected (flakiness service) and run.regression_detected (run comparison) when a run finishes', async () => {
    const r = await receiver();
    receivers.push(r);
    await hook(r.url, { events: ['test.flaky_detected', 'run.regression_detected'] });
    const retried = { status: 'passed', isFlaky: true, retries: 1, attempt: 2, attempts: [
      { attempt: 1, status: 'failed', duration: 40, error: { message: 'Timed out 5000ms' } }, { attempt: 2, status: 'passed', duration: 50 }] };
    const steady = { title: 'steady', fullTitle: 'Suite > steady', status: 'passed' };
    const wobbly = { title: 'wobbly', fullTitle: 'Suite > wobbly' };
    const late = { title: 'late', fullTitle: 'Suite > late', status: 'passed' };
    for (const [i, flaky] of [1, 1, 0, 1, 1, 0, 1, 1].entries()) {
      await finishedRun('passed', [steady, { ...wobbly, ...(flaky ? retried : { status: 'passed' }) }, ...(i >= 6 ? [late] : [])]);
    }
    // `late` passed in the last two runs; now it fails: a new failure with too
    // little history for a test, so the clear rule says regression.
    const failing = await finishedRun('failed', [steady, { ...wobbly, status: 'passed' }, { ...late, status: 'failed', error: { message: 'expected 1, got 2' } }]);
    const regression = await until('run.regression_detected', () => r.got.map((g) => JSON.parse(g.body)).find((e) => e.event === 'run.regression_detected'), 120_000);
    expect(regression.data).toMatchObject({ runId: failing, regression: true });
    expect(regression.data.reasons.length).toBeGreaterThan(0);
    // Deliveries are not ordered relative to each other: test.flaky_detected may arrive after.
    const flaky = await until('test.flaky_detected', () => {
      const got = r.got.map((g) => JSON.parse(g.body)).filter((e) => e.event === 'test.flaky_detected');
      return got.length > 0 && got;
    });
    expect(flaky.length).toBeGreaterThan(0);
    const tests = (await api.get(`/api/tests?runId=${failing}`)).body.data as Array<{ title: string; testCaseId: string }>;
    const caseOf = (title: string) => tests.find((x) => x.title === title)!.testCaseId;
    expect(new Set(flaky.map((e) => e.data.testCaseId))).toEqual(new Set([caseOf('wobbly')]));
    // Each (event, hook) once: the ids of what arrived are distinct.
    expect(new Set(r.got.map((g) => g.headers['x-runledger-delivery'])).size).toBe(r.got.length);
  }, 180_000);

  it('sends threshold.breached once when the project pass rate crosses below its bound, not again while it stays there', async () => {
    const own = await createTenant(stack.url, 'thresholds');
    const api2 = client(stack.url, { key: own.apiKey });
    const r = await receiver();
    receivers.push(r);
    const created = await api2.post('/api/webhooks', {
      projectId: own.projectId, url: r.url, events: ['threshold.breached', 'run.completed', 'run.failed'], thresholds: { passRate: 0.75, windowDays: 7 },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.thresholds).toEqual({ passRate: 0.75, windowDays: 7 });
    const bad = await api2.post('/api/webhooks', { projectId: own.projectId, url: r.url, thresholds: { passRate: 2 } });
    expect(bad.status).toBe(400);
    const run = async (statuses: string[]) => {
      const id = (await api2.post('/api/runs', runBody(own.projectId))).body.id as string;
      for (const [i, status] of statuses.entries()) expect((await api2.post('/api/tests', testBody(own.projectId, id, i, { status }))).status).toBe(201);
      await api2.patch(`/api/runs/${id}`, { status: statuses.includes('failed') ? 'failed' : 'passed' });
      return id;
    };
    const rows = async (event: string) => (await stack.pool.query('SELECT body FROM webhook_deliveries WHERE webhook_id = $1 AND event = $2', [created.body.id, event])).rows.map((x) => JSON.parse(x.body));
    const runEvent = (id: string) => async () => [...(await rows('run.completed')), ...(await rows('run.failed'))].some((b) => b.data.run.id === id);

    const first = await run(['passed', 'passed', 'passed', 'passed']); // 100 %
    await until('the first run', runEvent(first));
    expect(await rows('threshold.breached')).toHaveLength(0);
    const second = await run(['failed', 'failed', 'failed', 'failed']); // 4 of 8: 50 %
    await until('the second run', runEvent(second));
    const third = await run(['failed']); // 4 of 9: still below
    await until('the third run', runEvent(third));
    const breaches = await rows('threshold.breached');
    expect(breaches).toHaveLength(1);
    expect(breaches[0].data).toMatchObject({ metric: 'passRate', value: 0.5, bound: 0.75, direction: 'below', windowDays: 7, runId: second, executions: 8 });
    await until('the breach delivered', () => r.got.some((g) => JSON.parse(g.body).event === 'threshold.breached'));
  });
});
