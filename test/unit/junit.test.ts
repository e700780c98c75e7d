import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedActual } from '../../clients/sdk/src/index.ts';
import { parseJUnitFile, normalizePath, uploadJUnit, JUnitParseError, type JUnitCase, type JUnitTest } from '../../clients/junit/src/index.ts';

// Parsing of the JUnit dialects real tools write. The fixtures under
// test/fixtures/junit were written by the tools themselves where they install
// here (see its README), and from the tools' documented formats otherwise.
const FIXTURES = resolve('test/fixtures/junit');
const ROOT = '/builds/acme/shop';

async function dryRun(file: string, extra: { variant?: string } = {}): Promise<{ tests: JUnitTest[]; lines: string[] }> {
  const lines: string[] = [];
  const tests: JUnitTest[] = [];
  const res = await uploadJUnit({
    patterns: [join(FIXTURES, file)], dryRun: true, root: ROOT, out: (l) => lines.push(l), err: (l) => lines.push(l), onTest: (t) => tests.push(t), ...extra,
  });
  expect(res.exitCode, lines.join('\n')).toBe(0);
  return { tests, lines };
}

const statusCounts = (tests: JUnitTest[]) => {
  const c: Record<string, number> = {};
  for (const t of tests) c[t.status] = (c[t.status] ?? 0) + 1;
  return c;
};
const find = (tests: JUnitTest[], fullTitle: string) => {
  const t = tests.find((x) => x.fullTitle === fullTitle);
  if (!t) throw new Error(`no test '${fullTitle}' in ${tests.map((x) => x.fullTitle).join(', ')}`);
  return t;
};
const tries = (t: JUnitTest) => t.attempts!.map((a) => a.status);

describe('the JUnit parser, per dialect', () => {
  it('Maven Surefire: flakyFailure and flakyError become flaky with their failed attempts; rerunFailure and rerunError add failed attempts', async () => {
    const { tests, lines } = await dryRun('surefire.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 2, skipped: 1, flaky: 2 });
    expect(lines.at(-1)).toBe('7 tests: 2 passed, 2 failed, 1 skipped, 2 flaky');
    const flaky = find(tests, 'com.example.CalculatorTest > flakyClock');
    expect(tries(flaky)).toEqual(['failed', 'passed']);
    expect(flaky).toMatchObject({ isFlaky: true, retries: 1, attempt: 2, error: null, filePath: '', variant: '' });
    expect(flaky.attempts![0]!.error).toMatchObject({ message: expect.stringContaining('clock skew on first run'), expected: 'true', actual: 'false' });
    expect(tries(find(tests, 'com.example.CalculatorTest > flakyConnection'))).toEqual(['failed', 'passed']);
    const failed = find(tests, 'com.example.CalculatorTest > multipliesWrongly');
    expect(tries(failed)).toEqual(['failed', 'failed', 'failed']);
    expect(failed.error).toMatchObject({ message: '2 * 2 ==> expected: <6> but was: <4>', expected: '6', actual: '4', stack: expect.stringContaining('CalculatorTest.java:12') });
    expect(failed.stderr).toContain('about to fail');
    expect(failed.annotations).toContainEqual({ type: 'junit:failure', description: 'org.opentest4j.AssertionFailedError' });
    const error = find(tests, 'com.example.CalculatorTest > dividesByZero');
    expect(tries(error)).toEqual(['failed', 'failed', 'failed']);
    expect(error.annotations).toContainEqual({ type: 'junit:error', description: 'java.lang.ArithmeticException' });
    expect(find(tests, 'com.example.CalculatorTest > roundsMoney').annotations).toContainEqual({ type: 'skip', description: 'waiting for BigDecimal support' });
    expect(find(tests, 'com.example.CalculatorTest > adds').duration).toBe(32);
  });

  it('Maven Failsafe: the same elements in an integration-test report', async () => {
    const { tests } = await dryRun('failsafe.xml');
    expect(statusCounts(tests)).toEqual({ passed: 1, failed: 1, flaky: 1 });
    expect(tries(find(tests, 'com.example.CheckoutIT > appliesCoupon'))).toEqual(['failed', 'passed']);
    expect(tries(find(tests, 'com.example.CheckoutIT > refunds'))).toEqual(['failed', 'failed', 'failed']);
  });

  it('Gradle: a test repeated in its suite by the retry plugin is one flaky result; suite-level output is not pinned on a test', async () => {
    const { tests } = await dryRun('gradle.xml');
    expect(tests).toHaveLength(4);
    expect(statusCounts(tests)).toEqual({ passed: 1, failed: 1, skipped: 1, flaky: 1 });
    const flaky = find(tests, 'com.acme.shop.CartTest > readsCouponService()');
    expect(tries(flaky)).toEqual(['failed', 'passed']);
    expect(flaky.duration).toBe(145);
    expect(find(tests, 'com.acme.shop.CartTest > totalsWithTax()').error).toMatchObject({ expected: '12.5', actual: '12.0' });
  });

  it('pytest: module and class as classname, error on setup vs failure, skipped with its reason, captured output', async () => {
    const { tests } = await dryRun('pytest.xml');
    expect(statusCounts(tests)).toEqual({ passed: 3, failed: 3, skipped: 1 });
    expect(find(tests, 'test_checkout > test_saves_order').annotations).toContainEqual({ type: 'junit:error', description: '' });
    expect(find(tests, 'test_checkout > test_saves_order').error!.message).toBe('failed on setup with "RuntimeError: database is down"');
    expect(find(tests, 'test_checkout > test_totals_with_tax').annotations).toContainEqual({ type: 'junit:failure', description: '' });
    expect(find(tests, 'test_checkout > test_pays_by_card').annotations).toContainEqual({ type: 'skip', description: 'payment sandbox offline' });
    expect(find(tests, 'test_checkout > test_adds_items').stdout).toContain('cart has 2 items');
    expect(find(tests, 'test_checkout.TestCoupons > test_applies_coupon').stderr).toContain('coupon cache miss');
    expect(find(tests, 'test_checkout.TestCoupons > test_validates_code[BOGUS]').status).toBe('failed');
  });

  it('jest-junit: classname and name both hold the full title; the failure text gives expected and received', async () => {
    const { tests } = await dryRun('jest-junit.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 1, skipped: 1 });
    expect(find(tests, 'Cart totals with tax').error).toMatchObject({ message: 'Error: expect(received).toBe(expected) // Object.is equality', expected: '12.5', actual: '12' });
    expect(tests.map((t) => t.fullTitle)).toContain('Cart coupons applies a coupon');
  });

  it('vitest: the file as classname becomes the file path, the describe path the title', async () => {
    const { tests } = await dryRun('vitest.xml');
    expect(statusCounts(tests)).toEqual({ passed: 3, failed: 1, skipped: 1 });
    expect(find(tests, 'Cart > coupons > applies a coupon')).toMatchObject({ filePath: 'cart.test.ts', title: 'Cart > coupons > applies a coupon' });
    expect(find(tests, 'Cart > adds items').stdout).toContain('cart has 2 items');
  });

  it('mocha-junit-reporter (Mocha, Cypress): the suite file attribute made relative to the root', async () => {
    const { tests } = await dryRun('mocha.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 1 });
    expect(find(tests, 'Cart totals with tax')).toMatchObject({ filePath: 'mocha/cart.spec.js' });
    expect(find(tests, 'Cart totals with tax').error!.stack).toContain('cart.spec.js:8:12');
  });

  it("Playwright's junit reporter: file as classname, the project in the variant flag", async () => {
    const { tests } = await dryRun('playwright.xml', { variant: 'chromium' });
    expect(statusCounts(tests)).toEqual({ passed: 3, failed: 1, skipped: 1 });
    expect(tests.every((t) => t.variant === 'chromium')).toBe(true);
    expect(find(tests, 'edge cases › fails on purpose')).toMatchObject({ filePath: 'edge.spec.ts', status: 'failed' });
  });

  it('go-junit-report: package as classname, subtests, a build failure as an error', async () => {
    const { tests } = await dryRun('go-junit-report.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 3, skipped: 1 });
    expect(find(tests, 'github.com/acme/shop/cart > TestCoupon/expired').error!.message).toBe('Failed');
    expect(find(tests, 'github.com/acme/shop/cart > TestPayByCard').annotations).toContainEqual({ type: 'skip', description: 'Skipped' });
  });

  it('gotestsum --rerun-fails: repeated test cases are attempts; a pass after failures is flaky', async () => {
    const { tests } = await dryRun('gotestsum.xml');
    expect(tests).toHaveLength(7);
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 3, skipped: 1, flaky: 1 });
    expect(tries(find(tests, 'example.com/calc > TestFlakyClock'))).toEqual(['failed', 'passed']);
    expect(tries(find(tests, 'example.com/calc > TestDivide'))).toEqual(['failed', 'failed', 'failed']);
  });

  it('PHPUnit: nested suites (data providers), file and line attributes, error vs failure', async () => {
    const { tests } = await dryRun('phpunit.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 3, skipped: 1 });
    const bad = find(tests, 'CartTest > testValidatesCode with data set "bad"');
    expect(bad).toMatchObject({ filePath: 'phpunit/CartTest.php', lineNumber: 28, status: 'failed' });
    expect(find(tests, 'CartTest > testSavesOrder').annotations).toContainEqual({ type: 'junit:error', description: 'RuntimeException' });
    expect(find(tests, 'CartTest > testAddsItems').stdout).toBe('cart has 2 items\n');
  });

  it('RSpec (rspec_junit_formatter): the file attribute, and the classname that repeats it left out of the title', async () => {
    const { tests } = await dryRun('rspec.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 2, skipped: 1 });
    expect(find(tests, 'Cart totals with tax')).toMatchObject({ filePath: 'spec/cart_spec.rb', error: { expected: '12.5', actual: '12.0' } });
  });

  it('Karma (karma-junit-reporter): the browser and its version are kept out of the identity', async () => {
    const { tests } = await dryRun('karma.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 1, skipped: 1 });
    expect(tests.map((t) => t.fullTitle)).toEqual(['Cart > adds items', 'Cart > totals with tax', 'Cart > pays by card', 'Cart coupons > applies a coupon']);
  });

  it('.NET (JunitXml.TestLogger): theory rows as separate tests, xUnit expected and actual', async () => {
    const { tests } = await dryRun('dotnet.xml');
    expect(statusCounts(tests)).toEqual({ passed: 2, failed: 2, skipped: 1 });
    expect(find(tests, 'Acme.Shop.Tests.CartTests > TotalsWithTax').error).toMatchObject({ expected: '12.5', actual: '12' });
    expect(find(tests, 'Acme.Shop.Tests.CouponTests > Validates(code: "BOGUS")').stdout).toBe('checking BOGUS');
  });
});

describe('the JUnit parser on bad files', () => {
  const cases: Array<[string, RegExp]> = [
    ['not-xml.json', /not XML: Non-whitespace before first tag/],
    ['html.xml', /not a JUnit report: the root element is <html>/],
    ['truncated.xml', /not well-formed XML: Unclosed root tag/],
    ['billion-laughs.xml', /DOCTYPE declarations are refused/],
    ['xxe.xml', /DOCTYPE declarations are refused/],
    ['undeclared-entity.xml', /entities are never expanded/],
  ];
  for (const [file, message] of cases) {
    it(`refuses ${file} with a clear error, reading no test from it`, async () => {
      const seen: JUnitCase[] = [];
      const err = await parseJUnitFile(join(FIXTURES, 'bad', file), (c) => {
        seen.push(c);
      }).catch((e) => e);
      expect(err).toBeInstanceOf(JUnitParseError);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(file);
      if (file === 'xxe.xml') expect(JSON.stringify(seen)).not.toContain('root:');
    });
  }

  it('says which file and that nothing was sent when one of several files is bad (exit 2)', async () => {
    const errors: string[] = [];
    const res = await uploadJUnit({
      patterns: [join(FIXTURES, 'surefire.xml'), join(FIXTURES, 'bad', 'truncated.xml')],
      url: 'http://127.0.0.1:9', apiKey: 'rl_unused', out: () => undefined, err: (l) => errors.push(l),
    });
    expect(res.exitCode).toBe(2);
    expect(res.runId).toBeNull();
    expect(errors.join('\n')).toMatch(/truncated\.xml:\d+:\d+: not well-formed XML[\s\S]*nothing was sent/);
  });

  it('refuses a missing file or a glob that matches nothing (exit 2)', async () => {
    const errors: string[] = [];
    const res = await uploadJUnit({ patterns: [join(FIXTURES, 'nope.xml'), join(FIXTURES, 'nope-*.xml')], dryRun: true, err: (l) => errors.push(l) });
    expect(res.exitCode).toBe(2);
    expect(errors[0]).toContain('no such files');
  });
});

describe('the JUnit uploader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runledger-junit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as the runledger command: exit 0 for a dry run, 2 for a bad file, 2 for bad arguments', () => {
    // The bin from source (the packed one is tested in test/e2e/client-packages.test.ts).
    const bin = resolve('clients/junit/src/bin.ts');
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', bin, ...args], { encoding: 'utf8', cwd: resolve('.') });
    const ok = run('upload-junit', '--dry-run', join(FIXTURES, 'failsafe.xml'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('failed  com.example.CheckoutIT > refunds (failed → failed → failed)');
    const bad = run('upload-junit', '--dry-run', join(FIXTURES, 'bad', 'xxe.xml'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('DOCTYPE declarations are refused');
    expect(run('upload-junit', '--shard', '3/2', 'x.xml').status).toBe(2);
    expect(run('frobnicate').status).toBe(2);
  });

  it('expands globs to the files they match and nothing else', async () => {
    const lines: string[] = [];
    const res = await uploadJUnit({ patterns: ['test/fixtures/junit/{surefire,failsafe}.xml'], dryRun: true, out: (l) => lines.push(l) });
    expect(res.counts).toEqual({ total: 10, passed: 3, failed: 3, skipped: 1, flaky: 3 });
  });

  it('makes file paths relative to the root with forward slashes', () => {
    expect(normalizePath('/builds/acme/shop/tests/a.spec.ts', '/builds/acme/shop')).toBe('tests/a.spec.ts');
    expect(normalizePath('./spec/cart_spec.rb', '/x')).toBe('spec/cart_spec.rb');
    expect(normalizePath('tests\\unit\\a.test.js', '/x')).toBe('tests/unit/a.test.js');
    expect(normalizePath('/elsewhere/a.py', '/builds/acme/shop')).toBe('/elsewhere/a.py');
  });

  it('finds expected and actual in the usual assertion messages', () => {
    expect(expectedActual('expected: <6> but was: <4>')).toEqual({ expected: '6', actual: '4' });
    expect(expectedActual('Expected: 12.5\nReceived: 12')).toEqual({ expected: '12.5', actual: '12' });
    expect(expectedActual('\u001b[2mExpected string: \u001b[22m"Welcome"\n\u001b[2mReceived string: \u001b[22m"Hello"')).toEqual({ expected: '"Welcome"', actual: '"Hello"' });
    expect(expectedActual('something else')).toEqual({});
  });

  it('cuts a huge system-out while it streams, and reads a 200 MB report in a process with 64 MB of heap', async () => {
    const big = join(dir, 'big.xml');
    const ws = createWriteStream(big);
    ws.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="big">\n');
    const out = 'x'.repeat(1023) + '\n';
    let bytes = 0;
    let i = 0;
    // 2,000 cases with 100 KB of output each: 200 MB.
    while (bytes < 200 * 1024 * 1024) {
      const chunk = `<testcase classname="big.Case" name="case ${i++}" time="0.001"><system-out><![CDATA[${out.repeat(100)}]]></system-out></testcase>\n`;
      bytes += chunk.length;
      if (!ws.write(chunk)) await once(ws, 'drain');
    }
    ws.write('<testcase classname="big.Case" name="huge output" time="0.1"><system-out>');
    for (let k = 0; k < 8; k++) if (!ws.write(out.repeat(1024))) await once(ws, 'drain'); // 8 MB in one text node
    ws.end('</system-out></testcase></testsuite></testsuites>\n');
    await once(ws, 'finish');
    const script = join(dir, 'count.mts');
    writeFileSync(script, `
      import { parseJUnitFile } from ${JSON.stringify(resolve('clients/junit/src/parse.ts'))};
      let n = 0; let longest = 0;
      await parseJUnitFile(process.argv[2], (c) => { n++; longest = Math.max(longest, c.stdout.length); }, { maxTextBytes: 1_000_000 });
      console.log(JSON.stringify({ n, longest }));
    `);
    const r = spawnSync(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', script, big], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(res.n).toBe(i + 1);
    expect(res.longest).toBeLessThan(1_000_100);
  }, 180_000);
});
