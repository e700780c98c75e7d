import { newId, testCaseIdOf } from '../../schemas/ids.ts';
import { makeEvent } from '../../domain/events.ts';
import type { Event } from '../../schemas/events.ts';

// Events built the way ingest builds them, for tests whose subject is a
// projection rather than the HTTP API: they go through the real EventLog.
const actor = { type: 'system' as const, id: 'test' };

export function runEvents(projectId: string, opts: { tests: number; at?: Date; branch?: string }): { runId: string; events: Event[] } {
  const runId = newId('run');
  const at = (opts.at ?? new Date()).toISOString();
  const run = { branch: opts.branch ?? 'main', commitSha: 'c0ffee', createdAt: at };
  const base = { projectId, runId, actor, correlationId: null, now: at };
  const events: Event[] = [makeEvent('run.created', { ...base, data: {
    id: runId, status: 'running', branch: run.branch, commitSha: run.commitSha, commitMessage: null, commitAuthor: null,
    ciProvider: null, ciBuildId: null, ciBuildUrl: null, playwrightVersion: null, workers: null, shardCurrent: null,
    shardTotal: null, browser: null, os: null, viewport: null, hostname: null, runTitle: 'generated', tags: [],
    grepPatterns: [], createdAt: at } })];
  for (let i = 0; i < opts.tests; i++) {
    const status = i % 10 === 0 ? 'failed' : i % 17 === 0 ? 'flaky' : i % 23 === 0 ? 'skipped' : 'passed';
    const fullTitle = `generated > case ${i}`;
    events.push(makeEvent('test.reported', { ...base, data: {
      id: newId('test'), runId, testCaseId: testCaseIdOf(projectId, 'gen.spec.ts', fullTitle, ''), suiteId: null,
      title: `case ${i}`, fullTitle, filePath: 'gen.spec.ts', lineNumber: i, variant: '', status, duration: 10 + i,
      retries: status === 'flaky' ? 1 : 0, attempt: status === 'flaky' ? 2 : 1, isFlaky: status === 'flaky', tags: [],
      annotations: [], error: status === 'failed' ? { message: `boom ${i}` } : null,
      steps: [
        { title: 'hook', category: 'hook', status: 'passed', duration: 1, error: null, steps: [] },
        { title: 'act', category: 'action', status: 'passed', duration: 2, error: null,
          steps: [{ title: 'inner', category: 'action', status: 'passed', duration: 1, error: null, steps: [] }] },
      ],
      attempts: [], stdout: 'x'.repeat(200), stderr: '', startedAt: at, createdAt: at, run } }));
  }
  events.push(makeEvent('run.updated', { ...base, data: { id: runId, status: 'failed', stats: null, duration: null, updatedAt: at, run } }));
  return { runId, events };
}

export const STEPS_PER_GENERATED_TEST = 3;
