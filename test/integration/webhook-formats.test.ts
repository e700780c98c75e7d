import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { formatReceiver, type ChatFormat, type FormatReceiver } from '../support/format-receivers.ts';

// Delivery formats end to end: hooks of each format (slack, teams, discord,
// pagerduty, json) against loopback receivers that answer like the services —
// 400 for a body missing a required field or over a limit
// (test/support/format-receivers.ts). The webhooks dispatcher runs in this process.
process.env.RUNLEDGER_WEBHOOK_RETRY_DELAYS_MS = '200';
process.env.RUNLEDGER_WEBHOOK_POLL_MS = '50';

const FORMATS: ChatFormat[] = ['slack', 'teams', 'discord', 'pagerduty'];
const ROUTING_KEY = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';
const BASE = 'https://runledger.example.com';

let stack: TestStack;
let t: Tenant;
let api: ReturnType<typeof client>;
const receivers = {} as Record<ChatFormat, FormatReceiver>;
const hooks = {} as Record<ChatFormat, string>;

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse', 'webhooks'], overrides: { dashboardUrl: BASE } });
  t = await createTenant(stack.url, 'formats');
  api = client(stack.url, { key: t.apiKey });
  for (const format of FORMATS) {
    receivers[format] = await formatReceiver(format);
    const res = await api.post('/api/webhooks', {
      projectId: t.projectId, url: receivers[format].url, format, events: ['run.failed', 'run.completed', 'threshold.breached'],
      thresholds: { passRate: 0.75 }, ...(format === 'pagerduty' ? { routingKey: ROUTING_KEY } : {}),
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ format, routingKey: format === 'pagerduty' ? ROUTING_KEY : null });
    hooks[format] = res.body.id;
  }
}, 120_000);

afterAll(async () => {
  for (const r of Object.values(receivers)) await r.close();
  await stack?.stop();
});

// A run with these results, finished.
async function run(statuses: string[]) {
  const id = (await api.post('/api/runs', runBody(t.projectId, { branch: 'main' }))).body.id as string;
  for (const [i, status] of statuses.entries()) {
    const extra = status === 'failed' ? { error: { message: `Error: expected 200, got 500 (${i})\n    at tests/api.spec.ts:${i}` } } : {};
    expect((await api.post('/api/tests', testBody(t.projectId, id, i + 1, { status, ...extra }))).status).toBe(201);
  }
  expect((await api.patch(`/api/runs/${id}`, { status: statuses.includes('failed') ? 'failed' : 'passed' })).status).toBe(200);
  return id;
}

describe('webhook delivery formats', () => {
  it('validates format and routingKey: pagerduty needs a 32-character key; others answer 400 with the error shape', async () => {
    const bad = [
      { format: 'pagerduty' }, { format: 'telegram' }, { format: 'pagerduty', routingKey: 'short' }, { routingKey: 42 },
    ];
    for (const b of bad) {
      const res = await api.post('/api/webhooks', { projectId: t.projectId, url: receivers.slack.url, ...b });
      expect(res.status, JSON.stringify(b)).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
    const off = await api.patch(`/api/webhooks/${hooks.pagerduty}`, { routingKey: null });
    expect(off.status).toBe(400);
    const view = await api.get(`/api/webhooks/${hooks.pagerduty}`);
    expect(view.body).toMatchObject({ format: 'pagerduty', routingKey: '****' });
  });

  it('POST /api/webhooks/:id/test sends a sample in the hook\'s format, signed, accepted by every receiver', async () => {
    for (const format of FORMATS) {
      const res = await api.post(`/api/webhooks/${hooks[format]}/test`, {});
      expect(res.status).toBe(200);
      expect(res.body, `${format}: ${JSON.stringify(receivers[format].got.at(-1)?.problems)}`).toMatchObject({ event: 'webhook.test', status: 'delivered' });
      const got = receivers[format].got.at(-1)!;
      expect(got.problems).toEqual([]);
      expect(got.headers['x-runledger-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(JSON.stringify(got.body)).toContain(format === 'pagerduty' ? 'Sample' : 'and 25 more');
    }
  });

  it('delivers a failed run (first failures, "and N more", dashboard link) and a threshold breach; pagerduty resolves the breach on recovery with the same dedup_key', async () => {
    await run(['passed', 'passed', 'passed', 'passed']);
    const failed = await run(Array.from({ length: 12 }, () => 'failed')); // 4 of 16 passed: below 0.75
    const delivered = (format: ChatFormat, pred: (b: any) => boolean) => receivers[format].got.find((g) => pred(g.body));
    for (const format of ['slack', 'teams', 'discord'] as const) {
      const g = await until(`${format}: the failed run`, () => delivered(format, (b) => JSON.stringify(b).includes(`/runs/${failed}`) && JSON.stringify(b).includes('Run failed')));
      expect(g.problems).toEqual([]);
      expect(JSON.stringify(g.body)).toContain('and 2 more'); // 10 listed of 12
      expect(JSON.stringify(g.body)).toContain('expected 200, got 500');
      await until(`${format}: the breach`, () => delivered(format, (b) => JSON.stringify(b).includes('Threshold breached')));
    }
    const trigger = await until('pagerduty: the breach', () => delivered('pagerduty', (b) => b.payload?.class === 'threshold.breached'));
    expect(trigger.problems).toEqual([]);
    expect(trigger.body).toMatchObject({ routing_key: ROUTING_KEY, event_action: 'trigger', payload: { severity: 'critical', source: `runledger/${t.projectId}` } });

    await run(Array.from({ length: 32 }, () => 'passed')); // 36 of 48: back to 0.75
    const resolve = await until('pagerduty: the recovery', () => receivers.pagerduty.got.find((g) => g.body.event_action === 'resolve' && g.body.dedup_key === trigger.body.dedup_key));
    expect(resolve.problems).toEqual([]);
    await until('slack: the recovery', () => delivered('slack', (b) => JSON.stringify(b).includes('Threshold recovered')));
    // every receiver accepted every body; the delivery log holds the formatted bodies
    for (const format of FORMATS) expect(receivers[format].got.flatMap((g) => g.problems), format).toEqual([]);
    // The sender marks the row delivered after the receiver answered: wait for that write.
    const logged = await until('the recovery delivery logged', async () => {
      const rows = (await stack.pool.query(`SELECT body, status FROM webhook_deliveries WHERE webhook_id = $1 AND event = 'threshold.recovered'`, [hooks.pagerduty])).rows;
      return rows.length > 0 && rows.every((r) => r.status !== 'pending') ? rows : undefined;
    });
    expect(logged.map((r) => [JSON.parse(r.body).event_action, r.status])).toEqual([['resolve', 'delivered']]);
  });
});
