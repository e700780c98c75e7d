import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';

// Live runs: the Server-Sent Events stream of a run and the long poll for CI.
type Api = ReturnType<typeof client>;
type Sse = { event: string; id: string | null; data: any; comment?: boolean };

let stack: TestStack;
let t: Tenant;
let other: Tenant;
let api: Api;

// Reads an SSE response until `stop` says so (or the server ends it).
async function readStream(path: string, headers: Record<string, string>, stop: (events: Sse[]) => boolean = (es) => es.some((e) => e.event === 'end')) {
  const ac = new AbortController();
  const res = await fetch(stack.url + path, { headers, signal: ac.signal });
  const events: Sse[] = [];
  if (res.status !== 200 || !res.body) return { status: res.status, body: await res.text(), events, contentType: res.headers.get('content-type') };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    while (!stop(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.startsWith(':')) {
          events.push({ event: 'comment', id: null, data: block, comment: true });
          continue;
        }
        const f = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]));
        if (f.event) events.push({ event: f.event, id: f.id ?? null, data: JSON.parse(f.data ?? 'null') });
      }
    }
  } finally {
    ac.abort();
  }
  return { status: res.status, body: '', events, contentType: res.headers.get('content-type') };
}

// A run the read model already shows.
async function newRun() {
  const id = (await api.post('/api/runs', runBody(t.projectId))).body.id as string;
  await stack.waitForProjections(['postgres']);
  return id;
}

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres'] });
  t = await createTenant(stack.url, 'live');
  other = await createTenant(stack.url, 'other');
  api = client(stack.url, { key: t.apiKey });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/runs/:id/stream', () => {
  it('streams every result of a run posted concurrently exactly once, in commit order, then counters and end', async () => {
    const runId = await newRun();
    const reading = readStream(`/api/runs/${runId}/stream`, { 'x-api-key': t.apiKey });
    const posted: string[] = [];
    // 4 writers at once, 15 results each, then the run finishes.
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 15; i++) {
        const res = await api.post('/api/tests', testBody(t.projectId, runId, w * 100 + i));
        expect(res.status).toBe(201);
        posted.push(res.body.id);
      }
    }));
    expect((await api.patch(`/api/runs/${runId}`, { status: 'passed' })).status).toBe(200);
    const { status, events, contentType } = await reading;
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/event-stream/);
    const tests = events.filter((e) => e.event === 'test');
    expect(tests.map((e) => e.data.id).sort()).toEqual([...posted].sort());
    const seqs = tests.map((e) => Number(e.id));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    // The order is the read model's: results by projection sequence.
    const db = (await stack.pool.query('SELECT id FROM tests WHERE run_id = $1 ORDER BY seq', [runId])).rows.map((r) => r.id);
    expect(tests.map((e) => e.data.id)).toEqual(db);
    const end = events.at(-1)!;
    expect(end.event).toBe('end');
    expect(end.data).toMatchObject({ id: runId, status: 'passed', totalTests: 60, passedTests: 60 });
    expect(events.filter((e) => e.event === 'status').map((e) => e.data.status).at(-1)).toBe('passed');
    expect(events.filter((e) => e.event === 'counters').at(-1)!.data.totalTests).toBe(60);
    // `end` comes after the last result.
    expect(events.findIndex((e) => e.event === 'end')).toBeGreaterThan(events.map((e) => e.event).lastIndexOf('test'));
  });

  it('resumes after Last-Event-ID with exactly the results after it; ?token= authenticates an EventSource', async () => {
    const runId = await newRun();
    for (let i = 0; i < 12; i++) expect((await api.post('/api/tests', testBody(t.projectId, runId, i))).status).toBe(201);
    await api.patch(`/api/runs/${runId}`, { status: 'failed' });
    const all = (await readStream(`/api/runs/${runId}/stream?token=${t.apiKey}`, {})).events.filter((e) => e.event === 'test');
    expect(all).toHaveLength(12);
    const resumed = await readStream(`/api/runs/${runId}/stream?token=${t.apiKey}`, { 'last-event-id': all[4]!.id! });
    expect(resumed.events.filter((e) => e.event === 'test').map((e) => e.data.id)).toEqual(all.slice(5).map((e) => e.data.id));
    expect(resumed.events.at(-1)!.data.status).toBe('failed');
  });

  it('sends heartbeats while nothing happens', async () => {
    const runId = await newRun();
    const { events } = await readStream(`/api/runs/${runId}/stream?heartbeat=1`, { 'x-api-key': t.apiKey }, (es) => es.some((e) => e.comment));
    expect(events.find((e) => e.comment)!.data).toBe(': heartbeat');
  });

  it('refuses bad input (400), no or a bad credential (401), another project (404), an unknown run (404)', async () => {
    const runId = await newRun();
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [`/api/runs/not-a-run/stream`, { 'x-api-key': t.apiKey }, 400, 'validation_error'],
      [`/api/runs/${runId}/stream?heartbeat=0`, { 'x-api-key': t.apiKey }, 400, 'validation_error'],
      [`/api/runs/${runId}/stream`, { 'x-api-key': t.apiKey, 'last-event-id': 'abc' }, 400, 'validation_error'],
      [`/api/runs/${runId}/stream`, {}, 401, 'invalid_auth'],
      [`/api/runs/${runId}/stream?token=rl_nope`, {}, 401, 'invalid_auth'],
      [`/api/runs/${runId}/stream?token=not.a.jwt`, {}, 401, 'invalid_auth'],
      [`/api/runs/${runId}/stream`, { 'x-api-key': other.apiKey }, 404, 'not_found'],
      [`/api/runs/${runId}/stream?token=${other.apiKey}`, {}, 404, 'not_found'],
      [`/api/runs/run_01ARZ3NDEKTSV4RRFFQ69G5FAV/stream`, { 'x-api-key': t.apiKey }, 404, 'not_found'],
    ];
    for (const [path, headers, status, code] of cases) {
      const r = await readStream(path, headers);
      expect(r.status, path).toBe(status);
      expect(JSON.parse(r.body).error.code, path).toBe(code);
    }
    // ?token= is for the stream only.
    expect((await fetch(`${stack.url}/api/runs/${runId}?token=${t.apiKey}`)).status).toBe(401);
  });
});

describe('GET /api/runs/:id?wait=true', () => {
  it('answers at the timeout with the run still running and no exit code', async () => {
    const runId = await newRun();
    const res = await api.get(`/api/runs/${runId}?wait=true&timeout=1`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: runId, status: 'running', timedOut: true, verdict: { finished: false, exitCode: null } });
  });

  it('returns as the run finishes, with a CI verdict; quarantined failures count unless ignoreQuarantined=true', async () => {
    const runId = await newRun();
    const failing = await api.post('/api/tests', testBody(t.projectId, runId, 1, { status: 'failed', error: { message: 'boom' } }));
    await api.post('/api/tests', testBody(t.projectId, runId, 2));
    const waiting = api.get(`/api/runs/${runId}?wait=true&waitFor=completed&timeout=60`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await api.patch(`/api/runs/${runId}`, { status: 'failed' })).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'failed', timedOut: false, verdict: { status: 'failed', exitCode: 1, failures: 1, quarantinedFailures: 0, totalTests: 2 } });

    const q = await api.post('/api/flakiness', { projectId: t.projectId, testId: failing.body.testCaseId, isQuarantined: true, reason: 'known flaky' });
    expect(q.status).toBe(200);
    await stack.waitForProjections(['postgres']);
    const strict = await api.get(`/api/runs/${runId}?wait=true`);
    expect(strict.body.verdict).toMatchObject({ status: 'failed', exitCode: 1, quarantinedFailures: 1 });
    const lenient = await api.get(`/api/runs/${runId}?wait=true&ignoreQuarantined=true`);
    expect(lenient.body.verdict).toMatchObject({ status: 'passed', exitCode: 0, quarantinedFailures: 1, ignoredQuarantined: true });
  });

  it('refuses bad input (400) and another project (404)', async () => {
    const runId = await newRun();
    for (const qs of ['wait=maybe', 'wait=true&timeout=0', 'wait=true&timeout=301', 'wait=true&waitFor=started', 'wait=true&ignoreQuarantined=x']) {
      const res = await api.get(`/api/runs/${runId}?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
    const theirs = await client(stack.url, { key: other.apiKey }).get(`/api/runs/${runId}?wait=true&timeout=1`);
    expect(theirs.status).toBe(404);
  });
});
