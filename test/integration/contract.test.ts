import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { sql } from '../../lib/clickhouse.ts';
import { newId } from '../../schemas/ids.ts';

// Issue 14 §1 and §4: whatever ingest acknowledges, every projector applies;
// the one text rule (docs/errors.md); strict management bodies.
const FFFD = '\uFFFD';

describe('one contract from request to every store', () => {
  let stack: TestStack;
  let a: Tenant;
  let b: Tenant;
  let api: ReturnType<typeof client>;
  let admin: ReturnType<typeof client>;
  let runA: string;
  let runB: string;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    a = await createTenant(stack.url, 'contract a');
    b = await createTenant(stack.url, 'contract b');
    api = client(stack.url, { key: a.apiKey });
    admin = client(stack.url, { token: a.token });
    runA = (await api.post('/api/runs', runBody(a.projectId))).body.id;
    runB = (await client(stack.url, { key: b.apiKey }).post('/api/runs', runBody(b.projectId))).body.id;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const position = (res: { headers: Headers }) => ({ 'x-runledger-position': res.headers.get('x-runledger-position')! });
  async function chRows<T>(query: string, want: number): Promise<T[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await stack.ch.select<T>(query);
      if (rows.length >= want || Date.now() > deadline) return rows;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  describe('text: NUL and lone surrogates become U+FFFD, in every store', () => {
    it('keeps a run whose branch, commitSha and title hold a lone surrogate, in Postgres and ClickHouse', async () => {
      const res = await api.post('/api/runs', runBody(a.projectId, { branch: 'fuzz\ud800x', commitSha: 'abc\udfff', runTitle: 'nul\u0000 and \ud83d' }));
      expect(res.status, res.text).toBe(201);
      expect(res.body.branch).toBe(`fuzz${FFFD}x`);
      const read = await api.get(`/api/runs/${res.body.id}`, position(res));
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ branch: `fuzz${FFFD}x`, commitSha: `abc${FFFD}`, runTitle: `nul${FFFD} and ${FFFD}` });
      const rows = await chRows<{ branch: string; commit_sha: string; run_title: string }>(
        `SELECT branch, commit_sha, run_title FROM runs_v1 WHERE run_id = ${sql.str(res.body.id)}`, 1);
      expect(rows[0]).toEqual({ branch: `fuzz${FFFD}x`, commit_sha: `abc${FFFD}`, run_title: `nul${FFFD} and ${FFFD}` });
    });

    it('keeps a test result whose error, tags, annotations, stdout and steps hold NUL and lone surrogates', async () => {
      const res = await api.post('/api/tests', testBody(a.projectId, runA, 1, {
        title: 'title\ud800', status: 'failed', error: { message: 'fuzz\ud800x', stack: 'at\u0000here' }, tags: ['@t\udc00'],
        annotations: [{ type: 'issue\u0000', description: '\udbff' }], stdout: 'binary\u0000output', steps: [{ title: 'click\u0000' }],
      }));
      expect(res.status, res.text).toBe(201);
      const read = await api.get(`/api/tests/${res.body.id}`, position(res));
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        title: `title${FFFD}`, error: { message: `fuzz${FFFD}x`, stack: `at${FFFD}here` }, tags: [`@t${FFFD}`],
        annotations: [{ type: `issue${FFFD}`, description: FFFD }], stdout: `binary${FFFD}output`,
      });
      expect((await api.get(`/api/tests/${res.body.id}/steps`)).body.data[0].title).toBe(`click${FFFD}`);
      const rows = await chRows<{ title: string; error_message: string }>(
        `SELECT title, error_message FROM test_results_v1 WHERE test_id = ${sql.str(res.body.id)}`, 1);
      expect(rows[0]).toEqual({ title: `title${FFFD}`, error_message: `fuzz${FFFD}x` });
    });

    it('keeps NUL and lone surrogates in a batch item and an NDJSON line alike', async () => {
      const item = { type: 'test', ...testBody(a.projectId, runA, 2, { title: 'batch\ud800' }) };
      const json = await api.post('/api/ingest/batch', [item]);
      expect(json.body.results[0].status, json.text).toBe('accepted');
      const nd = await request(stack.url, 'POST', '/api/ingest/batch', {
        key: a.apiKey, headers: { 'content-type': 'application/x-ndjson' },
        raw: `${JSON.stringify({ type: 'test', ...testBody(a.projectId, runA, 3, { title: 'nd\u0000' }) })}\n`,
      });
      expect(nd.body.results[0].status, nd.text).toBe('accepted');
      expect((await api.get(`/api/tests/${json.body.results[0].id}`, position(json))).body.title).toBe(`batch${FFFD}`);
      expect((await api.get(`/api/tests/${nd.body.results[0].id}`, position(nd))).body.title).toBe(`nd${FFFD}`);
    });

    it('replaces NUL in a query string rather than refusing it', async () => {
      const res = await api.get('/api/runs?branch=main%00');
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toEqual([]);
    });

    it('replaces NUL and lone surrogates in management bodies too (a team name)', async () => {
      const res = await admin.post('/api/teams', { name: 'QA\u0000\ud800' });
      expect(res.status, res.text).toBe(201);
      expect(res.body.name).toBe(`QA${FFFD}${FFFD}`);
    });
  });

  describe('numbers and instants: the request bounds are the event bounds', () => {
    it('refuses a duration of 2^31 ms with 400 naming it, and keeps one of 2^31 - 1 in both stores', async () => {
      const over = await api.post('/api/tests', testBody(a.projectId, runA, 4, { duration: 2 ** 31 }));
      expect(over.status).toBe(400);
      expect(over.body.error.details.field).toBe('duration');
      const max = await api.post('/api/tests', testBody(a.projectId, runA, 5, { duration: 2 ** 31 - 1, retries: 65_535, attempt: 65_535, lineNumber: 2 ** 31 - 1 }));
      expect(max.status, max.text).toBe(201);
      expect((await api.get(`/api/tests/${max.body.id}`, position(max))).body).toMatchObject({ duration: 2 ** 31 - 1, retries: 65_535, lineNumber: 2 ** 31 - 1 });
      const rows = await chRows<{ duration_ms: number; retries: number }>(`SELECT duration_ms, retries FROM test_results_v1 WHERE test_id = ${sql.str(max.body.id)}`, 1);
      expect(rows[0]).toEqual({ duration_ms: 2 ** 31 - 1, retries: 65_535 });
    });

    it('refuses retries and attempt beyond what ClickHouse keeps (UInt16)', async () => {
      for (const field of ['retries', 'attempt']) {
        const res = await api.post('/api/tests', testBody(a.projectId, runA, 6, { [field]: 65_536 }));
        expect(res.status).toBe(400);
        expect(res.body.error.details.field).toBe(field);
      }
    });

    it('refuses an instant before 1970 or from 2106 on (ClickHouse DateTime), and year 0 (Postgres)', async () => {
      for (const startedAt of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2106-01-01T00:00:00Z']) {
        const res = await api.post('/api/tests', testBody(a.projectId, runA, 7, { startedAt }));
        expect(res.status, startedAt).toBe(400);
        expect(res.body.error.details.field).toBe('startedAt');
      }
    });
  });

  describe('suites', () => {
    it('refuses a suiteId that is no suite of the run, and a parentSuiteId of another run', async () => {
      const unknown = await api.post('/api/tests', testBody(a.projectId, runA, 8, { suiteId: newId('suite') }));
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details.field).toBe('suiteId');
      const otherRun = (await api.post('/api/runs', runBody(a.projectId))).body.id;
      const suite = await api.post('/api/test-suites', { runId: otherRun, projectId: a.projectId, title: 'Elsewhere', filePath: 'x.spec.ts' });
      expect(suite.status).toBe(201);
      const wrongRun = await api.post('/api/tests', testBody(a.projectId, runA, 9, { suiteId: suite.body.id }));
      expect(wrongRun.status).toBe(400);
      const child = await api.post('/api/test-suites', { runId: runA, projectId: a.projectId, title: 'Child', parentSuiteId: suite.body.id });
      expect(child.status).toBe(400);
      expect(child.body.error.details.field).toBe('parentSuiteId');
      const foreign = await client(stack.url, { key: b.apiKey }).post('/api/test-suites', { runId: runB, projectId: b.projectId, title: 'B' });
      const foreignSuite = await api.post('/api/tests', testBody(a.projectId, runA, 10, { suiteId: foreign.body.id }));
      expect(foreignSuite.status).toBe(400);
      const own = await api.post('/api/test-suites', { runId: runA, projectId: a.projectId, title: 'Own', filePath: 'o.spec.ts' });
      expect((await api.post('/api/tests', testBody(a.projectId, runA, 11, { suiteId: own.body.id }))).status).toBe(201);
      expect((await api.post('/api/test-suites', { runId: runA, projectId: a.projectId, title: 'Kid', parentSuiteId: own.body.id })).status).toBe(201);
    });

    it('counts suites reported earlier in the same batch, by ref and by id', async () => {
      const suiteId = (await api.post('/api/test-suites', { runId: runA, projectId: a.projectId, title: 'Probe', filePath: 'p.spec.ts' })).body.id as string;
      const noRun = (i: number) => {
        const { runId: _, ...body } = testBody(a.projectId, '', i);
        return body;
      };
      const res = await api.post('/api/ingest/batch', [
        { type: 'run', ref: 'r', ...runBody(a.projectId) },
        { type: 'suite', runRef: 'r', ref: 's', title: 'Root', filePath: 'b.spec.ts' },
        { type: 'suite', runRef: 'r', parentSuiteRef: 's', ref: 'c', title: 'Child', filePath: 'b.spec.ts' },
        { type: 'test', runRef: 'r', suiteRef: 'c', ...noRun(12) },
        { type: 'test', ...testBody(a.projectId, runA, 13, { suiteId }) },
        { type: 'test', runRef: 'r', suiteId, ...noRun(14) },
      ]);
      expect(res.status, res.text).toBe(200);
      const codes = res.body.results.map((r: { status: string; error?: { details: { field: string } } }) => r.status === 'accepted' ? 'ok' : r.error!.details.field);
      expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'suiteId']);
    });
  });

  describe('reads', () => {
    it("answers GET /api/tests?runId=<another project's run> with 404, like /api/artifacts", async () => {
      const tests = await api.get(`/api/tests?runId=${runB}`);
      expect(tests.status).toBe(404);
      expect(tests.body.error.code).toBe('not_found');
      expect((await api.get(`/api/artifacts?runId=${runB}`)).status).toBe(404);
      expect((await api.get(`/api/tests?runId=${runA}`)).status).toBe(200);
    });
  });

  describe('strict management bodies', () => {
    it('refuses an unknown field with 400 naming it, on every management body', async () => {
      const projectId = a.projectId;
      const team = (await admin.post('/api/teams', { name: 'strict' })).body.id;
      const hook = (await admin.post('/api/webhooks', { projectId, url: 'http://127.0.0.1:9/x' })).body.id;
      const cases: Array<[string, string, Record<string, unknown>]> = [
        ['POST', '/api/teams', { name: 'x' }],
        ['PATCH', `/api/teams/${team}`, { name: 'y' }],
        ['POST', '/api/projects', { name: 'p', teamId: team }],
        ['PATCH', `/api/projects/${projectId}`, { name: 'p2' }],
        ['PATCH', `/api/projects/${projectId}/settings`, { dataRetentionDays: 30 }],
        ['POST', '/api/api-keys', { projectId, name: 'k' }],
        ['POST', '/api/webhooks', { projectId, url: 'http://127.0.0.1:9/x' }],
        ['PATCH', `/api/webhooks/${hook}`, { isActive: false }],
        ['POST', '/api/schedules', { projectId, cron: '0 9 * * 1' }],
        ['POST', '/api/team-members', { teamId: team, email: 'x@example.com', role: 'member' }],
        ['POST', '/api/auth/users', { email: 'new@example.com', password: 'a long enough passphrase' }],
        ['POST', '/api/auth/change-password', { currentPassword: 'correct horse battery staple', newPassword: 'another long passphrase' }],
        ['POST', '/api/auth/login', { email: 'admin@example.com', password: 'correct horse battery staple' }],
        ['POST', '/api/flakiness', { testId: `tc_${'A'.repeat(26)}`, projectId, isQuarantined: true }],
        ['PATCH', '/api/auth/me', { name: 'Ada' }],
        ['POST', '/api/auth/tokens', { name: 'laptop', scope: 'read' }],
      ];
      const failures: string[] = [];
      for (const [method, path, body] of cases) {
        const res = await request(stack.url, method, path, { token: a.token, body: { ...body, colour: 'blue' } });
        if (res.status !== 400 || res.body.error.details.field !== 'colour') failures.push(`${method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
      }
      expect(failures).toEqual([]);
    });

    it('never widens a key: `scopes` is taken as `scope`, the widest listed, and a conflict is a 400', async () => {
      const make = (extra: Record<string, unknown>) => admin.post('/api/api-keys', { projectId: a.projectId, name: 'scoped', ...extra });
      expect((await make({ scopes: ['read'] })).body.scope).toBe('read');
      expect((await make({ scopes: ['test:create'] })).body.scope).toBe('ingest');
      expect((await make({ scopes: ['read', 'ingest'] })).body.scope).toBe('ingest');
      expect((await make({ scope: 'read', scopes: ['read'] })).body.scope).toBe('read');
      const conflict = await make({ scope: 'full', scopes: ['read'] });
      expect(conflict.status).toBe(400);
      expect(conflict.body.error.details.field).toBe('scopes');
      expect((await make({ scopes: ['admin'] })).status).toBe(400);
      expect((await make({ scopes: [] })).status).toBe(400);
      // a read key cannot write
      const key = (await make({ scopes: ['read'] })).body.key;
      expect((await client(stack.url, { key }).post('/api/runs', runBody(a.projectId))).status).toBe(403);
    });
  });

  describe('webhook headers', () => {
    it('refuses header values with non-ASCII, control characters or a lone surrogate, and bad names, on create and patch', async () => {
      const base = { projectId: a.projectId, url: 'http://127.0.0.1:9/hook' };
      const hook = (await admin.post('/api/webhooks', base)).body.id;
      for (const headers of [{ 'x-a': 'caf€' }, { 'x-a': 'a\u0001b' }, { 'x-a': 'a\ud800' }, { 'x-a': 'tab\there' }, { 'x-a': 'del\u007f' }, { 'bad name': 'v' }, { 'x\ud800': 'v' }, { 'x-é': 'v' }]) {
        const created = await admin.post('/api/webhooks', { ...base, headers });
        expect(created.status, JSON.stringify(headers)).toBe(400);
        expect(created.body.error.details.field).toMatch(/^headers/);
        const patched = await admin.patch(`/api/webhooks/${hook}`, { headers });
        expect(patched.status, JSON.stringify(headers)).toBe(400);
      }
      expect((await admin.post('/api/webhooks', { ...base, headers: { 'X-Token': 'abc def ~!' } })).status).toBe(201);
    });

    it('refuses cloud metadata targets although this stack allows private ones (RUNLEDGER_WEBHOOK_ALLOW_PRIVATE=1)', async () => {
      expect(stack.config.webhooks.allowPrivate).toBe(true);
      expect((await admin.post('/api/webhooks', { projectId: a.projectId, url: 'http://127.0.0.1:9/ok' })).status).toBe(201);
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://100.100.100.200/', 'http://[::ffff:a9fe:a9fe]/']) {
        const res = await admin.post('/api/webhooks', { projectId: a.projectId, url });
        expect(res.status, url).toBe(400);
        expect(res.text, url).toMatch(/metadata/);
      }
    });

    it('records a failed test delivery, not a 500, for a stored header Node cannot send', async () => {
      const hook = (await admin.post('/api/webhooks', { projectId: a.projectId, url: 'http://127.0.0.1:9/hook' })).body.id;
      // as a hook stored before header values were checked
      await stack.pool.query(`UPDATE webhooks SET headers = '{"x-a": "caf€"}'::jsonb WHERE id = $1`, [hook]);
      const res = await admin.post(`/api/webhooks/${hook}/test`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe('failed');
      expect(res.body.error).toMatch(/refused/);
    });
  });
});
