import { describe, expect, it } from 'vitest';
import { errorFingerprint, normaliseMessage, testErrorRow, topFrame } from '../../projections/clickhouse/tables/test-errors.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import type { EventOf } from '../../schemas/events.ts';

describe('error message normalisation', () => {
  it('strips numbers, ids, timings, paths, urls and hashes, keeping the words', () => {
    expect(normaliseMessage('Timed out 5000ms waiting for expect(locator).toBeVisible()')).toBe('Timed out <duration> waiting for expect(locator).toBeVisible()');
    expect(normaliseMessage("expected 200, got 500 (user 4711) at https://api.example.com/v1/users/42?x=1")).toBe('expected <n>, got <n> (user <n>) at <url>');
    expect(normaliseMessage('ENOENT: no such file /home/ci/work/tmp/abc.json')).toBe('ENOENT: no such file <path>');
    expect(normaliseMessage('order 3f2a9c1d-1111-4a2b-9c3d-0123456789ab not found for run_01JEXAMP1E0000000000000000')).toBe('order <uuid> not found for <id>');
    expect(normaliseMessage('commit a1b2c3d4e5f6 at 2026-03-19T10:01:30Z took 1.5 s')).toBe('commit <hex> at <time> took <duration>');
  });
  it('keeps the first non-empty line only, without colour codes', () => {
    expect(normaliseMessage('\n\u001b[31mError: boom 3\u001b[39m\n\nExpected: 1\nReceived: 2')).toBe('Error: boom <n>');
  });
  it('gives the same fingerprint to the same failure with other details', () => {
    const a = normaliseMessage('Timeout 30000ms exceeded while waiting for #item-17');
    const b = normaliseMessage('Timeout 5000ms exceeded while waiting for #item-3');
    expect(errorFingerprint(a, 'x')).toBe(errorFingerprint(b, 'x'));
    expect(errorFingerprint(a, 'x')).not.toBe(errorFingerprint(a, 'y'));
  });
});

describe('top stack frame', () => {
  it('takes the first frame outside node internals and dependencies, without directories and positions', () => {
    const stack = [
      'Error: boom',
      '    at Object.assert (node:internal/assert:14:11)',
      '    at expect (/ci/node_modules/playwright/lib/matchers.js:10:5)',
      '    at async LoginPage.submit (/home/ci/work/tests/pages/login.ts:42:13)',
      '    at /home/ci/work/tests/auth.spec.ts:9:3',
    ].join('\n');
    expect(topFrame(stack)).toBe('LoginPage.submit (login.ts)');
    expect(topFrame('    at /home/ci/work/tests/auth.spec.ts:9:3')).toBe('auth.spec.ts');
    expect(topFrame(undefined, { file: '/w/tests/a.spec.ts', line: 3 })).toBe('a.spec.ts');
    expect(topFrame('no frames here')).toBe('');
  });
});

describe('the error row of a result', () => {
  const flaky = EXAMPLE_EVENTS['test.reported'] as EventOf<'test.reported'>;
  it('uses the failed attempt of a result that passed on a retry', () => {
    const row = testErrorRow(flaky, 0, 3)!;
    expect(row).toMatchObject({ from_attempt: 1, status: 'flaky', message_pattern: "Timed out waiting for selector '.dashboard'", _offset: 3 });
    expect(row.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
  it('uses the final error when there is one, and gives no row without any error', () => {
    const failed = { ...flaky, data: { ...flaky.data, status: 'failed' as const, error: { message: 'boom 1' } } };
    expect(testErrorRow(failed, 0, 1)).toMatchObject({ from_attempt: 0, message_pattern: 'boom <n>' });
    const passed = { ...flaky, data: { ...flaky.data, status: 'passed' as const, attempts: [], error: null } };
    expect(testErrorRow(passed, 0, 1)).toBeNull();
  });
});
