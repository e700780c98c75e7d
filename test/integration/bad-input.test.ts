import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken, createTenant, type Tenant } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { newId } from '../../schemas/ids.ts';
import { sql } from '../../lib/clickhouse.ts';
import type { ErrorCode } from '../../lib/errors.ts';
import { ErrorBody } from '../../schemas/api.ts';

// Bad input on every route gets a 4xx with the error shape and appends no
// event; another project's credentials get 404, never the data; text is
// stored and read back byte for byte, whatever it looks like.

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' }; // as in support/tenants.ts
const SECRET = 'secret-of-tenant-a'; // in tenant A's stored data only: must never appear in an error
const MiB = 1024 * 1024;
const BODY_LIMIT = 5 * MiB;
const JSON_TYPE = { 'content-type': 'application/json' };

let stack: TestStack;
// Events in the log after the last write a test made on purpose.
let baseline = 0;
const settle = async () => {
  baseline = await stack.topicEnd();
};

// ---- fixtures: tenant A with a run, a suite and a test; tenant B with a run
type Fixtures = {
  a: Tenant; b: Tenant; aReadKey: string; runDeleted: string;
  runA: string; suiteA: string; testA: string; caseA: string; runB: string;
};
let F: Fixtures;
let fixtures: Promise<Fixtures> | undefined;

async function ensureFixtures(): Promise<Fixtures> {
  fixtures ??= (async () => {
    const a = await createTenant(stack.url, 'a');
    const b = await createTenant(stack.url, 'b');
    const admin = client(stack.url, { token: a.token });
    const readKey = await admin.post('/api/api-keys', { projectId: a.projectId, name: 'a read key', scope: 'read' });
    expect(readKey.status).toBe(201);
    const apiA = client(stack.url, { key: a.apiKey });
    const run = await apiA.post('/api/runs', runBody(a.projectId, { commitMessage: SECRET, runTitle: SECRET }));
    expect(run.status).toBe(201);
    const suite = await apiA.post('/api/test-suites', { runId: run.body.id, projectId: a.projectId, title: SECRET, filePath: 'tests/a.spec.ts' });
    expect(suite.status).toBe(201);
    const test = await apiA.post('/api/tests', testBody(a.projectId, run.body.id, 1, {
      title: `${SECRET} title`, fullTitle: `${SECRET} > full title`, suiteId: suite.body.id,
      status: 'failed', error: { message: SECRET },
    }));
    expect(test.status).toBe(201);
    const runB = await client(stack.url, { key: b.apiKey }).post('/api/runs', runBody(b.projectId));
    const gone = await apiA.post('/api/runs', runBody(a.projectId));
    expect((await apiA.del(`/api/runs/${gone.body.id}`)).status).toBe(200);
    expect(runB.status).toBe(201);
    await stack.waitForProjections();
    return {
      a, b, aReadKey: readKey.body.key as string, runDeleted: gone.body.id as string,
      runA: run.body.id, suiteA: suite.body.id, testA: test.body.id, caseA: test.body.testCaseId, runB: runB.body.id,
    };
  })();
  F = await fixtures;
  return F;
}

// ---- requests
type As = 'a' | 'b' | 'aRead' | 'aUser' | 'none' | { key: string } | { token: string };
type Call = { method: string; path: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; as?: As };

function credentials(as: As): Record<string, string> {
  if (as === 'none') return {};
  if (as === 'a') return { 'x-api-key': F.a.apiKey };
  if (as === 'b') return { 'x-api-key': F.b.apiKey };
  if (as === 'aRead') return { 'x-api-key': F.aReadKey };
  if (as === 'aUser') return { authorization: `Bearer ${F.a.token}` };
  if ('key' in as) return { 'x-api-key': as.key };
  return { authorization: `Bearer ${as.token}` };
}

function send(c: Call): Promise<Res> {
  const headers = { ...credentials(c.as ?? 'a'), ...(c.headers ?? {}) };
  return request(stack.url, c.method, c.path, { body: c.body, raw: c.raw, headers });
}

// A body sent with Transfer-Encoding: chunked, i.e. without a Content-Length.
function sendChunked(method: string, path: string, headers: Record<string, string>, totalBytes: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(stack.url + path, { method, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answered = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, body, headers: h, text });
      });
    });
    // The server may answer and stop reading before the whole body went out.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    req.write('{"pad":"');
    const pump = (sent: number) => {
      while (sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', () => pump(sent));
          return;
        }
      }
      req.end('"}');
    };
    pump(0);
  });
}

// ---- assertions
function expectError(res: Res, status: number, code: string, field?: string | RegExp) {
  const seen = `${res.status} ${res.text.slice(0, 400)}`;
  expect(res.status, seen).toBe(status);
  expect(res.headers.get('content-type') ?? '', seen).toMatch(/^application\/json/);
  expect(ErrorBody.safeParse(res.body).success, seen).toBe(true);
  expect(Object.keys(res.body), seen).toEqual(['error']);
  expect(Object.keys(res.body.error).sort(), seen).toEqual(['code', 'details', 'message']);
  expect(res.body.error.code, seen).toBe(code);
  expect(res.body.error.message.length, seen).toBeGreaterThan(0);
  expect(Array.isArray(res.body.error.details), seen).toBe(false);
  if (field !== undefined) {
    if (typeof field === 'string') expect(res.body.error.details.field, seen).toBe(field);
    else expect(res.body.error.details.field, seen).toMatch(field);
  }
  // Errors never carry another project's data, nor internals.
  expect(res.text).not.toContain(SECRET);
  expect(res.text).not.toMatch(/\n\s+at \S+/);
}

type Bad = { name: string; status: number; code: ErrorCode; field?: string | RegExp; call: () => Call; chunked?: boolean };
const bad = (name: string, status: number, code: ErrorCode, call: () => Call, field?: string | RegExp): Bad =>
  ({ name: `${name} → ${status} ${code}`, status, code, field, call });

// Runs a table of rejected requests: each answers its 4xx and leaves the log as it was.
function rejects(cases: Bad[]) {
  for (const c of cases) it(c.name, async () => {
    const call = c.call();
    const res = c.chunked
      ? await sendChunked(call.method, call.path, { ...JSON_TYPE, ...credentials(call.as ?? 'a') }, BODY_LIMIT + MiB)
      : await send(call);
    // Moves the baseline on whatever happened, so one wrongly accepted request
    // fails its own case only.
    const before = baseline;
    await settle();
    expectError(res, c.status, c.code, c.field);
    expect(baseline, 'no event is appended').toBe(before);
  });
}

// ---- values
const omit = (o: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedSteps = (depth: number): string => {
  let s = '[]';
  for (let i = 0; i < depth; i++) s = `[{"title":"level ${depth - i}","steps":${s}}]`;
  return s;
};
// A valid JSON body whose `field` holds raw JSON text (for values JSON.stringify cannot make).
const withRaw = (body: Record<string, unknown>, field: string, rawJson: string) =>
  JSON.stringify({ ...body, [field]: '@@RAW@@' }).replace('"@@RAW@@"', rawJson);
const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const unknownKey = () => `rl_${'A1b2C3d4'.repeat(5)}`;

// Ids that are not in our prefixed format, for a route that wants a `kind` id.
function malformedIds(valid: () => string): Array<[string, () => string]> {
  return [
    ['a free-form word', () => 'latest'],
    ["Euriqa's sample format", () => `${valid().split('_')[0]}_abc123`],
    ['an id of another kind', () => newId('suite')],
    ['a lower-cased id', () => valid().toLowerCase()],
    ['a body with letters outside Crockford base32', () => `${valid().split('_')[0]}_${'U'.repeat(26)}`],
    ['a SQL injection string', () => "'; DROP TABLE runs; --"],
    ['an id with a NUL in it', () => `${valid()}\u0000`],
    ['a 5,000-character id', () => `${valid()}${'A'.repeat(5000)}`],
  ];
}
const inPath = (id: string) => encodeURIComponent(id);

// ---- the write routes
type WriteRoute = {
  label: string; method: 'POST' | 'PATCH'; path: () => string; body: () => Record<string, unknown>;
  // a field of the body to nest 10,000 arrays deep, and the field the error names
  deep: { field: string; reported: string };
  // the route's own malformed-JSON-number case
  bigNumberField: string;
};

const ROUTES: Record<'runs' | 'patch' | 'tests' | 'suites', WriteRoute> = {
  runs: {
    label: 'POST /api/runs', method: 'POST', path: () => '/api/runs', body: () => runBody(F.a.projectId),
    deep: { field: 'tags', reported: 'tags.0' }, bigNumberField: 'workers',
  },
  patch: {
    label: 'PATCH /api/runs/:id', method: 'PATCH', path: () => `/api/runs/${F.runA}`, body: () => ({ status: 'failed', totalTests: 1 }),
    deep: { field: 'status', reported: 'status' }, bigNumberField: 'duration',
  },
  tests: {
    label: 'POST /api/tests', method: 'POST', path: () => '/api/tests', body: () => testBody(F.a.projectId, F.runA, 2),
    deep: { field: 'steps', reported: 'steps.0' }, bigNumberField: 'duration',
  },
  suites: {
    label: 'POST /api/test-suites', method: 'POST', path: () => '/api/test-suites',
    body: () => ({ runId: F.runA, projectId: F.a.projectId, title: 'Checkout', filePath: 'tests/checkout.spec.ts' }),
    deep: { field: 'title', reported: 'title' }, bigNumberField: 'title',
  },
};

// What every write route must refuse the same way: broken JSON, other media
// types, oversized or over-deep bodies, missing or wrong credentials.
function transportAndAuthCases(r: WriteRoute): Bad[] {
  const raw = (text: string | Buffer | (() => string | Buffer), headers: Record<string, string> = JSON_TYPE, as?: As) =>
    () => ({ method: r.method, path: r.path(), raw: typeof text === 'function' ? text() : text, headers, as });
  const valid = (headers: Record<string, string>, as?: As) => () => ({ method: r.method, path: r.path(), raw: JSON.stringify(r.body()), headers, as });
  // A valid body grown with an unknown field to exactly `bytes` bytes.
  const padded = (bytes: number) => {
    const body = r.body();
    const base = JSON.stringify({ ...body, pad: '' }).length;
    return JSON.stringify({ ...body, pad: 'x'.repeat(bytes - base) });
  };
  return [
    // malformed JSON
    bad('with an unterminated JSON object', 400, 'invalid_json', raw('{"status": ')),
    bad('with a trailing comma', 400, 'invalid_json', raw('{"status":"failed",}')),
    bad('with single-quoted JSON', 400, 'invalid_json', raw("{'status':'failed'}")),
    bad('with a bare JSON string', 400, 'invalid_json', raw('"failed"')),
    bad('with JSON null', 400, 'invalid_json', raw('null')),
    bad('with invalid UTF-8 in a string', 400, 'invalid_json', raw(() => Buffer.concat([Buffer.from(JSON.stringify(r.body()).slice(0, -1) + ',"x":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}')]))),
    bad('with an overlong UTF-8 encoding of "/"', 400, 'invalid_json', raw(() => Buffer.concat([Buffer.from(JSON.stringify(r.body()).slice(0, -1) + ',"x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]))),
    bad('with a __proto__ key', 400, 'invalid_json', raw('{"__proto__":{"isAdmin":true},"status":"failed"}')),
    bad('with a JSON array instead of an object', 400, 'validation_error', raw('[]')),
    bad('with an empty JSON body', 400, 'validation_error', raw('')),
    bad(`with ${r.bigNumberField} = 1e400 (not a finite number)`, 400, 'validation_error',
      () => ({ method: r.method, path: r.path(), raw: withRaw(r.body(), r.bigNumberField, '1e400'), headers: JSON_TYPE }), r.bigNumberField),
    bad(`with ${r.deep.field} nested 10,000 arrays deep`, 400, 'validation_error',
      () => ({ method: r.method, path: r.path(), raw: withRaw(r.body(), r.deep.field, nestedArrays(10_000)), headers: JSON_TYPE }), r.deep.reported),
    // other media types
    bad('sent as text/plain', 415, 'unsupported_media_type', valid({ 'content-type': 'text/plain' })),
    bad('sent as a form', 415, 'unsupported_media_type', valid({ 'content-type': 'application/x-www-form-urlencoded' })),
    bad('sent as XML', 415, 'unsupported_media_type', valid({ 'content-type': 'application/xml' })),
    bad('sent as multipart', 415, 'unsupported_media_type', valid({ 'content-type': 'multipart/form-data; boundary=x' })),
    bad('sent with a body but no Content-Type', 415, 'unsupported_media_type', () => ({ method: r.method, path: r.path(), raw: Buffer.from(JSON.stringify(r.body())) })),
    bad('sent with an unknown Content-Encoding', 415, 'unsupported_media_type', valid({ ...JSON_TYPE, 'content-encoding': 'x-bogus' })),
    bad('sent as gzip that is not gzip', 400, 'invalid_json', valid({ ...JSON_TYPE, 'content-encoding': 'gzip' })),
    // size
    bad('with a body one byte over the 5 MiB limit', 413, 'payload_too_large', raw(() => padded(BODY_LIMIT + 1))),
    bad('with a gzip body that inflates past the limit', 413, 'payload_too_large',
      raw(() => gzipSync(Buffer.from(padded(BODY_LIMIT + MiB))), { ...JSON_TYPE, 'content-encoding': 'gzip' })),
    { ...bad('with a chunked body (no Content-Length) over the limit', 413, 'payload_too_large', () => ({ method: r.method, path: r.path() })), chunked: true },
    // credentials
    bad('without a credential', 401, 'invalid_auth', valid(JSON_TYPE, 'none')),
    bad('with an unknown API key', 401, 'invalid_auth', valid(JSON_TYPE, { key: unknownKey() })),
    bad('with an API key that is an injection string', 401, 'invalid_auth', valid(JSON_TYPE, { key: "' OR 1=1 --" })),
    bad('with a 500-character API key', 401, 'invalid_auth', valid(JSON_TYPE, { key: `rl_${'a'.repeat(497)}` })),
    bad('with a Basic Authorization header', 401, 'invalid_auth', valid({ ...JSON_TYPE, authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, 'none')),
    bad('with a Bearer scheme and no token', 401, 'invalid_auth', valid({ ...JSON_TYPE, authorization: 'Bearer' }, 'none')),
    bad('with two tokens in the Authorization header', 401, 'invalid_auth', valid({ ...JSON_TYPE, authorization: 'Bearer a.b.c d.e.f' }, 'none')),
    bad('with a Bearer token that is not a JWT', 401, 'invalid_auth', valid(JSON_TYPE, { token: 'not-a-jwt' })),
    bad('with an unknown key in an ApiKey Authorization header', 401, 'invalid_auth', valid({ ...JSON_TYPE, authorization: `ApiKey ${unknownKey()}` }, 'none')),
    bad('with a read-only key of the same project', 403, 'insufficient_scope', valid(JSON_TYPE, 'aRead')),
  ];
}

// Body-field cases: `patch` is merged into the route's valid body (or replaces it).
const field = (r: WriteRoute, name: string, patch: Record<string, unknown> | (() => Record<string, unknown>), reported: string | RegExp, as?: As, replace = false) =>
  bad(name, 400, 'validation_error', () => {
    const p = typeof patch === 'function' ? patch() : patch;
    return { method: r.method, path: r.path(), body: replace ? p : { ...r.body(), ...p }, as };
  }, reported);
const without = (r: WriteRoute, key: string) =>
  bad(`without ${key}`, 400, 'validation_error', () => ({ method: r.method, path: r.path(), body: omit(r.body(), key) }), key);
const notFound = (name: string, r: WriteRoute, body: () => Record<string, unknown>, as: As = 'a', path?: () => string) =>
  bad(name, 404, 'not_found', () => ({ method: r.method, path: (path ?? r.path)(), body: body(), as }));

const RUN_CASES: Bad[] = (() => {
  const r = ROUTES.runs;
  return [
    without(r, 'projectId'),
    without(r, 'status'),
    field(r, 'with an empty object', {}, 'projectId', 'a', true),
    field(r, 'with projectId as a number', { projectId: 42 }, 'projectId'),
    field(r, 'with status as a boolean', { status: true }, 'status'),
    field(r, 'with workers as a string', { workers: '4' }, 'workers'),
    field(r, 'with tags as a string', { tags: 'smoke' }, 'tags'),
    field(r, 'with a number among the tags', { tags: ['smoke', 7] }, 'tags.1'),
    field(r, 'with branch as an object', { branch: {} }, 'branch'),
    field(r, 'with commitMessage as an array', { commitMessage: ['x'] }, 'commitMessage'),
    field(r, 'with negative workers', { workers: -1 }, 'workers'),
    field(r, 'with a fractional shardCurrent', { shardCurrent: 1.5 }, 'shardCurrent'),
    field(r, 'with shardTotal beyond 32 bits', { shardTotal: 2 ** 31 }, 'shardTotal'),
    field(r, 'with an unknown status', { status: 'done' }, 'status'),
    field(r, 'with a differently cased status', { status: 'Passed' }, 'status'),
    field(r, 'with an empty status', { status: '' }, 'status'),
    field(r, "with a projectId in Euriqa's sample format", { projectId: 'proj_abc123' }, 'projectId'),
    field(r, 'with a run id as projectId', () => ({ projectId: newId('run') }), 'projectId'),
    field(r, 'with a lower-cased projectId', () => ({ projectId: F.a.projectId.toLowerCase() }), 'projectId'),
    field(r, 'with an injection string as projectId', { projectId: "proj_' OR 1=1 --" }, 'projectId'),
    field(r, 'with a branch over 500 characters', { branch: 'b'.repeat(501) }, 'branch'),
    field(r, 'with a commitSha over 200 characters', { commitSha: 'a'.repeat(201) }, 'commitSha'),
    field(r, 'with a commitMessage over 10,000 characters', { commitMessage: 'm'.repeat(10_001) }, 'commitMessage'),
    field(r, 'with a runTitle over 2,000 characters', { runTitle: 't'.repeat(2001) }, 'runTitle'),
    field(r, 'with a ciBuildUrl over 2,000 characters', { ciBuildUrl: `https://ci.example.com/${'x'.repeat(2000)}` }, 'ciBuildUrl'),
    field(r, 'with a tag over 200 characters', { tags: ['t'.repeat(201)] }, 'tags.0'),
    field(r, 'with 101 tags', { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'tags'),
    field(r, 'with 101 grep patterns', { grepPatterns: Array.from({ length: 101 }, (_, i) => `@g${i}`) }, 'grepPatterns'),
    notFound('for an unknown projectId', r, () => runBody(newId('project'))),
    notFound("with another project's projectId", r, () => runBody(F.b.projectId)),
    notFound("from another project, for this project's projectId", r, () => runBody(F.a.projectId), 'b'),
  ];
})();

const PATCH_CASES: Bad[] = (() => {
  const r = ROUTES.patch;
  const at = (id: () => string) => () => `/api/runs/${inPath(id())}`;
  return [
    ...malformedIds(() => F.runA).map(([name, id]) =>
      bad(`for ${name} as the run id`, 400, 'validation_error', () => ({ method: 'PATCH', path: at(id)(), body: r.body() }))),
    bad('with a malformed percent-encoding in the run id', 400, 'validation_error', () => ({ method: 'PATCH', path: '/api/runs/run_%E0%A4%A', body: r.body() })),
    field(r, 'with an empty object', {}, '', 'a', true),
    field(r, 'with only unknown fields', { foo: 1, bar: 'x' }, '', 'a', true),
    field(r, 'with an unknown status', { status: 'done' }, 'status'),
    field(r, 'with status null', { status: null }, 'status'),
    field(r, 'with negative totalTests', { totalTests: -1 }, 'totalTests'),
    field(r, 'with failedTests as a string', { failedTests: '3' }, 'failedTests'),
    field(r, 'with passedTests beyond 32 bits', { passedTests: 2 ** 31 }, 'passedTests'),
    field(r, 'with a fractional duration', { duration: 1.5 }, 'duration'),
    field(r, 'with a negative duration', { duration: -1 }, 'duration'),
    notFound('for an unknown run id', r, () => r.body(), 'a', () => `/api/runs/${newId('run')}`),
    notFound("for another project's run", r, () => r.body(), 'b'),
    notFound("for another project's run, with its own key", r, () => r.body(), 'a', () => `/api/runs/${F.runB}`),
  ];
})();

const TEST_CASES: Bad[] = (() => {
  const r = ROUTES.tests;
  const step = (extra: Record<string, unknown>) => ({ steps: [{ title: 'click', category: 'action', status: 'passed', duration: 1, ...extra }] });
  return [
    ...['runId', 'projectId', 'title', 'fullTitle', 'status', 'duration'].map((k) => without(r, k)),
    field(r, 'with duration as a string', { duration: '100' }, 'duration'),
    field(r, 'with isFlaky as a string', { isFlaky: 'true' }, 'isFlaky'),
    field(r, 'with title as a number', { title: 5 }, 'title'),
    field(r, 'with lineNumber as a string', { lineNumber: '15' }, 'lineNumber'),
    field(r, 'with steps as an object', { steps: {} }, 'steps'),
    field(r, 'with error as a string', { error: 'boom' }, 'error'),
    field(r, 'with annotations as a string', { annotations: 'slow' }, 'annotations'),
    field(r, 'with stdout as a number', { stdout: 5 }, 'stdout'),
    field(r, 'with attempts as an object', { attempts: {} }, 'attempts'),
    field(r, 'with a null tag', { tags: [null] }, 'tags.0'),
    field(r, 'with a negative duration', { duration: -1 }, 'duration'),
    field(r, 'with a duration over 31 days', { duration: 31 * 24 * 3600 * 1000 + 1 }, 'duration'),
    field(r, 'with negative retries', { retries: -1 }, 'retries'),
    field(r, 'with retries beyond 32 bits', { retries: 2 ** 31 }, 'retries'),
    field(r, 'with a fractional lineNumber', { lineNumber: 1.5 }, 'lineNumber'),
    field(r, 'with attempt number 0', { attempts: [{ attempt: 0, status: 'failed' }] }, 'attempts.0.attempt'),
    field(r, 'with attempt number 101', { attempts: [{ attempt: 101, status: 'failed' }] }, 'attempts.0.attempt'),
    field(r, 'with a differently cased status', { status: 'PASSED' }, 'status'),
    field(r, 'with an unknown status', { status: 'ok' }, 'status'),
    field(r, 'with an unknown step category', step({ category: 'bogus' }), 'steps.0.category'),
    field(r, 'with a step status tests cannot have', step({ status: 'flaky' }), 'steps.0.status'),
    field(r, 'with an unknown attempt status', { attempts: [{ attempt: 1, status: 'bogus' }] }, 'attempts.0.status'),
    field(r, 'with a malformed runId', { runId: 'run_abc' }, 'runId'),
    field(r, 'with a malformed projectId', { projectId: 'proj_abc123' }, 'projectId'),
    field(r, 'with a malformed suiteId', { suiteId: 'suite_1' }, 'suiteId'),
    field(r, 'with a test id as suiteId', () => ({ suiteId: newId('test') }), 'suiteId'),
    field(r, 'with an empty title', { title: '' }, 'title'),
    field(r, 'with a title over 2,000 characters', { title: 't'.repeat(2001) }, 'title'),
    field(r, 'with a fullTitle over 2,000 characters', { fullTitle: 'f'.repeat(2001) }, 'fullTitle'),
    field(r, 'with a filePath over 2,000 characters', { filePath: `${'d/'.repeat(1000)}x.ts` }, 'filePath'),
    field(r, 'with a variant over 200 characters', { variant: 'v'.repeat(201) }, 'variant'),
    field(r, 'with stdout over 1 MiB', { stdout: 'o'.repeat(MiB + 1) }, 'stdout'),
    field(r, 'with stderr over 1 MiB', { stderr: 'e'.repeat(MiB + 1) }, 'stderr'),
    field(r, 'with an error message over 64 KiB', { error: { message: 'm'.repeat(65_537) } }, 'error.message'),
    field(r, 'with 101 tags', { tags: Array.from({ length: 101 }, (_, i) => `@t${i}`) }, 'tags'),
    field(r, 'with 101 annotations', { annotations: Array.from({ length: 101 }, () => ({ type: 'slow' })) }, 'annotations'),
    field(r, 'with an annotation of empty type', { annotations: [{ type: '' }] }, 'annotations.0.type'),
    field(r, 'with 1,001 steps', { steps: Array.from({ length: 1001 }, (_, i) => ({ title: `s${i}` })) }, 'steps'),
    field(r, 'with a step of empty title', step({ title: '' }), 'steps.0.title'),
    bad('with steps nested 9 levels deep (one past the maximum)', 400, 'validation_error',
      () => ({ method: 'POST', path: '/api/tests', raw: withRaw(r.body(), 'steps', nestedSteps(9)), headers: JSON_TYPE }), /^steps\.0(\.steps\.0){7}\.steps/),
    bad('with steps nested 10,000 levels deep', 400, 'validation_error',
      () => ({ method: 'POST', path: '/api/tests', raw: withRaw(r.body(), 'steps', nestedSteps(10_000)), headers: JSON_TYPE }), /^steps\.0(\.steps\.0){7}\.steps/),
    bad('with an error nested 10,000 arrays deep', 400, 'validation_error',
      () => ({ method: 'POST', path: '/api/tests', raw: withRaw(r.body(), 'error', nestedArrays(10_000)), headers: JSON_TYPE }), 'error'),
    notFound('for an unknown run id', r, () => testBody(F.a.projectId, newId('run'), 3)),
    notFound("for another project's run, with its own projectId", r, () => testBody(F.a.projectId, F.runB, 3)),
    notFound("for another project's run and projectId", r, () => testBody(F.b.projectId, F.runB, 3)),
    notFound("from another project, for this project's run", r, () => testBody(F.a.projectId, F.runA, 3), 'b'),
    notFound("from another project, for this project's run with its own projectId", r, () => testBody(F.b.projectId, F.runA, 3), 'b'),
  ];
})();

const SUITE_CASES: Bad[] = (() => {
  const r = ROUTES.suites;
  return [
    ...['runId', 'projectId', 'title'].map((k) => without(r, k)),
    field(r, 'with an empty title', { title: '' }, 'title'),
    field(r, 'with a title over 2,000 characters', { title: 's'.repeat(2001) }, 'title'),
    field(r, 'with a filePath over 2,000 characters', { filePath: 'p'.repeat(2001) }, 'filePath'),
    field(r, 'with title as a number', { title: 42 }, 'title'),
    field(r, 'with filePath as an array', { filePath: ['a.ts'] }, 'filePath'),
    field(r, 'with a malformed runId', { runId: 'run_xyz789' }, 'runId'),
    field(r, 'with a malformed projectId', { projectId: 'project-1' }, 'projectId'),
    field(r, 'with a malformed parentSuiteId', { parentSuiteId: "suite_' OR 1=1 --" }, 'parentSuiteId'),
    notFound('for an unknown run id', r, () => ({ ...r.body(), runId: newId('run') })),
    notFound("for another project's run, with its own projectId", r, () => ({ ...r.body(), runId: F.runB })),
    notFound("for another project's run and projectId", r, () => ({ ...r.body(), runId: F.runB, projectId: F.b.projectId })),
    notFound("from another project, for this project's run", r, () => r.body(), 'b'),
    notFound("from another project, for this project's run with its own projectId", r, () => ({ ...r.body(), projectId: F.b.projectId }), 'b'),
  ];
})();


// PATCH and friends on a run that was deleted: gone for every write.
const DELETED_RUN_CASES: Bad[] = [
  bad('PATCH /api/runs/:id of a deleted run', 404, 'not_found', () => ({ method: 'PATCH', path: `/api/runs/${F.runDeleted}`, body: { status: 'passed' } })),
  bad('DELETE /api/runs/:id of a deleted run', 404, 'not_found', () => ({ method: 'DELETE', path: `/api/runs/${F.runDeleted}` })),
  bad('POST /api/tests for a deleted run', 404, 'not_found', () => ({ method: 'POST', path: '/api/tests', body: testBody(F.a.projectId, F.runDeleted, 1) })),
  bad('POST /api/test-suites for a deleted run', 404, 'not_found', () => ({ method: 'POST', path: '/api/test-suites', body: { runId: F.runDeleted, projectId: F.a.projectId, title: 'S' } })),
];

const DELETE_CASES: Bad[] = [
  ...malformedIds(() => F.runA).map(([name, id]) =>
    bad(`for ${name} as the run id`, 400, 'validation_error', () => ({ method: 'DELETE', path: `/api/runs/${inPath(id())}` }))),
  bad('for an unknown run id', 404, 'not_found', () => ({ method: 'DELETE', path: `/api/runs/${newId('run')}` })),
  bad("for another project's run", 404, 'not_found', () => ({ method: 'DELETE', path: `/api/runs/${F.runB}` })),
  bad("from another project, for this project's run", 404, 'not_found', () => ({ method: 'DELETE', path: `/api/runs/${F.runA}`, as: 'b' })),
  bad('with a read-only key', 403, 'insufficient_scope', () => ({ method: 'DELETE', path: `/api/runs/${F.runA}`, as: 'aRead' })),
  bad('without a credential', 401, 'invalid_auth', () => ({ method: 'DELETE', path: `/api/runs/${F.runA}`, as: 'none' })),
];

const BATCH_LIMIT = 16 * MiB;
const batchRaw = (text: string | Buffer | (() => string | Buffer), headers: Record<string, string> = JSON_TYPE, as?: As) =>
  () => ({ method: 'POST', path: '/api/ingest/batch', raw: typeof text === 'function' ? text() : text, headers, as });
const validBatch = () => JSON.stringify([{ type: 'test', ...testBody(F.a.projectId, F.runA, 9) }]);
const BATCH_CASES: Bad[] = [
  bad('with an unterminated JSON array', 400, 'invalid_json', batchRaw('[{"type":"test"')),
  bad('with a trailing comma', 400, 'invalid_json', batchRaw(() => `${validBatch().slice(0, -1)},]`)),
  bad('with JSON null', 400, 'invalid_json', batchRaw('null')),
  bad('with a JSON object instead of an array', 400, 'validation_error', batchRaw(() => JSON.stringify({ items: JSON.parse(validBatch()) }))),
  bad('with an empty array', 400, 'validation_error', batchRaw('[]')),
  bad('with an object nested 10,000 deep', 400, 'validation_error', batchRaw(`{"a":${nestedArrays(10_000)}}`)),
  bad('with invalid UTF-8', 400, 'invalid_json', batchRaw(() => Buffer.concat([Buffer.from('[{"type":"test","title":"'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('"}]')]))),
  bad('with invalid UTF-8 in NDJSON', 400, 'invalid_json', batchRaw(() => Buffer.concat([Buffer.from('{"type":"test","title":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]), { 'content-type': 'application/x-ndjson' })),
  bad('with 100,000 items', 413, 'payload_too_large', batchRaw(() => JSON.stringify(Array.from({ length: 100_000 }, () => ({ type: 'test' }))))),
  bad('with 100,000 NDJSON lines', 413, 'payload_too_large', batchRaw(() => '{"type":"test"}\n'.repeat(100_000), { 'content-type': 'application/x-ndjson' })),
  bad('with a body one byte over the 16 MiB batch limit', 413, 'payload_too_large', batchRaw(() => `[${' '.repeat(BATCH_LIMIT - 1)}]`)),
  bad('sent as text/plain', 415, 'unsupported_media_type', batchRaw(validBatch, { 'content-type': 'text/plain' })),
  bad('sent as multipart', 415, 'unsupported_media_type', batchRaw(validBatch, { 'content-type': 'multipart/form-data; boundary=x' })),
  bad('without a credential', 401, 'invalid_auth', batchRaw(validBatch, JSON_TYPE, 'none')),
  bad('with a read-only key', 403, 'insufficient_scope', batchRaw(validBatch, JSON_TYPE, 'aRead')),
  bad('with an Idempotency-Key of 257 characters', 400, 'idempotency_error', batchRaw(validBatch, { ...JSON_TYPE, 'idempotency-key': 'k'.repeat(257) })),
];

// A multipart body by hand (so the tests control every byte).
function multipart(parts: Array<{ name: string; value: string | Buffer; fileName?: string }>, boundary = 'runledgerboundary'): { raw: Buffer; headers: Record<string, string> } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.fileName ? `; filename="${p.fileName}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.fileName ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`));
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { raw: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
const PNG_BYTES = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('rest of the image')]);
const uploadOf = (fields: () => Record<string, string>, file: Buffer | null = PNG_BYTES, as?: As) => () => {
  const parts = Object.entries(fields()).map(([name, value]) => ({ name, value }));
  const m = multipart(file ? [...parts, { name: 'file', value: file, fileName: 'shot.png' }] : parts);
  return { method: 'POST', path: '/api/upload', raw: m.raw, headers: m.headers, as };
};
const uploadFields = (extra: Record<string, string> = {}) => () => ({ type: 'screenshot', runId: F.runA, projectId: F.a.projectId, ...extra });
const UPLOAD_CASES: Bad[] = [
  bad('without a credential', 401, 'invalid_auth', uploadOf(uploadFields(), PNG_BYTES, 'none')),
  bad('with a read-only key', 403, 'insufficient_scope', uploadOf(uploadFields(), PNG_BYTES, 'aRead')),
  bad('sent as JSON', 415, 'unsupported_media_type', () => ({ method: 'POST', path: '/api/upload', body: uploadFields()() })),
  bad('without a file', 400, 'validation_error', uploadOf(uploadFields(), null), 'file'),
  bad('without a type', 400, 'validation_error', uploadOf(() => ({ runId: F.runA, projectId: F.a.projectId })), 'type'),
  bad('with a ZIP named shot.png as a screenshot', 400, 'validation_error', uploadOf(uploadFields(), Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(40)])), 'file'),
  bad('with a malformed runId', 400, 'validation_error', uploadOf(uploadFields({ runId: 'run_abc' })), 'runId'),
  bad('with a NUL in a field', 400, 'validation_error', uploadOf(uploadFields({ runId: `${'x'}\u0000` })), 'runId'),
  bad('for an unknown run', 404, 'not_found', uploadOf(() => ({ ...uploadFields()(), runId: newId('run') }))),
  bad("for another project's run", 404, 'not_found', uploadOf(() => ({ ...uploadFields()(), runId: F.runB }))),
  bad("from another project, for this project's run", 404, 'not_found', uploadOf(uploadFields(), PNG_BYTES, 'b')),
  bad('for a deleted run', 404, 'not_found', uploadOf(() => ({ ...uploadFields()(), runId: F.runDeleted }))),
  bad('for a test id that does not exist', 404, 'not_found', uploadOf(() => ({ ...uploadFields()(), testId: newId('test') }))),
  bad('with a body that is not multipart at all', 400, 'validation_error', () => ({ method: 'POST', path: '/api/upload', raw: 'garbage', headers: { 'content-type': 'multipart/form-data; boundary=zz' } })),
];

// ---- the read routes
const get = (name: string, status: number, code: ErrorCode, path: () => string, as: As = 'a', fieldName?: string | RegExp) =>
  bad(name, status, code, () => ({ method: 'GET', path: path(), as }), fieldName);

const PAGINATION: Array<[string, string, string]> = [
  ['limit=-1', 'limit=-1', 'limit'],
  ['limit=abc', 'limit=abc', 'limit'],
  ['limit=0', 'limit=0', 'limit'],
  ['limit=501', 'limit=501', 'limit'],
  ['limit=1.5', 'limit=1.5', 'limit'],
  ['limit=Infinity', 'limit=Infinity', 'limit'],
  ['limit given twice', 'limit=1&limit=2', 'limit'],
  ['offset=-1', 'offset=-1', 'offset'],
  ['offset=abc', 'offset=abc', 'offset'],
];

function idRouteCases(path: (id: string) => string, valid: () => string, unknown: Array<[string, () => string]>): Bad[] {
  return [
    ...malformedIds(valid).map(([name, id]) => get(`for ${name} as the id`, 400, 'validation_error', () => path(inPath(id())))),
    ...unknown.map(([name, id]) => get(`for an unknown ${name}`, 404, 'not_found', () => path(id()))),
  ];
}

const READ_CASES: Record<string, Bad[]> = {
  'GET /api/runs': [
    ...PAGINATION.map(([name, q, f]) => get(`with ${name}`, 400, 'validation_error', () => `/api/runs?${q}`, 'a', f)),
    get('with status=bogus', 400, 'validation_error', () => '/api/runs?status=bogus', 'a', 'status'),
    get('with status given twice', 400, 'validation_error', () => '/api/runs?status=passed&status=failed', 'a', 'status'),
    get('with a malformed projectId', 400, 'validation_error', () => '/api/runs?projectId=proj_abc123', 'a', 'projectId'),
    get('with a branch over 500 characters', 400, 'validation_error', () => `/api/runs?branch=${'b'.repeat(501)}`, 'a', 'branch'),
    get('for a user without projectId', 400, 'validation_error', () => '/api/runs', 'aUser', 'projectId'),
    get('for an unknown project', 404, 'not_found', () => `/api/runs?projectId=${newId('project')}`),
    get("with another project's projectId", 404, 'not_found', () => `/api/runs?projectId=${F.a.projectId}`, 'b'),
    get('without a credential', 401, 'invalid_auth', () => `/api/runs?projectId=${F.a.projectId}`, 'none'),
    get('with an unknown API key', 401, 'invalid_auth', () => '/api/runs', { key: unknownKey() }),
  ],
  'GET /api/runs/:id': [
    ...idRouteCases((id) => `/api/runs/${id}`, () => F.runA, [['run id', () => newId('run')]]),
    get("for another project's run", 404, 'not_found', () => `/api/runs/${F.runA}`, 'b'),
    get('without a credential', 401, 'invalid_auth', () => `/api/runs/${F.runA}`, 'none'),
  ],
  'GET /api/tests': [
    ...PAGINATION.map(([name, q, f]) => get(`with ${name}`, 400, 'validation_error', () => `/api/tests?${q}`, 'a', f)),
    get('with status=bogus', 400, 'validation_error', () => '/api/tests?status=bogus', 'a', 'status'),
    get('with status=PASSED', 400, 'validation_error', () => '/api/tests?status=PASSED', 'a', 'status'),
    get('with a malformed runId', 400, 'validation_error', () => `/api/tests?runId=${inPath("run_' OR 1=1 --")}`, 'a', 'runId'),
    get('with a malformed projectId', 400, 'validation_error', () => '/api/tests?projectId=abc', 'a', 'projectId'),
    get('with a search over 500 characters', 400, 'validation_error', () => `/api/tests?search=${'s'.repeat(501)}`, 'a', 'search'),
    get('for a user without projectId', 400, 'validation_error', () => '/api/tests', 'aUser', 'projectId'),
    get("with another project's projectId", 404, 'not_found', () => `/api/tests?projectId=${F.a.projectId}&runId=${F.runA}`, 'b'),
    get('without a credential', 401, 'invalid_auth', () => '/api/tests', 'none'),
  ],
  ...Object.fromEntries(['', '/steps', '/history'].map((suffix) => [`GET /api/tests/:id${suffix}`, [
    ...idRouteCases((id) => `/api/tests/${id}${suffix}`, () => F.testA, [['test id', () => newId('test')], ['test case id', () => `tc_${'Z'.repeat(26)}`]]),
    get("for another project's test id", 404, 'not_found', () => `/api/tests/${F.testA}${suffix}`, 'b'),
    get("for another project's test case id", 404, 'not_found', () => `/api/tests/${F.caseA}${suffix}`, 'b'),
    get('without a credential', 401, 'invalid_auth', () => `/api/tests/${F.testA}${suffix}`, 'none'),
  ]])),
  'GET /api/tests/:id/history (query)': [
    ...PAGINATION.filter(([n]) => n !== 'limit=Infinity').map(([name, q, f]) =>
      get(`with ${name}`, 400, 'validation_error', () => `/api/tests/${F.testA}/history?${q}`, 'a', f)),
    get('with offset over 100,000', 400, 'validation_error', () => `/api/tests/${F.testA}/history?offset=100001`, 'a', 'offset'),
    get('with a branch over 500 characters', 400, 'validation_error', () => `/api/tests/${F.testA}/history?branch=${'b'.repeat(501)}`, 'a', 'branch'),
  ],
  'GET /api/test-suites': [
    get('without runId', 400, 'validation_error', () => '/api/test-suites', 'a', 'runId'),
    get('with a malformed runId', 400, 'validation_error', () => '/api/test-suites?runId=run_1', 'a', 'runId'),
    get('with a malformed projectId', 400, 'validation_error', () => `/api/test-suites?runId=${F.runA}&projectId=1`, 'a', 'projectId'),
    get('for an unknown run', 404, 'not_found', () => `/api/test-suites?runId=${newId('run')}`),
    get("for another project's run", 404, 'not_found', () => `/api/test-suites?runId=${F.runA}`, 'b'),
    get("for another project's run with its own projectId", 404, 'not_found', () => `/api/test-suites?runId=${F.runA}&projectId=${F.b.projectId}`, 'b'),
    get("for this project's run under another projectId", 404, 'not_found', () => `/api/test-suites?runId=${F.runA}&projectId=${F.b.projectId}`),
    get('without a credential', 401, 'invalid_auth', () => `/api/test-suites?runId=${F.runA}`, 'none'),
  ],
};

// ---- teams, projects, API keys (users only)
const post = (name: string, status: number, code: ErrorCode, path: string, body: () => unknown, as: As = 'aUser', fieldName?: string) =>
  bad(name, status, code, () => ({ method: 'POST', path, body: body(), as }), fieldName);

const ACCOUNT_CASES: Record<string, Bad[]> = {
  'POST /api/teams': [
    post('without name', 400, 'validation_error', '/api/teams', () => ({}), 'aUser', 'name'),
    post('with an empty name', 400, 'validation_error', '/api/teams', () => ({ name: '' }), 'aUser', 'name'),
    post('with a blank name', 400, 'validation_error', '/api/teams', () => ({ name: '   ' }), 'aUser', 'name'),
    post('with a name over 200 characters', 400, 'validation_error', '/api/teams', () => ({ name: 'n'.repeat(201) }), 'aUser', 'name'),
    post('with a numeric name', 400, 'validation_error', '/api/teams', () => ({ name: 42 }), 'aUser', 'name'),
    bad('with malformed JSON', 400, 'invalid_json', () => ({ method: 'POST', path: '/api/teams', raw: '{"name":', headers: JSON_TYPE, as: 'aUser' })),
    bad('sent as text/plain', 415, 'unsupported_media_type', () => ({ method: 'POST', path: '/api/teams', raw: '{"name":"x"}', headers: { 'content-type': 'text/plain' }, as: 'aUser' })),
    post('with an API key', 403, 'insufficient_scope', '/api/teams', () => ({ name: 'QA' }), 'a'),
    post('without a credential', 401, 'invalid_auth', '/api/teams', () => ({ name: 'QA' }), 'none'),
  ],
  'POST /api/projects': [
    post('with a malformed teamId', 400, 'validation_error', '/api/projects', () => ({ name: 'p', teamId: 'team_1' }), 'aUser', 'teamId'),
    post('with an empty name', 400, 'validation_error', '/api/projects', () => ({ name: '', teamId: F.a.teamId }), 'aUser', 'name'),
    post('for an unknown team', 404, 'not_found', '/api/projects', () => ({ name: 'p', teamId: newId('team') })),
    post('with an API key', 403, 'insufficient_scope', '/api/projects', () => ({ name: 'p', teamId: F.a.teamId }), 'a'),
    post('without a credential', 401, 'invalid_auth', '/api/projects', () => ({ name: 'p', teamId: F.a.teamId }), 'none'),
  ],
  'POST /api/api-keys': [
    post('with a malformed projectId', 400, 'validation_error', '/api/api-keys', () => ({ projectId: 'proj_1', name: 'k' }), 'aUser', 'projectId'),
    post('with an unknown scope', 400, 'validation_error', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k', scope: 'root' }), 'aUser', 'scope'),
    post('with expiresAt in the past', 400, 'validation_error', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k', expiresAt: '2000-01-01T00:00:00Z' }), 'aUser', 'expiresAt'),
    post('with expiresAt not a date', 400, 'validation_error', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k', expiresAt: 'tomorrow' }), 'aUser', 'expiresAt'),
    post('with an empty name', 400, 'validation_error', '/api/api-keys', () => ({ projectId: F.a.projectId, name: '' }), 'aUser', 'name'),
    post('for an unknown project', 404, 'not_found', '/api/api-keys', () => ({ projectId: newId('project'), name: 'k' })),
    post('with an API key', 403, 'insufficient_scope', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k' }), 'a'),
    // another project's resources are 404, whoever asks (docs/access.md)
    post('with another project\'s API key', 404, 'not_found', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k' }), 'b'),
    post('without a credential', 401, 'invalid_auth', '/api/api-keys', () => ({ projectId: F.a.projectId, name: 'k' }), 'none'),
  ],
  'unknown routes and methods': [
    get('GET on an unknown path', 404, 'not_found', () => '/api/nope'),
    // The run exists (GET and PATCH serve it), so the method is what is wrong (RFC 9110 §15.5.6).
    bad('PUT on a run', 405, 'method_not_allowed' as ErrorCode, () => ({ method: 'PUT', path: `/api/runs/${F.runA}`, body: { status: 'failed' } })),
    bad('POST on /health', 405, 'method_not_allowed' as ErrorCode, () => ({ method: 'POST', path: '/health', body: {} })),
  ],
};

// ---- strings stored literally
const INJECTIONS: Array<[string, string]> = [
  ['a statement terminator', "'; DROP TABLE runs; --"],
  ['a backslash-escaped quote', "\\' OR 1=1 --"],
  ['a ClickHouse UNION', "' UNION SELECT * FROM system.tables --"],
  ['a lone backslash', '\\'],
  ['LIKE wildcards', '%_'],
  ['control characters', 'a\nb\tc\r\u0001\u001f\u007f\b\f'],
  ['emoji and non-ASCII text', '😀 👩‍💻 ünïcödé 日本語 \u2028\u2029'],
  ['double quotes and comments', '" OR ""=" /* */ -- #'],
  ['Postgres dollar quoting', '$$; DELETE FROM tests; $$ $1 ::text'],
  ['ClickHouse escape sequences', "\\N \\0 \\x00 \\\\' \\t {x} ?"],
  ['a JSON operator object', '{"$ne": null, "$where": "1"}'],
];
// 100 KB made of every payload, for the fields that take that much.
const BIG = (() => {
  const unit = `${INJECTIONS.map(([, v]) => v).join('|')}\n`;
  return unit.repeat(Math.ceil(100_000 / unit.length));
})();

// ======================================================================

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  await settle();
});

afterAll(async () => {
  await stack?.stop();
});

describe('auth bootstrap', () => {
  const setup = (body: unknown) => request(stack.url, 'POST', '/api/auth/setup', { body });
  const login = (body: unknown) => request(stack.url, 'POST', '/api/auth/login', { body });
  let token: string;
  let userId: string;

  const SETUP_BAD: Array<[string, unknown, string]> = [
    ['a missing email', { password: ADMIN.password }, 'email'],
    ['an email that is not one', { ...ADMIN, email: 'not-an-email' }, 'email'],
    ['an empty email', { ...ADMIN, email: '' }, 'email'],
    ['an email without domain', { ...ADMIN, email: 'admin@' }, 'email'],
    ['an email with a space', { ...ADMIN, email: 'ad min@example.com' }, 'email'],
    ['an injection string as email', { ...ADMIN, email: "admin@example.com' OR 1=1 --" }, 'email'],
    ['an email over 320 characters', { ...ADMIN, email: `${'a'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.${'g'.repeat(63)}.com` }, 'email'],
    ['a numeric email', { ...ADMIN, email: 42 }, 'email'],
    ['a missing password', { email: ADMIN.email }, 'password'],
    ['an empty password', { ...ADMIN, password: '' }, 'password'],
    ['a short password', { ...ADMIN, password: 'short' }, 'password'],
    ['a password of one repeated character', { ...ADMIN, password: 'aaaaaaaaaaaaaaaa' }, 'password'],
    ['a password of two alternating characters', { ...ADMIN, password: 'abababababab' }, 'password'],
    ['a password over 200 characters', { ...ADMIN, password: `${'Abc123!?'.repeat(25)}x` }, 'password'],
    ['a numeric password', { ...ADMIN, password: 12345678901 }, 'password'],
  ];

  it('reports that setup is needed on a fresh stack', async () => {
    const res = await request(stack.url, 'GET', '/api/auth/setup');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ needsSetup: true });
  });

  it.each(SETUP_BAD)('rejects setup with %s → 400 validation_error', async (_, body, fieldName) => {
    expectError(await setup(body), 400, 'validation_error', fieldName);
  });

  it('rejects setup with malformed JSON → 400 invalid_json, and as text/plain → 415', async () => {
    expectError(await request(stack.url, 'POST', '/api/auth/setup', { raw: '{"email":', headers: JSON_TYPE }), 400, 'invalid_json');
    expectError(await request(stack.url, 'POST', '/api/auth/setup', { raw: JSON.stringify(ADMIN), headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
  });

  it('still needs setup after all those rejections (no user was created)', async () => {
    expect((await request(stack.url, 'GET', '/api/auth/setup')).body).toEqual({ needsSetup: true });
  });

  it('accepts the first setup, then answers a second one 409 setup_complete', async () => {
    const first = await setup(ADMIN);
    expect(first.status).toBe(201);
    token = first.body.token;
    userId = first.body.user.id;
    expectError(await setup(ADMIN), 409, 'setup_complete');
    expectError(await setup({ email: 'intruder@example.com', password: 'another strong passphrase' }), 409, 'setup_complete');
    expect((await request(stack.url, 'GET', '/api/auth/setup')).body).toEqual({ needsSetup: false });
    expect((await login({ email: 'intruder@example.com', password: 'another strong passphrase' })).status).toBe(401);
  });

  it('answers a wrong password and an unknown email alike: 401 invalid_auth', async () => {
    const wrong = await login({ ...ADMIN, password: 'correct horse battery stapler' });
    const unknown = await login({ email: 'nobody@example.com', password: ADMIN.password });
    const cased = await login({ email: 'ADMIN@example.com', password: 'wrong password here' });
    for (const res of [wrong, unknown, cased]) expectError(res, 401, 'invalid_auth');
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
    expect((await login(ADMIN)).status).toBe(200);
  });

  it.each([
    ['a malformed email', { email: 'admin', password: ADMIN.password }, 'email'],
    ['an injection string as email', { email: "' OR 1=1 --", password: ADMIN.password }, 'email'],
    ['an empty password', { email: ADMIN.email, password: '' }, 'password'],
    ['a password over 200 characters', { email: ADMIN.email, password: 'p'.repeat(201) }, 'password'],
    ['no fields', {}, 'email'],
  ] as Array<[string, unknown, string]>)('rejects login with %s → 400 validation_error', async (_, body, fieldName) => {
    expectError(await login(body), 400, 'validation_error', fieldName);
  });

  describe('JWTs the API must refuse', () => {
    const secret = () => stack.config.jwtSecret;
    const now = () => Math.floor(Date.now() / 1000);
    const TOKENS: Array<[string, () => string]> = [
      ['signed with another secret', () => jwt.sign({}, 'another-secret-that-is-long-enough', { algorithm: 'HS256', subject: userId, expiresIn: 3600 })],
      ['with alg none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: userId, iat: now(), exp: now() + 3600 })}.`],
      ['that expired', () => jwt.sign({ sub: userId, iat: now() - 7200, exp: now() - 60 }, secret(), { algorithm: 'HS256' })],
      ['signed with HS512 instead of HS256', () => jwt.sign({}, secret(), { algorithm: 'HS512', subject: userId, expiresIn: 3600 })],
      ['not valid yet', () => jwt.sign({}, secret(), { algorithm: 'HS256', subject: userId, expiresIn: 7200, notBefore: 3600 })],
      ['for a user that does not exist', () => jwt.sign({}, secret(), { algorithm: 'HS256', subject: newId('user'), expiresIn: 3600 })],
      ['without a subject', () => jwt.sign({}, secret(), { algorithm: 'HS256', expiresIn: 3600 })],
      ['with a tampered payload', () => {
        const [header, , signature] = jwt.sign({}, secret(), { algorithm: 'HS256', subject: newId('user'), expiresIn: 3600 }).split('.');
        return `${header}.${b64url({ sub: userId, iat: now(), exp: now() + 3600 })}.${signature}`;
      }],
    ];

    beforeAll(settle);

    it('lets the genuine token through (the refusals below are about the token)', async () => {
      const res = await request(stack.url, 'GET', `/api/runs?projectId=${newId('project')}`, { token });
      expectError(res, 404, 'not_found');
    });

    it.each(TOKENS)('refuses a token %s → 401 invalid_auth on reads and writes, appending nothing', async (_, make) => {
      const t = make();
      const projectId = newId('project');
      expectError(await request(stack.url, 'GET', `/api/runs?projectId=${projectId}`, { token: t }), 401, 'invalid_auth');
      expectError(await request(stack.url, 'POST', '/api/runs', { token: t, body: runBody(projectId) }), 401, 'invalid_auth');
      expectError(await request(stack.url, 'POST', '/api/teams', { token: t, body: { name: 'intruders' } }), 401, 'invalid_auth');
      expect(await stack.topicEnd()).toBe(baseline);
    });
  });
});

describe('with two tenants', () => {
  beforeAll(async () => {
    await ensureFixtures();
    await settle();
  });

  describe.each(Object.values(ROUTES).map((r) => [r.label, r] as const))('%s rejects bad transport and credentials', (_, route) => {
    rejects(transportAndAuthCases(route));
  });

  describe('POST /api/runs rejects', () => rejects(RUN_CASES));
  describe('PATCH /api/runs/:id rejects', () => rejects(PATCH_CASES));
  describe('POST /api/tests rejects', () => rejects(TEST_CASES));
  describe('POST /api/test-suites rejects', () => rejects(SUITE_CASES));
  describe('writes to a deleted run are refused', () => rejects(DELETED_RUN_CASES));
  describe('DELETE /api/runs/:id rejects', () => rejects(DELETE_CASES));
  describe('POST /api/ingest/batch rejects', () => rejects(BATCH_CASES));
  describe('POST /api/upload rejects', () => rejects(UPLOAD_CASES));

  describe.each(Object.entries(READ_CASES))('%s rejects', (_, cases) => rejects(cases));
  describe.each(Object.entries(ACCOUNT_CASES))('%s rejects', (_, cases) => rejects(cases));

  it("never lists another project's runs or tests in the caller's own project", async () => {
    const foreign = client(stack.url, { key: F.b.apiKey });
    // (another project's run as runId is a 404, as an unknown run: issue 14)
    const byRun = await foreign.get(`/api/tests?runId=${F.runA}`);
    expect(byRun.status).toBe(404);
    expect(byRun.text).not.toContain(SECRET);
    for (const path of ['/api/runs', `/api/tests?search=${SECRET}`]) {
      const res = await foreign.get(path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).not.toContain(SECRET);
      expect(res.body.data.every((x: { id: string }) => x.id !== F.runA && x.id !== F.testA), path).toBe(true);
    }
  });

  it('still serves the owner everything the rejections were about (nothing was changed)', async () => {
    const api = client(stack.url, { key: F.a.apiKey });
    const run = await api.get(`/api/runs/${F.runA}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'running', commitMessage: SECRET, totalTests: 1 });
    expect((await api.get(`/api/tests?runId=${F.runA}`)).body.total).toBe(1);
    expect((await api.get(`/api/test-suites?runId=${F.runA}`)).body.data).toHaveLength(1);
  });
});

describe('injection strings', () => {
  type Stored = { runId: string; suiteId: string; testId: string };
  const stored = new Map<string, Stored>();
  let controlTest: string;
  let bigTest: string;
  let api: ReturnType<typeof client>;

  const runFields = (p: string) => ({
    branch: p, commitSha: p, commitMessage: p, commitAuthor: p, ciProvider: p, ciBuildId: p, ciBuildUrl: p,
    playwrightVersion: p, browser: p, os: p, viewport: p, hostname: p, runTitle: p, tags: [p, `${p} 2`], grepPatterns: [p],
  });
  const testFields = (p: string) => ({
    title: p, fullTitle: p, filePath: p, variant: p, status: 'failed', tags: [p],
    annotations: [{ type: p, description: p }],
    error: { message: p, stack: p, expected: p, actual: p, location: { file: p, line: 1, column: 2 } },
    steps: [{ title: p, category: 'step', status: 'failed', duration: 5, error: { message: p }, steps: [{ title: p, category: 'action', duration: 1 }] }],
    attempts: [{ attempt: 1, status: 'failed', duration: 5, error: { message: p } }],
    stdout: p, stderr: p,
  });

  beforeAll(async () => {
    await ensureFixtures();
    // A project of its own, so searches see only these tests.
    const t = await createTenant(stack.url, 'injections');
    api = client(stack.url, { key: t.apiKey });
    for (const [label, p] of INJECTIONS) {
      const run = await api.post('/api/runs', runBody(t.projectId, runFields(p)));
      expect(run.status, label).toBe(201);
      const suite = await api.post('/api/test-suites', { runId: run.body.id, projectId: t.projectId, title: p, filePath: p });
      expect(suite.status, label).toBe(201);
      const test = await api.post('/api/tests', testBody(t.projectId, run.body.id, 0, { ...testFields(p), suiteId: suite.body.id }));
      expect(test.status, label).toBe(201);
      expect((await api.patch(`/api/runs/${run.body.id}`, { status: 'failed' })).status, label).toBe(200);
      stored.set(label, { runId: run.body.id, suiteId: suite.body.id, testId: test.body.id });
    }
    const control = await api.post('/api/runs', runBody(t.projectId, { branch: 'main' }));
    const plain = await api.post('/api/tests', testBody(t.projectId, control.body.id, 1, { title: 'plain', fullTitle: 'Plain > plain', filePath: 'tests/plain.spec.ts' }));
    const big = await api.post('/api/tests', testBody(t.projectId, control.body.id, 2, {
      title: 'big', fullTitle: 'Plain > big', filePath: 'tests/plain.spec.ts', status: 'failed',
      stdout: BIG, stderr: BIG, error: { message: 'big', stack: BIG },
    }));
    expect([control.status, plain.status, big.status]).toEqual([201, 201, 201]);
    controlTest = plain.body.id;
    bigTest = big.body.id;
    await stack.waitForProjections();
  });

  describe.each(INJECTIONS)('holding %s', (label, p) => {
    const ids = () => stored.get(label)!;

    it('reads the run back byte for byte (GET /api/runs/:id)', async () => {
      const res = await api.get(`/api/runs/${ids().runId}`);
      expect(res.status).toBe(200);
      for (const [k, v] of Object.entries(omit(runFields(p), 'grepPatterns'))) expect(res.body[k], k).toEqual(v);
    });

    it('finds the run by its branch, and only it (GET /api/runs?branch=)', async () => {
      const res = await api.get(`/api/runs?branch=${encodeURIComponent(p)}`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((r: { id: string }) => r.id)).toEqual([ids().runId]);
      expect(res.body.data[0].branch).toBe(p);
    });

    it('reads the suite back byte for byte (GET /api/test-suites)', async () => {
      const res = await api.get(`/api/test-suites?runId=${ids().runId}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([{ id: ids().suiteId, title: p, filePath: p, parentSuiteId: null, children: [] }]);
    });

    it('reads the test back byte for byte (GET /api/tests/:id)', async () => {
      const res = await api.get(`/api/tests/${ids().testId}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ title: p, fullTitle: p, filePath: p, variant: p, tags: [p], stdout: p, stderr: p, suiteId: ids().suiteId });
      expect(res.body.annotations).toEqual([{ type: p, description: p }]);
      expect(res.body.error).toEqual({ message: p, stack: p, expected: p, actual: p, location: { file: p, line: 1, column: 2 } });
      expect(res.body.attempts[0].error.message).toBe(p);
      expect(Buffer.from(res.body.stdout, 'utf8').equals(Buffer.from(p, 'utf8'))).toBe(true);
    });

    it('reads the steps back byte for byte (GET /api/tests/:id/steps)', async () => {
      const res = await api.get(`/api/tests/${ids().testId}/steps`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((s: { title: string; depth: number }) => [s.title, s.depth])).toEqual([[p, 0], [p, 1]]);
      expect(res.body.data[0].error.message).toBe(p);
    });

    it('reads branch, commit and status back from ClickHouse (GET /api/tests/:id/history)', async () => {
      const res = await api.get(`/api/tests/${ids().testId}/history`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(1);
      expect(res.body.data[0]).toMatchObject({ runId: ids().runId, testId: ids().testId, status: 'failed', branch: p, commitSha: p });
      const byBranch = await api.get(`/api/tests/${ids().testId}/history?branch=${encodeURIComponent(p)}`);
      expect(byBranch.status).toBe(200);
      expect(byBranch.body.data.map((h: { testId: string }) => h.testId)).toEqual([ids().testId]);
    });

    it('stores the text columns literally in ClickHouse', async () => {
      const rows = await stack.ch.select<Record<string, string>>(
        `SELECT title, full_title, file_path, variant, branch, commit_sha, error_message FROM test_results_v1 WHERE test_id = ${sql.str(ids().testId)}`);
      expect(rows).toEqual([{ title: p, full_title: p, file_path: p, variant: p, branch: p, commit_sha: p, error_message: p }]);
    });

    it('finds the test by searching for the string, matching it literally (GET /api/tests?search=)', async () => {
      const res = await api.get(`/api/tests?search=${encodeURIComponent(p)}&limit=500`);
      expect(res.status).toBe(200);
      const hits = res.body.data as Array<{ id: string; fullTitle: string; filePath: string }>;
      expect(hits.map((h) => h.id)).toContain(ids().testId);
      const needle = p.toLowerCase();
      for (const h of hits) expect(h.fullTitle.toLowerCase().includes(needle) || h.filePath.toLowerCase().includes(needle), h.fullTitle).toBe(true);
    });

    it('answers history filtered by the string on another branch with 200 and no rows', async () => {
      const res = await api.get(`/api/tests/${controlTest}/history?branch=${encodeURIComponent(p)}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ data: [], total: 0 });
    });
  });

  it.each([['%'], ['_'], ['%_'], ['\\']])('does not treat %s in a search as a wildcard', async (needle) => {
    const all = (await api.get('/api/tests?limit=500')).body.total as number;
    const res = await api.get(`/api/tests?search=${encodeURIComponent(needle)}&limit=500`);
    expect(res.status).toBe(200);
    expect(res.body.total).toBeGreaterThan(0);
    expect(res.body.total).toBeLessThan(all);
    for (const h of res.body.data) expect(h.fullTitle.includes(needle) || h.filePath.includes(needle), h.fullTitle).toBe(true);
  });

  it.each([["' OR '1'='1"], ["main' OR 1=1 --"], ["\\' OR 1=1 --"], ['main\\'], ['%']])(
    'answers history?branch=%s with 200 and no rows, even on a test of branch main', async (branch) => {
      const res = await api.get(`/api/tests/${controlTest}/history?branch=${encodeURIComponent(branch)}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ data: [], total: 0 });
      expect((await api.get(`/api/tests/${controlTest}/history?branch=main`)).body.total).toBe(1);
    });

  it('stores a 100 KB mix of every payload in stdout, stderr and the error stack byte for byte', async () => {
    const res = await api.get(`/api/tests/${bigTest}`);
    expect(res.status).toBe(200);
    expect(BIG.length).toBeGreaterThanOrEqual(100_000);
    for (const v of [res.body.stdout, res.body.stderr, res.body.error.stack]) {
      expect(Buffer.from(v, 'utf8').equals(Buffer.from(BIG, 'utf8'))).toBe(true);
    }
  });
});

// Last: a value the schema allows but the log cannot take fails the request
// with a 503, and failures count towards opening the event log's breaker.
describe('at the limits', () => {
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    await ensureFixtures();
    api = client(stack.url, { key: F.a.apiKey });
  });

  it('accepts a run whose strings are exactly at their maximum', async () => {
    const res = await api.post('/api/runs', runBody(F.a.projectId, {
      branch: 'b'.repeat(500), commitSha: 'c'.repeat(200), commitMessage: 'm'.repeat(10_000), runTitle: 't'.repeat(2000),
      tags: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(200, 'x')),
    }));
    expect(res.status, res.text.slice(0, 300)).toBe(201);
  });

  it('accepts a test whose titles are at their maximum and whose steps are nested 8 levels deep', async () => {
    const res = await request(stack.url, 'POST', '/api/tests', {
      key: F.a.apiKey, headers: JSON_TYPE,
      raw: withRaw(testBody(F.a.projectId, F.runA, 5, { title: 't'.repeat(2000), fullTitle: 'f'.repeat(2000) }), 'steps', nestedSteps(8)),
    });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    await stack.waitForProjections();
    const steps = await api.get(`/api/tests/${res.body.id}/steps`);
    expect(steps.body.data.map((s: { depth: number }) => s.depth)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  // The schema allows it, so the event carrying it must fit the log's message size.
  it('accepts a test whose stdout is exactly at its 1 MiB maximum, and serves it back', async () => {
    const stdout = 'o'.repeat(MiB);
    const res = await api.post('/api/tests', testBody(F.a.projectId, F.runA, 6, { stdout }));
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    await stack.waitForProjections();
    expect((await api.get(`/api/tests/${res.body.id}`)).body.stdout).toBe(stdout);
  });
});
