import { newId, testCaseIdOf } from '../../schemas/ids.ts';
import { makeEvent } from '../../domain/events.ts';
import type { Event, EventOf } from '../../schemas/events.ts';
import type { PositionedEvent } from '../../projections/kafka/consumer.ts';

// Realistic results as the issue-15 load has them: runs of `perRun` results,
// 4 steps each (one nested), tags, an error on about 3 %, some output.
const actor = { type: 'system' as const, id: 'bench' };

export type Load = { runs: Array<EventOf<'run.created'>>; batches: PositionedEvent[][]; results: number };

export function projectorLoad(projectId: string, runs: number, perRun: number, batchSize = 1000): Load {
  const at = new Date().toISOString();
  const created: Array<EventOf<'run.created'>> = [];
  const results: Array<EventOf<'test.reported'>> = [];
  for (let r = 0; r < runs; r++) {
    const runId = newId('run');
    const run = { branch: `feature/area-${r % 5}`, commitSha: `c0ffee${r}`, createdAt: at };
    const base = { projectId, runId, actor, correlationId: `bench-${r}`, now: at };
    created.push(makeEvent('run.created', { ...base, data: {
      id: runId, status: 'running', branch: run.branch, commitSha: run.commitSha, commitMessage: 'bench', commitAuthor: 'bench',
      ciProvider: 'github', ciBuildId: `build-${r}`, ciBuildUrl: null, playwrightVersion: '1.50.0', workers: 4, shardCurrent: null,
      shardTotal: null, browser: 'chromium', os: 'linux', viewport: null, hostname: 'ci', runTitle: `bench run ${r}`, tags: ['@nightly'],
      grepPatterns: [], createdAt: at } }));
    for (let i = 0; i < perRun; i++) {
      const failed = i % 33 === 0;
      const fullTitle = `area ${i % 40} > feature ${i % 200} > case ${i}`;
      const filePath = `tests/area-${i % 40}.spec.ts`;
      results.push(makeEvent('test.reported', { ...base, data: {
        id: newId('test'), runId, testCaseId: testCaseIdOf(projectId, filePath, fullTitle, 'chromium'), suiteId: null,
        title: `case ${i}`, fullTitle, filePath, lineNumber: 10 + i, variant: 'chromium', status: failed ? 'failed' : 'passed',
        duration: 100 + (i % 900), retries: 0, attempt: 1, isFlaky: false, tags: ['@smoke', `@area-${i % 40}`],
        annotations: i % 10 === 0 ? [{ type: 'issue', description: `JIRA-${i}` }] : [],
        error: failed ? { message: `expect(received).toBe(expected) at case ${i}`, stack: `Error: expected 200, got 500\n    at ${filePath}:${10 + i}:5` } : null,
        steps: [
          { title: 'beforeEach hook', category: 'hook', status: 'passed', duration: 5, error: null, steps: [] },
          { title: `page.goto(/area/${i % 40})`, category: 'action', status: 'passed', duration: 40, error: null,
            steps: [{ title: 'wait for load', category: 'action', status: 'passed', duration: 30, error: null, steps: [] }] },
          { title: 'expect(locator).toBeVisible()', category: 'assertion', status: failed ? 'failed' : 'passed', duration: 12, error: null, steps: [] },
        ],
        attempts: [], stdout: `[worker ${i % 4}] ${'navigated, clicked, asserted; '.repeat(3 + (i % 10))}\n`, stderr: '',
        startedAt: at, createdAt: at, run } }));
    }
  }
  // One partition, in log order: the runs first, then each run's results.
  let offset = 0;
  const positioned = (event: Event): PositionedEvent => ({ partition: 0, offset: offset++, event, message: { key: null, value: null, headers: {} } });
  const batches: PositionedEvent[][] = [created.map(positioned)];
  for (let i = 0; i < results.length; i += batchSize) batches.push(results.slice(i, i + batchSize).map(positioned));
  return { runs: created, batches, results: results.length };
}
