import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { FullConfig, FullResult, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import RunledgerReporter, { browsersOf } from '../../clients/playwright-reporter/src/index.ts';
import { scriptedServer, type Scripted, type Seen } from '../support/scripted-server.ts';

// The reporter driven through its hooks with Playwright's objects reduced to what it
// reads, against APIs that fail in every way: no hook throws, the exit code stays
// the tests', and each thing not sent is one line saying why.

const dir = mkdtempSync(join(tmpdir(), 'runledger-reporter-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const png = join(dir, 'test-failed-1.png');
writeFileSync(png, Buffer.alloc(64, 1));

function fakeRun() {
  const project = { name: 'chromium', use: { browserName: 'chromium' } };
  const projectSuite = { type: 'project', title: 'chromium', project: () => project } as unknown as Suite;
  const file = { type: 'file', title: 'cart.spec.ts', parent: projectSuite, project: () => project } as unknown as Suite;
  const describeSuite = { type: 'describe', title: 'cart', parent: file, project: () => project } as unknown as Suite;
  const result = {
    status: 'failed', duration: 12, retry: 0, startTime: new Date(), errors: [{ message: 'boom' }], error: { message: 'boom' },
    steps: [], stdout: [], stderr: [], attachments: [{ name: 'screenshot', contentType: 'image/png', path: png }], annotations: [],
  } as unknown as TestResult;
  const test = {
    id: 't1', title: 'adds an item', location: { file: join(dir, 'cart.spec.ts'), line: 3, column: 1 }, parent: describeSuite,
    retries: 0, annotations: [], tags: [], results: [result], outcome: () => 'unexpected',
  } as unknown as TestCase;
  const root = { type: 'root', title: '', allTests: () => [test] } as unknown as Suite;
  const config = { rootDir: dir, version: '1.65.1', workers: 1, shard: null, grep: /.*/, projects: [{ name: 'chromium', use: project.use }] } as unknown as FullConfig;
  return { config, root, test, result };
}

async function drive(reporter: RunledgerReporter, status: FullResult['status'] = 'failed') {
  const { config, root, test, result } = fakeRun();
  reporter.onBegin(config, root);
  reporter.onTestEnd(test, result);
  return reporter.onEnd({ status, duration: 100, startTime: new Date() } as FullResult);
}

const err = (code: string, message: string) => ({ error: { code, message, details: {} } });
const accept = (req: Seen): Scripted => ({
  status: 200,
  body: { accepted: 1, rejected: 0, results: (JSON.parse(req.body) as Array<{ type: string }>).map((it, index) => ({ index, status: 'accepted', type: it.type, id: `${it.type}_01ARZ3NDEKTSV4RRFFQ69G5FA${index}` })) },
});

describe('the Playwright reporter never breaks the run', () => {
  let server: { url: string; close(): Promise<void> } | null = null;
  let stderr: string[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await server?.close();
    server = null;
  });
  const capture = () => {
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  };
  const reporterFor = (url: string) => new RunledgerReporter({ url, apiKey: 'rl_test', endTimeoutMs: 1500, flushIntervalMs: 50, spoolDir: dir });

  const cases: Array<[string, (req: Seen) => Scripted, RegExp]> = [
    ['a revoked key (401)', () => ({ status: 401, ...{ body: err('unauthorized', 'invalid API key') } }), /could NOT send 1 results.*invalid API key/],
    ['a key of another scope (403)', () => ({ status: 403, body: err('forbidden', 'this key may not write') }), /could NOT send 1 results.*may not write/],
    ['a refusal (400)', () => ({ status: 400, body: err('validation_error', 'bad body') }), /could NOT send 1 results/],
    ['a server error (500)', () => ({ status: 500, body: err('internal_error', 'oops') }), /could NOT send 1 results/],
    ['an overloaded API (503, Retry-After)', () => ({ status: 503, headers: { 'retry-after': '1' }, body: err('unavailable', 'busy') }), /could NOT send 1 results/],
  ];
  for (const [name, answer, line] of cases) {
    it(`on ${name}: no hook throws, the exit code is the tests', one line says what was not sent and why`, async () => {
      server = await scriptedServer(answer);
      capture();
      await expect(drive(reporterFor(server.url))).resolves.toBeUndefined();
      expect(stderr.join('')).toMatch(line);
      expect(stderr.join('')).toMatch(/(not sent|rejected) {2}cart > adds an item/);
    });
  }

  it('on an upload refused for its size (413): the results go, the attachment is named with the reason', async () => {
    server = await scriptedServer((req) => (req.url.startsWith('/api/upload')
      ? { status: 413, body: err('payload_too_large', 'the file is over the limit of a screenshot') }
      : req.url.startsWith('/api/runs/') ? { status: 200, body: { id: 'run_1', projectId: 'proj_1' } } : accept(req)));
    capture();
    await expect(drive(reporterFor(server.url))).resolves.toBeUndefined();
    expect(stderr.join('')).toMatch(/failed {4}attachment cart > adds an item: test-failed-1\.png: POST \/api\/upload: 413 the file is over the limit/);
  });

  it('on an API that never answers: onEnd gives up after endTimeoutMs, exit code unchanged', async () => {
    const hang: Server = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    server = { url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => (hang.closeAllConnections(), hang.close(() => r()))) };
    capture();
    const started = Date.now();
    await expect(drive(reporterFor(server.url), 'passed')).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stderr.join('')).toMatch(/could NOT send 1 results/);
  });

  it('sends the suites before the tests that name them', async () => {
    const seen: Array<Array<{ type: string; suiteId?: string; parentSuiteRef?: string; title: string }>> = [];
    server = await scriptedServer((req) => {
      if (req.url === '/api/ingest/batch') seen.push(JSON.parse(req.body));
      return req.url.startsWith('/api/runs/') ? { status: 200, body: { id: 'run_1' } } : accept(req);
    });
    capture();
    await drive(new RunledgerReporter({ url: server.url, apiKey: 'k', endTimeoutMs: 1500, flushIntervalMs: 50, uploadAttachments: false }));
    const [run, suites, tests] = seen;
    expect(run!.map((i) => i.type)).toEqual(['run']);
    expect(suites!.map((i) => [i.type, i.title, i.parentSuiteRef])).toEqual([['suite', 'cart.spec.ts', undefined], ['suite', 'cart', 's0']]);
    expect(tests!.map((i) => [i.type, i.suiteId])).toEqual([['test', 'suite_01ARZ3NDEKTSV4RRFFQ69G5FA1']]);
  });
});

describe('the reporter options', () => {
  afterEach(() => vi.restoreAllMocks());
  it('are checked when it loads: a wrong one is one line and its default, never an exception', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    expect(() => new RunledgerReporter({ batchSize: 'many', tags: 'nightly', flushIntervalMs: -1, colour: 'red' } as never)).not.toThrow();
    expect(lines).toEqual([
      `[runledger] option 'batchSize' must be a whole number of at least 1, not "many": using the default\n`,
      `[runledger] option 'tags' must be an array of strings, not "nightly": using the default\n`,
      `[runledger] option 'flushIntervalMs' must be a number of milliseconds (0 or more), not -1: using the default\n`,
      expect.stringContaining(`[runledger] unknown option 'colour' (ignored`),
    ]);
    lines.length = 0;
    expect(() => new RunledgerReporter('https://x' as never)).not.toThrow();
    expect(lines).toEqual([`[runledger] the reporter's options must be an object, not "https://x": using the defaults\n`]);
    lines.length = 0;
    expect(() => new RunledgerReporter({ url: undefined, apiKey: process.env.NOPE })).not.toThrow();
    expect(lines).toEqual([]);
  });

  it('reports nothing, and says so in one line, when the API URL is not a URL', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    await expect(drive(new RunledgerReporter({ url: 'runledger.example.com', apiKey: 'k' }))).resolves.toBeUndefined();
    expect(lines).toEqual(['[runledger] the API URL "runledger.example.com" is not an http(s) URL: not reporting this run\n']);
  });

  it('names the browser from browserName, else from the device preset, several of them joined', () => {
    const projects = (...use: object[]) => ({ projects: use.map((u) => ({ use: u })) }) as unknown as FullConfig;
    expect(browsersOf(projects({ browserName: 'chromium' }))).toBe('chromium');
    expect(browsersOf(projects({ defaultBrowserType: 'webkit', viewport: { width: 1, height: 1 } }))).toBe('webkit');
    expect(browsersOf(projects({ defaultBrowserType: 'chromium' }, { browserName: 'firefox', defaultBrowserType: 'chromium' }, { browserName: 'chromium' }))).toBe('chromium,firefox');
    expect(browsersOf(projects({}))).toBe('');
  });
});
