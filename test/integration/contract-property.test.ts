import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { sql } from '../../lib/clickhouse.ts';
import { wellFormed } from '../../lib/text.ts';

// Property (issue 14 §1): every valid request, with hostile text and numbers at
// every bound, on every ingest route and the batch, is acknowledged, and what
// was acknowledged is readable in Postgres (through the API) and in ClickHouse,
// as sent after the text rule (NUL and lone surrogates → U+FFFD).
const SEED = 1414;
const RUNS = 40;
const INT32_MAX = 2 ** 31 - 1;

const hostileUnit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffe', '\uffff', '\u{1F600}', '\u{1F469}\u200D\u{1F4BB}', 'e\u0301', '\u0301', '\u202e', '\u200f', 'ש', '\u2028', '\\', '"', "'", '\n', '\t', '%00', '{x}', '?', '\\N') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom('a', 'Z', '0', ' ', '-', '/') },
);
// Up to `max` UTF-16 units (the schemas count units), hostile, often exactly at the bound.
const text = (max: number, min = 0) => fc.oneof(
  fc.array(hostileUnit, { minLength: min, maxLength: Math.min(max, 24) }).map((u) => u.join('')).filter((s) => s.length >= min && s.length <= max),
  fc.constantFrom('a', '\u0000', '\ud800', 'é', '\u{1F600}').map((u) => u.repeat(Math.floor(max / u.length))).filter((s) => s.length >= min),
);
const count = (max: number) => fc.oneof(fc.constantFrom(0, 1, max - 1, max), fc.integer({ min: 0, max }));
const when = fc.constantFrom('1970-01-01T00:00:00Z', '2105-12-31T23:59:59.999Z', '2024-02-29T12:00:00+14:00', '2024-02-29T12:00:00.123456-12:00', '2026-01-01T00:00:00Z');
const duration = fc.oneof(fc.constantFrom(0, 0.4, INT32_MAX, INT32_MAX - 0.6, 1.5), fc.double({ min: 0, max: INT32_MAX, noNaN: true }));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const runFields = fc.record({
  status: fc.constantFrom('running', 'passed', 'failed', 'cancelled'),
  branch: maybe(text(500)), commitSha: maybe(text(200)), commitMessage: maybe(text(10_000)), commitAuthor: maybe(text(500)),
  ciProvider: maybe(text(500)), ciBuildUrl: maybe(text(2000)), playwrightVersion: maybe(text(100)),
  workers: maybe(count(INT32_MAX)), browser: maybe(text(500)), os: maybe(text(500)), viewport: maybe(text(100)), hostname: maybe(text(500)),
  runTitle: maybe(text(2000)), tags: fc.array(text(200), { maxLength: 3 }), grepPatterns: fc.array(text(1000), { maxLength: 2 }),
});
const error = fc.record({ message: text(65_536), stack: maybe(text(5000)), expected: maybe(text(200)), actual: maybe(text(200)),
  location: maybe(fc.record({ file: text(2000), line: maybe(count(INT32_MAX)), column: maybe(count(INT32_MAX)) })) });
const testFields = fc.record({
  title: text(2000, 1), fullTitle: text(2000, 1), filePath: text(2000), variant: text(200),
  lineNumber: maybe(count(INT32_MAX)),
  status: fc.constantFrom('passed', 'failed', 'skipped', 'flaky', 'timedOut', 'interrupted'),
  duration, retries: count(65_535), attempt: count(65_535),
  tags: fc.array(text(200), { maxLength: 3 }),
  annotations: fc.array(fc.record({ type: text(200, 1), description: maybe(text(5000)) }), { maxLength: 2 }),
  error: maybe(error),
  steps: fc.array(fc.record({ title: text(2000, 1), duration, error: maybe(error) }), { maxLength: 2 }),
  attempts: fc.array(fc.record({ attempt: fc.integer({ min: 1, max: 100 }), status: fc.constantFrom('passed', 'failed'), duration, startedAt: maybe(when) }), { maxLength: 2 }),
  stdout: text(5000), stderr: text(5000), startedAt: maybe(when),
});
const suiteFields = fc.record({ title: text(2000, 1), filePath: maybe(text(2000)) });
const patchFields = fc.record({
  status: fc.constantFrom('passed', 'failed', 'cancelled'), totalTests: count(INT32_MAX), passedTests: count(INT32_MAX), duration: count(INT32_MAX),
});
const scenario = fc.record({ viaBatch: fc.boolean(), ndjson: fc.boolean(), run: runFields, suite: suiteFields, test: testFields, patch: patchFields });

type Written = { kind: 'run' | 'test'; id: string; sent: Record<string, unknown>; position: string };

describe(`${RUNS} generated valid requests with hostile text and bound numbers (seed ${SEED})`, () => {
  let stack: TestStack;
  let a: Tenant;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    a = await createTenant(stack.url, 'property');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('acknowledges every one, and each acknowledged run and test is readable in Postgres and ClickHouse as sent', async () => {
    const api = client(stack.url, { key: a.apiKey });
    const written: Written[] = [];
    const acked = (res: Res, what: string) => {
      expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBeLessThan(300);
      return res.headers.get('x-runledger-position')!;
    };
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const run = { projectId: a.projectId, ...s.run };
      const test = { projectId: a.projectId, ...s.test };
      if (s.viaBatch) {
        const items = [
          { type: 'run', ref: 'r', ...run },
          { type: 'suite', runRef: 'r', ref: 's', ...s.suite },
          { type: 'test', runRef: 'r', suiteRef: 's', ...test },
          { type: 'run-update', runRef: 'r', ...s.patch },
        ];
        const res = s.ndjson
          ? await request(stack.url, 'POST', '/api/ingest/batch', { key: a.apiKey, headers: { 'content-type': 'application/x-ndjson' }, raw: items.map((i) => JSON.stringify(i)).join('\n') })
          : await api.post('/api/ingest/batch', items);
        const position = acked(res, 'batch');
        const rejected = res.body.results.filter((r: { status: string }) => r.status !== 'accepted');
        expect(rejected, JSON.stringify(rejected).slice(0, 500)).toEqual([]);
        written.push({ kind: 'run', id: res.body.results[0].id, sent: run, position }, { kind: 'test', id: res.body.results[2].id, sent: test, position });
      } else {
        const r = await api.post('/api/runs', run);
        const runPos = acked(r, 'POST /api/runs');
        const suite = await api.post('/api/test-suites', { runId: r.body.id, projectId: a.projectId, ...s.suite });
        acked(suite, 'POST /api/test-suites');
        const t = await api.post('/api/tests', { ...test, runId: r.body.id, suiteId: suite.body.id });
        const testPos = acked(t, 'POST /api/tests');
        acked(await api.patch(`/api/runs/${r.body.id}`, s.patch), 'PATCH /api/runs/:id');
        written.push({ kind: 'run', id: r.body.id, sent: run, position: runPos }, { kind: 'test', id: t.body.id, sent: test, position: testPos });
      }
    }), { seed: SEED, numRuns: RUNS, endOnFailure: true });

    // Postgres, through the API (read-your-writes: the position of the write)
    const text = (v: unknown) => (typeof v === 'string' ? wellFormed(v) : v);
    const missing: string[] = [];
    for (const w of written) {
      const res = await api.get(w.kind === 'run' ? `/api/runs/${w.id}` : `/api/tests/${w.id}`, { 'x-runledger-position': w.position });
      if (res.status !== 200) {
        missing.push(`${w.kind} ${w.id}: ${res.status}`);
        continue;
      }
      const fields = w.kind === 'run'
        ? ['branch', 'commitSha', 'commitMessage', 'commitAuthor', 'ciProvider', 'ciBuildUrl', 'playwrightVersion', 'workers', 'browser', 'os', 'viewport', 'hostname', 'runTitle']
        : ['title', 'fullTitle', 'filePath', 'variant', 'lineNumber', 'retries', 'attempt', 'stdout', 'stderr'];
      for (const f of fields) {
        const want = text(w.sent[f] ?? (w.kind === 'run' ? null : undefined));
        if (want !== undefined && res.body[f] !== want) missing.push(`${w.kind} ${w.id}.${f}: ${JSON.stringify(res.body[f])?.slice(0, 80)} ≠ ${JSON.stringify(want).slice(0, 80)}`);
      }
      if (w.kind === 'test') {
        if (res.body.duration !== Math.round(w.sent.duration as number)) missing.push(`test ${w.id}.duration`);
        expect(res.body.tags).toEqual((w.sent.tags as string[]).map(wellFormed));
        const err = w.sent.error as { message: string } | undefined;
        if (err && res.body.error?.message !== wellFormed(err.message)) missing.push(`test ${w.id}.error.message`);
      }
    }
    expect(missing).toEqual([]);

    // ClickHouse, in its tables
    const tests = written.filter((w) => w.kind === 'test');
    const runs = written.filter((w) => w.kind === 'run');
    const deadline = Date.now() + 30_000;
    let chTests: Array<{ test_id: string; title: string; full_title: string; file_path: string; variant: string; duration_ms: number; retries: number }> = [];
    let chRuns: Array<{ run_id: string; branch: string; commit_sha: string; run_title: string }> = [];
    while (Date.now() < deadline) {
      chTests = await stack.ch.select(`SELECT test_id, title, full_title, file_path, variant, duration_ms, retries FROM test_results_v1 FINAL WHERE test_id IN (${tests.map((w) => sql.str(w.id)).join(',')})`);
      chRuns = await stack.ch.select(`SELECT run_id, branch, commit_sha, run_title FROM runs_v1 FINAL WHERE event_type = 'run.created' AND run_id IN (${runs.map((w) => sql.str(w.id)).join(',')})`);
      if (chTests.length >= tests.length && chRuns.length >= runs.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const byId = new Map(chTests.map((r) => [r.test_id, r]));
    for (const w of tests) {
      const row = byId.get(w.id);
      expect(row, `test ${w.id} in ClickHouse`).toBeDefined();
      expect(row).toEqual({
        test_id: w.id, title: text(w.sent.title), full_title: text(w.sent.fullTitle), file_path: text(w.sent.filePath), variant: text(w.sent.variant),
        duration_ms: Math.round(w.sent.duration as number), retries: w.sent.retries,
      });
    }
    const runById = new Map(chRuns.map((r) => [r.run_id, r]));
    for (const w of runs) {
      expect(runById.get(w.id), `run ${w.id} in ClickHouse`).toEqual({
        run_id: w.id, branch: text(w.sent.branch ?? ''), commit_sha: text(w.sent.commitSha ?? ''), run_title: text(w.sent.runTitle ?? ''),
      });
    }
  }, 120_000);
});
