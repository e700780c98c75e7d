import type { Event, EventType } from './events.ts';

// Example payloads for every event type, in a valid order for one run. Contract
// tests run each through every projector; docs/events.md shows them.
const project = 'proj_01JEXAMP1E0000000000000000';
const run = 'run_01JEXAMP1E0000000000000000';
const test = 'test_01JEXAMP1E0000000000000000';
const testCase = 'tc_01JEXAMP1E0000000000000000';
const suite = 'suite_01JEXAMP1E0000000000000000';
const runContext = { branch: 'main', commitSha: 'a1b2c3d4e5f6', createdAt: '2026-03-19T10:00:00.000Z' };
const envelope = (n: number, type: EventType, at: string, runId: string | null = run) => ({
  id: `evt_01JEXAMP1E00000000000000${String(n).padStart(2, '0')}`,
  type, version: 1 as const, projectId: project, runId, occurredAt: at, receivedAt: at,
  actor: { type: 'api_key' as const, id: 'key_01JEXAMP1E0000000000000000' }, correlationId: 'req-1',
});

export const EXAMPLE_EVENTS: Record<EventType, Event> = {
  'run.created': {
    ...envelope(1, 'run.created', '2026-03-19T10:00:00.000Z'),
    type: 'run.created',
    data: {
      id: run, status: 'running', branch: 'main', commitSha: 'a1b2c3d4e5f6', commitMessage: 'Add login flow tests',
      commitAuthor: 'jane@example.com', ciProvider: 'github-actions', ciBuildId: 'run-12345',
      ciBuildUrl: 'https://github.com/org/repo/actions/runs/12345', playwrightVersion: '1.52.0', workers: 4,
      shardCurrent: 1, shardTotal: 1, browser: 'chromium', os: 'linux', viewport: '1280x720', hostname: 'ci-runner-01',
      runTitle: 'Login Flow Tests', tags: ['smoke'], grepPatterns: ['@smoke'], createdAt: '2026-03-19T10:00:00.000Z',
    },
  },
  'suite.reported': {
    ...envelope(2, 'suite.reported', '2026-03-19T10:00:05.000Z'),
    type: 'suite.reported',
    data: { id: suite, runId: run, title: 'Login Page', filePath: 'tests/auth/login.spec.ts', parentSuiteId: null, reportedAt: '2026-03-19T10:00:05.000Z' },
  },
  'test.reported': {
    ...envelope(3, 'test.reported', '2026-03-19T10:01:23.000Z'),
    type: 'test.reported',
    data: {
      id: test, runId: run, testCaseId: testCase, suiteId: suite, title: 'should submit login form',
      fullTitle: 'Auth > Login Page > should submit login form', filePath: 'tests/auth/login.spec.ts', lineNumber: 35,
      variant: 'chromium', status: 'flaky', duration: 8320, retries: 1, attempt: 2, isFlaky: true, tags: ['@auth'],
      annotations: [{ type: 'issue', description: 'JIRA-123' }], error: null,
      steps: [
        { title: 'Before Hooks', category: 'hook', status: 'passed', duration: 120, error: null, steps: [] },
        { title: "locator.click('button[type=submit]')", category: 'action', status: 'passed', duration: 32, error: null, steps: [] },
      ],
      attempts: [
        { attempt: 1, status: 'failed', duration: 5000, error: { message: "Timed out waiting for selector '.dashboard'" } },
        { attempt: 2, status: 'passed', duration: 3320, error: null },
      ],
      stdout: '', stderr: '', startedAt: '2026-03-19T10:01:15.000Z', createdAt: '2026-03-19T10:01:23.000Z', run: runContext,
    },
  },
  'artifact.uploaded': {
    ...envelope(4, 'artifact.uploaded', '2026-03-19T10:01:30.000Z'),
    type: 'artifact.uploaded',
    data: {
      id: 'artifact_01JEXAMP1E0000000000000000', runId: run, testId: test, type: 'screenshot', fileName: 'screenshot.png',
      fileSize: 245678, mimeType: 'image/png', storageKey: `${project}/${run}/artifact_01JEXAMP1E0000000000000000.png`,
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', createdAt: '2026-03-19T10:01:30.000Z',
    },
  },
  'run.updated': {
    ...envelope(5, 'run.updated', '2026-03-19T10:04:05.000Z'),
    type: 'run.updated',
    data: { id: run, status: 'passed', stats: null, duration: null, updatedAt: '2026-03-19T10:04:05.000Z', run: runContext },
  },
  'test.quarantine_changed': {
    ...envelope(6, 'test.quarantine_changed', '2026-03-19T10:05:00.000Z', null),
    type: 'test.quarantine_changed',
    data: {
      testCaseId: testCase, isQuarantined: true, reason: 'flaky: 18 of 45 runs', mode: 'manual', owner: 'jane@example.com',
      expiresAt: '2026-04-19T10:05:00.000Z', changedAt: '2026-03-19T10:05:00.000Z',
    },
  },
  'run.deleted': {
    ...envelope(7, 'run.deleted', '2026-03-20T09:00:00.000Z'),
    type: 'run.deleted',
    data: { id: run, deletedAt: '2026-03-20T09:00:00.000Z' },
  },
  'project.deleted': {
    ...envelope(8, 'project.deleted', '2026-03-21T09:00:00.000Z', null),
    type: 'project.deleted',
    actor: { type: 'user', id: 'user_01JEXAMP1E0000000000000000' },
    data: { id: project, deletedAt: '2026-03-21T09:00:00.000Z' },
  },
};
