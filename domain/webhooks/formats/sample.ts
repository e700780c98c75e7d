import type { FormattableEvent } from './notice.ts';

// What POST /api/webhooks/:id/test sends to a hook of a chat or paging format:
// a failed run with 30 failures (so the "and N more" of every format shows),
// marked as a sample in its title and branch (so a pagerduty test opens its own
// incident, not one of a real branch). docs/webhooks.md shows it in every format.
export function sampleEvent(eventId: string, projectId: string, now = new Date()): FormattableEvent {
  const failures = Array.from({ length: 5 }, (_, i) => ({
    title: `checkout › pays with a saved card #${i + 1}`, filePath: 'tests/checkout.spec.ts',
    error: 'Error: expect(received).toBe(expected)\nExpected: "paid"\nReceived: "pending"',
  }));
  return {
    id: eventId, event: 'run.failed', projectId, timestamp: now.toISOString(),
    data: {
      run: {
        id: 'run_sample', projectId, status: 'failed', branch: 'sample/runledger-test', commitSha: '9f2c1e4b7a0d3c6e8f1a2b3c4d5e6f7a8b9c0d1e',
        runTitle: 'Sample: a test delivery from Runledger', totalTests: 240, passedTests: 204, failedTests: 30, skippedTests: 2, flakyTests: 4,
        passRate: 85, duration: 312_400,
      },
    },
    context: { failures, failureCount: 30 },
  };
}
