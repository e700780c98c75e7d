import { describe, expect, it } from 'vitest';
import { formatBody, type FormattableEvent } from '../../domain/webhooks/formats/index.ts';
import { sampleEvent } from '../../domain/webhooks/formats/sample.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { PROBLEMS, type ChatFormat } from '../support/format-receivers.ts';

// Every webhook event, rendered in every chat and paging format, from ordinary
// and oversized inputs (200 failures, 10,000-character titles and errors): each
// body meets its service's required fields and limits (test/support/format-receivers.ts),
// and long lists end in "and N more" instead of being refused.
const huge = (what: string) => `${what} ${'x'.repeat(10_000)}`;
const failures = Array.from({ length: 200 }, (_, i) => ({ title: i % 50 === 0 ? huge(`failing test ${i}`) : `failing test ${i}`, filePath: 'tests/a.spec.ts', error: huge('Error: boom') }));
const run = { id: 'run_1', status: 'failed', branch: huge('feature'), commitSha: 'abc', runTitle: huge('nightly'), totalTests: 300, passedTests: 100, failedTests: 200, skippedTests: 0, flakyTests: 0, passRate: 33.3, duration: 1000 };
const at = '2026-01-02T03:04:05.000Z';
const ev = (event: string, data: unknown, context?: FormattableEvent['context']): FormattableEvent => ({ id: `evt_${event}`, event, projectId: 'proj_1', timestamp: at, data, ...(context ? { context } : {}) });
const EVENTS: FormattableEvent[] = [
  ev('run.failed', { run }, { failures: failures.slice(0, 10), failureCount: 200 }),
  ev('run.completed', { run: { ...run, status: 'passed', failedTests: 0 } }),
  ev('run.completed', { run: { ...run, status: 'cancelled' } }),
  ev('test.quarantined', { testCaseId: 'tc_1', isQuarantined: true, reason: huge('flaky'), mode: 'manual', owner: huge('me'), expiresAt: null, changedAt: at }),
  ev('test.unquarantined', { testCaseId: 'tc_1', isQuarantined: false, reason: null, mode: 'auto' }),
  ev('test.flaky_detected', { testCaseId: 'tc_1', runId: 'run_1', branch: 'main', score: 0.42, classification: 'flaky', evidence: {} }),
  ev('run.regression_detected', { runId: 'run_2', baselineRunId: 'run_1', branch: 'main', regression: true, reasons: [huge('new failures')], counts: { newFailures: 200 }, newFailures: failures.map((f, i) => ({ testCaseId: `tc_${i}`, title: f.title, error: f.error })) }),
  ev('threshold.breached', { metric: 'passRate', value: 0.5, bound: 0.75, direction: 'below', windowDays: 7, executions: 8, runId: 'run_1', projectId: 'proj_1' }),
  ev('threshold.recovered', { metric: 'passRate', value: 0.8, bound: 0.75, direction: 'below', windowDays: 7, executions: 9, runId: 'run_1', projectId: 'proj_1' }),
  ev('digest.ready', {
    period: { from: at, to: at }, summary: { executions: 10, passRate: 0.9, flakyRate: 0.1 },
    newFlakyTests: failures.map((f, i) => ({ testCaseId: `tc_${i}`, title: f.title, filePath: f.filePath })), quarantineChanges: [], topErrors: [{ pattern: huge('Timeout') }],
  }),
  ev('webhook.test', { webhookId: 'wh_1', projectId: 'proj_1', message: 'a test delivery from Runledger' }),
  sampleEvent('evt_sample', 'proj_1'),
];
const hook = (format: string) => ({ id: 'wh_1', format, routing_key: 'R0123456789abcdef0123456789ABCDE'.slice(0, 32) });

describe('webhook delivery formats', () => {
  for (const format of Object.keys(PROBLEMS) as ChatFormat[]) {
    it(`${format}: every event meets the service's required fields and limits, with and without links`, () => {
      for (const e of EVENTS) {
        for (const base of [null, 'https://runledger.example.com']) {
          const body = formatBody(e, hook(format), base);
          if (body === null) {
            expect(format, `${e.event} skipped`).toBe('pagerduty');
            continue;
          }
          expect(PROBLEMS[format](JSON.parse(body)), `${format} ${e.event}`).toEqual([]);
        }
      }
    });
  }

  it('shortens long lists with "and N more" in every chat format', () => {
    const e = EVENTS[0]!;
    for (const format of ['slack', 'teams', 'discord'] as const) expect(formatBody(e, hook(format), null)).toMatch(/and 1\d\d more/);
    expect(JSON.parse(formatBody(e, hook('pagerduty'), null)!).payload.custom_details.total).toBe(200);
  });

  it('links to the dashboard pages of runs and tests under the configured base', () => {
    const slack = JSON.parse(formatBody(EVENTS[0]!, hook('slack'), 'https://rl.example.com')!);
    expect(slack.blocks.at(-1).elements[0].url).toBe('https://rl.example.com/runs/run_1');
    const teams = JSON.parse(formatBody(EVENTS[3]!, hook('teams'), 'https://rl.example.com')!);
    expect(teams.attachments[0].content.actions[0].url).toBe('https://rl.example.com/tests/tc_1');
    expect(JSON.parse(formatBody(EVENTS[3]!, hook('teams'), null)!).attachments[0].content.actions).toBeUndefined();
  });

  it('pagerduty: a breach triggers and its recovery resolves with the same dedup_key; a passing run resolves its branch', () => {
    const trigger = JSON.parse(formatBody(EVENTS[7]!, hook('pagerduty'), null)!);
    const resolve = JSON.parse(formatBody(EVENTS[8]!, hook('pagerduty'), null)!);
    expect(trigger).toMatchObject({ event_action: 'trigger', payload: { severity: 'critical', source: 'runledger/proj_1' } });
    expect(resolve).toEqual({ routing_key: trigger.routing_key, event_action: 'resolve', dedup_key: trigger.dedup_key });
    const failed = JSON.parse(formatBody(ev('run.failed', { run: { ...run, branch: 'main' } }), hook('pagerduty'), null)!);
    const passed = JSON.parse(formatBody(ev('run.completed', { run: { ...run, branch: 'main', status: 'passed' } }), hook('pagerduty'), null)!);
    expect([failed.event_action, passed.event_action, passed.dedup_key]).toEqual(['trigger', 'resolve', failed.dedup_key]);
    expect(formatBody(EVENTS[2]!, hook('pagerduty'), null)).toBeNull(); // a cancelled run is not an alert
  });

  it('json stays the envelope { id, event, timestamp, data }, without the formats\' context', () => {
    const e = EVENTS[0]!;
    expect(JSON.parse(formatBody(e, hook('json'), 'https://x.example.com')!)).toEqual({ id: e.id, event: e.event, timestamp: e.timestamp, data: e.data });
    expect(Object.keys(EXAMPLE_EVENTS).length).toBeGreaterThan(0);
  });
});
