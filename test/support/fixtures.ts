// Realistic request bodies for ingest tests.
export function runBody(projectId: string, extra: Record<string, unknown> = {}) {
  return {
    projectId, status: 'running', branch: 'main', commitSha: 'a1b2c3d4e5f6', commitMessage: 'Add login flow tests',
    ciProvider: 'github-actions', ciBuildId: `build-${Math.random().toString(36).slice(2)}`, playwrightVersion: '1.52.0',
    workers: 4, browser: 'chromium', os: 'linux', runTitle: 'Nightly', tags: ['smoke'], ...extra,
  };
}

export function testBody(projectId: string, runId: string, i: number, extra: Record<string, unknown> = {}) {
  return {
    runId, projectId,
    title: `case ${i}`,
    fullTitle: `Suite ${i % 7} > case ${i}`,
    filePath: `tests/area-${i % 7}.spec.ts`,
    lineNumber: 10 + i,
    status: 'passed',
    duration: 100 + i,
    retries: 0,
    attempt: 1,
    tags: ['@smoke'],
    annotations: [{ type: 'slow', description: 'network wait' }],
    steps: [
      { title: 'Before Hooks', category: 'hook', status: 'passed', duration: 5 },
      { title: `page.goto('/page/${i}')`, category: 'action', status: 'passed', duration: 40,
        steps: [{ title: 'navigate', category: 'action', status: 'passed', duration: 30 }] },
      { title: 'expect(locator).toBeVisible()', category: 'assertion', status: 'passed', duration: 3 },
    ],
    stdout: `log line for ${i}\n`,
    stderr: '',
    ...extra,
  };
}
