import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { deadUrl } from '../support/net.ts';
import { RunledgerClient } from '../../clients/sdk/src/index.ts';
import { uploadJUnit, type UploadOptions } from '../../clients/junit/src/index.ts';

// `runledger upload-junit` against a running stack: real ingest, Kafka and projections.
const FIXTURES = resolve('test/fixtures/junit');
const NO_CI = { PATH: process.env.PATH };

describe('the JUnit uploader against a running stack', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let api: RunledgerClient;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url, 'junit');
    api = new RunledgerClient({ url: stack.url, apiKey: tenant.apiKey });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const upload = (opts: Partial<UploadOptions>) => {
    const lines: string[] = [];
    return uploadJUnit({
      url: stack.url, apiKey: tenant.apiKey, env: NO_CI, out: (l) => lines.push(l), err: (l) => lines.push(l), patterns: [], ...opts,
    }).then((r) => ({ ...r, lines }));
  };
  const testsOf = async (runId: string) => (await api.listTests({ runId, limit: 500 })).data;

  it('uploads two Surefire/Failsafe reports as one run with exact counts, attempts and flaky tests', async () => {
    const res = await upload({ patterns: [`${FIXTURES}/surefire.xml`, `${FIXTURES}/failsafe.xml`], runTitle: 'nightly', tags: ['java'] });
    expect(res.exitCode, res.lines.join('\n')).toBe(0);
    expect(res.sent).toBe(10);
    await stack.waitForProjections();
    const run = await api.getRun(res.runId!);
    expect(run).toMatchObject({
      status: 'failed', totalTests: 10, passedTests: 3, failedTests: 3, skippedTests: 1, flakyTests: 3, runTitle: 'nightly', tags: ['java'],
    });
    const tests = await testsOf(res.runId!);
    expect(tests).toHaveLength(10);
    const flaky = tests.find((t) => t.fullTitle === 'com.example.CalculatorTest > flakyClock')!;
    const full = await api.getTest(flaky.id);
    expect(full).toMatchObject({ status: 'flaky', isFlaky: true, retries: 1 });
    expect(full.attempts.map((a) => a.status)).toEqual(['failed', 'passed']);
    const failed = await api.getTest(tests.find((t) => t.fullTitle === 'com.example.CalculatorTest > multipliesWrongly')!.id);
    expect(failed.error).toMatchObject({ expected: '6', actual: '4' });
    expect(failed.stderr).toContain('about to fail');
  });

  it('gives the same test the same test case in a later upload, so history spans both', async () => {
    const first = await upload({ patterns: [`${FIXTURES}/pytest.xml`], root: '/builds/acme/shop' });
    const second = await upload({ patterns: [`${FIXTURES}/pytest.xml`], root: '/builds/acme/shop' });
    expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
    await stack.waitForProjections();
    const [a, b] = [await testsOf(first.runId!), await testsOf(second.runId!)];
    const caseIds = (ts: typeof a) => ts.map((t) => t.testCaseId).sort();
    expect(caseIds(a)).toEqual(caseIds(b));
    expect(new Set(caseIds(a)).size).toBe(7);
    const history = await api.testHistory(b[0]!.id);
    expect(history.data.map((h) => h.runId).sort()).toEqual([first.runId, second.runId].sort());
    // a variant is part of the identity
    const other = await upload({ patterns: [`${FIXTURES}/pytest.xml`], root: '/builds/acme/shop', variant: 'py3.12' });
    await stack.waitForProjections();
    const c = await testsOf(other.runId!);
    expect(caseIds(c).filter((id) => caseIds(a).includes(id))).toEqual([]);
  });

  it('merges the shards of one CI build into one run', async () => {
    const env = { ...NO_CI, GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: `${Date.now()}`, GITHUB_RUN_ATTEMPT: '1', GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'abc123', GITHUB_REF_NAME: 'main' };
    const one = await upload({ patterns: [`${FIXTURES}/surefire.xml`], shard: { current: 1, total: 2 }, env });
    const two = await upload({ patterns: [`${FIXTURES}/failsafe.xml`], shard: { current: 2, total: 2 }, env });
    expect(one.runId).toBe(two.runId);
    await stack.waitForProjections();
    const run = await api.getRun(one.runId!);
    expect(run).toMatchObject({
      status: 'failed', totalTests: 10, flakyTests: 3, shardTotal: 2, branch: 'main', commitSha: 'abc123', ciProvider: 'github-actions',
      ciBuildUrl: `https://github.com/acme/shop/actions/runs/${env.GITHUB_RUN_ID}`,
    });
    expect((await testsOf(one.runId!)).length).toBe(10);
  });

  it('sends nothing on a dry run or when one file is bad', async () => {
    const end = await stack.topicEnd();
    const dry = await upload({ patterns: [`${FIXTURES}/surefire.xml`], dryRun: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.lines.some((l) => l.startsWith('flaky   com.example.CalculatorTest > flakyClock (failed → passed)'))).toBe(true);
    for (const bad of ['truncated.xml', 'billion-laughs.xml', 'xxe.xml', 'not-xml.json']) {
      const res = await upload({ patterns: [`${FIXTURES}/surefire.xml`, `${FIXTURES}/bad/${bad}`] });
      expect(res.exitCode).toBe(2);
      expect(res.lines.join('\n')).toContain('nothing was sent');
    }
    expect(await stack.topicEnd()).toBe(end);
  });

  it('--fail-on-unquarantined exits 1 when a failure is not quarantined, 0 when nothing failed', async () => {
    const failing = await upload({ patterns: [`${FIXTURES}/failsafe.xml`], failOnUnquarantined: true });
    expect(failing.exitCode).toBe(1);
    expect(failing.unquarantinedFailures.map((t) => t.fullTitle)).toEqual(['com.example.CheckoutIT > refunds']);
    expect(failing.lines.join('\n')).toContain('runledger: failed: com.example.CheckoutIT > refunds');
    const dir = mkdtempSync(join(tmpdir(), 'runledger-junit-'));
    const clean = join(dir, 'clean.xml');
    writeFileSync(clean, '<testsuite name="s"><testcase classname="a.B" name="works" time="0.1"/><testcase classname="a.B" name="later" time="0"><skipped/></testcase></testsuite>');
    const passing = await upload({ patterns: [clean], failOnUnquarantined: true });
    rmSync(dir, { recursive: true });
    expect(passing.exitCode).toBe(0);
    expect(passing.counts).toMatchObject({ total: 2, passed: 1, skipped: 1, failed: 0 });
  });

  it('sends the <testsuite> nesting as suites, created before the tests that name them; two shards share them', async () => {
    const one = await upload({ patterns: [`${FIXTURES}/phpunit.xml`], root: '/builds/acme/shop', shard: { current: 1, total: 2 }, env: { ...NO_CI, RUNLEDGER_BUILD_ID: 'php-1' } });
    const two = await upload({ patterns: [`${FIXTURES}/phpunit.xml`], root: '/builds/acme/shop', shard: { current: 2, total: 2 }, env: { ...NO_CI, RUNLEDGER_BUILD_ID: 'php-1' } });
    expect(one.exitCode, one.lines.join('\n')).toBe(0);
    expect(two.runId).toBe(one.runId);
    await stack.waitForProjections();
    const tree = (await api.suites(one.runId!)).data;
    type Node = { title: string; filePath: string | null; children: Node[] };
    const shape = (ns: Node[]): unknown[] => ns.map((n) => [n.title, n.filePath, shape(n.children)]);
    // PHPUnit: the directory, the class (with its file), a data provider's cases.
    expect(shape(tree)).toEqual([['/builds/acme/shop/phpunit', null, [['CartTest', 'phpunit/CartTest.php', [['CartTest::testValidatesCode', null, []]]]]]]);
    const cartTest = tree[0]!.children[0]!;
    const provider = cartTest.children[0]!;
    const tests = await Promise.all((await testsOf(one.runId!)).map((t) => api.getTest(t.id)));
    expect(new Set(tests.filter((t) => t.fullTitle.includes('testValidatesCode')).map((t) => t.suiteId))).toEqual(new Set([provider.id]));
    expect(new Set(tests.filter((t) => !t.fullTitle.includes('testValidatesCode')).map((t) => t.suiteId))).toEqual(new Set([cartTest.id]));
  });

  it('reports what it could not send, and exits 3, when the API is unreachable', async () => {
    const res = await upload({ patterns: [`${FIXTURES}/surefire.xml`], url: await deadUrl(), sendTimeoutMs: 1000 });
    expect(res.exitCode).toBe(3);
    expect(res.lines.join('\n')).toMatch(/could not create the run: .*ECONNREFUSED[\s\S]*nothing was sent/);
  });
});
