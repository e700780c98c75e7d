import { expect } from 'vitest';
import { client } from './http.ts';
import { form } from './artifacts.ts';
import { runBody, testBody } from './fixtures.ts';

// Data the dashboard's pages are made to show, ingested through the public API
// with a project's key: finished runs with failures (expected/actual, stack),
// flaky tests, nested steps and attachments.
export const SEED_TESTS = 24;
export const FAILING = 3; // fails in the last two runs: a new failure
export const FLAKY = 5; // passes on retry in every other run

export type SeededRun = { id: string; failingTestId: string };

export function seededTest(projectId: string, runId: string, i: number, runIndex: number) {
  const failing = i === FAILING && runIndex >= 2;
  const flaky = i === FLAKY && runIndex % 2 === 1;
  const error = failing
    ? {
        message: 'Error: expect(received).toEqual(expected)\n\nExpected: "Checkout complete"\nReceived: "Payment declined"',
        stack: 'Error: expect(received).toEqual(expected)\n    at tests/area-3.spec.ts:13:25\n    at runTest (node_modules/playwright/lib/worker.js:42:7)',
        expected: 'Order summary\nCheckout complete\nThank you',
        actual: 'Order summary\nPayment declined\nThank you',
      }
    : null;
  return testBody(projectId, runId, i, {
    status: failing ? 'failed' : flaky ? 'flaky' : 'passed',
    duration: 100 + i * 10 + runIndex * 7,
    ...(error ? { error } : {}),
    ...(flaky ? { retries: 1, attempt: 2, attempts: [{ attempt: 1, status: 'failed', duration: 90, error: { message: 'Timeout 5000ms exceeded' } }, { attempt: 2, status: 'passed', duration: 110 }] } : {}),
  });
}

export async function seedRuns(base: string, apiKey: string, projectId: string, runs: number, opts: { branch?: (i: number) => string; screenshot?: Buffer } = {}): Promise<SeededRun[]> {
  const api = client(base, { key: apiKey });
  const made: SeededRun[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await api.post('/api/runs', runBody(projectId, { branch: opts.branch?.(r) ?? 'main', commitSha: `c0ffee${r}0000`, runTitle: `Nightly #${r + 1}`, shardCurrent: 1, shardTotal: 1, ciBuildUrl: `https://ci.example.com/builds/${r + 1}` }));
    expect(run.status, run.text).toBe(201);
    const items = Array.from({ length: SEED_TESTS }, (_, i) => ({ type: 'test', ...seededTest(projectId, run.body.id, i, r) }));
    const batch = await api.post('/api/ingest/batch', items);
    expect(batch.status, batch.text).toBe(200);
    const failingTestId = batch.body.results?.[FAILING]?.id ?? batch.body.data?.[FAILING]?.id;
    const done = await api.patch(`/api/runs/${run.body.id}`, { status: r >= 2 ? 'failed' : 'passed' });
    expect(done.status, done.text).toBe(200);
    made.push({ id: run.body.id, failingTestId });
  }
  const last = made.at(-1)!;
  if (opts.screenshot && last.failingTestId) {
    for (const [type, file, name] of [['screenshot', opts.screenshot, 'failure.png'], ['trace', Buffer.from('PK\u0003\u0004trace'), 'trace.zip']] as const) {
      const res = await fetch(`${base}/api/upload`, {
        method: 'POST', headers: { 'x-api-key': apiKey },
        body: form([['type', type], ['runId', last.id], ['testId', last.failingTestId], ['projectId', projectId], ['file', file as Buffer]], name),
      });
      expect(res.status, await res.clone().text()).toBe(201);
    }
  }
  return made;
}
