import { basename, relative, sep } from 'node:path';
import type { TestCase, TestError as PwError, TestResult, TestStep } from '@playwright/test/reporter';
import { expectedActual, stripAnsi, type ArtifactType, type TestCreate } from '../../sdk/src/index.ts';

// Playwright's view of a test, in Runledger's shape: one result per test with
// every attempt, the final attempt's steps, errors with expected/actual.

export type TestBody = Omit<TestCreate, 'runId' | 'projectId'> & { filePath: string; fullTitle: string; variant: string };
type Step = NonNullable<TestCreate['steps']>[number];
type Attempt = NonNullable<TestCreate['attempts']>[number];
type ErrorBody = NonNullable<TestCreate['error']>;

const MAX_STEP_DEPTH = 8;
const MAX_STEPS_PER_LEVEL = 1000;
const MAX_OUTPUT = 1_000_000;

// Playwright's step categories in ours.
export function stepCategory(category: string): Step['category'] {
  switch (category) {
    case 'hook': return 'hook';
    case 'fixture': return 'fixture';
    case 'pw:api': return 'action';
    case 'expect': return 'assertion';
    case 'test.step': return 'step';
    default: return 'other';
  }
}

export function errorOf(e: PwError | undefined): ErrorBody | null {
  if (!e) return null;
  const message = stripAnsi(e.message ?? e.value ?? 'error').slice(0, 65_536);
  return {
    message,
    ...(e.stack ? { stack: stripAnsi(e.stack).slice(0, MAX_OUTPUT) } : {}),
    ...expectedActual(message),
    ...(e.location ? { location: { file: e.location.file, line: e.location.line, column: e.location.column } } : {}),
  };
}

export function stepsOf(steps: TestStep[], rootDir: string, depth = 1): Step[] {
  return steps.slice(0, MAX_STEPS_PER_LEVEL).map((s) => {
    const skipped = (s as TestStep & { annotations?: Array<{ type: string }> }).annotations?.some((a) => a.type === 'skip');
    const error = errorOf(s.error);
    if (error?.location) error.location.file = relPath(error.location.file, rootDir);
    return {
      title: s.title.slice(0, 2000) || '(untitled step)',
      category: stepCategory(s.category),
      status: s.error ? 'failed' : skipped ? 'skipped' : 'passed',
      duration: Math.max(0, s.duration),
      error,
      steps: depth < MAX_STEP_DEPTH ? stepsOf(s.steps, rootDir, depth + 1) : [],
    };
  });
}

export const relPath = (file: string, rootDir: string) => {
  const rel = relative(rootDir, file);
  return (rel.startsWith('..') ? file : rel).split(sep).join('/');
};

// The identity of a test: the file relative to the root, the describe path and
// title joined with " > ", and the Playwright project.
export function identityOf(test: TestCase, rootDir: string): { filePath: string; fullTitle: string; title: string; variant: string } {
  const describes: string[] = [];
  for (let s: TestCase["parent"] | undefined = test.parent; s && s.type === 'describe'; s = s.parent) describes.unshift(s.title);
  return {
    filePath: relPath(test.location.file, rootDir),
    fullTitle: [...describes, test.title].join(' > ').slice(0, 2000),
    title: test.title.slice(0, 2000) || '(untitled)',
    variant: test.parent.project()?.name ?? '',
  };
}

// More attempts are coming when the last one failed and retries remain.
export function isFinal(test: TestCase, result: TestResult): boolean {
  return result.status === 'skipped' || test.outcome() !== 'unexpected' || result.retry >= test.retries;
}

export function statusOf(test: TestCase): TestBody['status'] {
  const outcome = test.outcome();
  if (outcome === 'skipped') return 'skipped';
  if (outcome === 'flaky') return 'flaky';
  if (outcome === 'expected') return 'passed';
  const last = test.results.at(-1)?.status;
  return last === 'timedOut' || last === 'interrupted' ? last : 'failed';
}

const output = (chunks: Array<string | Buffer>) => chunks.map((c) => (typeof c === 'string' ? c : c.toString('utf8'))).join('');

function joinedOutput(results: readonly TestResult[], key: 'stdout' | 'stderr'): string {
  const parts = results.map((r) => output(r[key]));
  const text = results.length > 1
    ? parts.map((p, i) => (p ? `--- attempt ${i + 1} ---\n${p}` : '')).filter(Boolean).join('\n')
    : parts[0] ?? '';
  return text.length > MAX_OUTPUT ? `${text.slice(0, MAX_OUTPUT - 60)}\n[… cut by the Runledger reporter]` : text;
}

export function testBody(test: TestCase, rootDir: string): TestBody {
  const results = test.results;
  const last = results.at(-1)!;
  const id = identityOf(test, rootDir);
  const status = statusOf(test);
  const attempts: Attempt[] = results.slice(0, 100).map((r) => ({
    attempt: r.retry + 1, status: r.status, duration: Math.max(0, r.duration), error: errorOf(r.errors[0] ?? r.error),
    startedAt: r.startTime.toISOString(),
  }));
  const seen = new Set<string>();
  const annotations = [...test.annotations, ...((last as TestResult & { annotations?: TestCase['annotations'] }).annotations ?? [])]
    .filter((a) => {
      const k = `${a.type}\u0000${a.description ?? ''}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .slice(0, 100)
    .map((a) => ({ type: a.type.slice(0, 200) || 'annotation', ...(a.description ? { description: a.description.slice(0, 5000) } : {}) }));
  const failing = status === 'failed' || status === 'timedOut' || status === 'interrupted';
  return {
    ...id,
    lineNumber: test.location.line,
    status,
    duration: Math.max(0, last.duration),
    retries: results.length - 1,
    attempt: last.retry + 1,
    isFlaky: status === 'flaky',
    tags: test.tags.slice(0, 100).map((t) => t.slice(0, 200)),
    annotations,
    error: failing ? errorOf(last.errors[0] ?? last.error) : null,
    steps: stepsOf(last.steps, rootDir),
    attempts,
    stdout: joinedOutput(results, 'stdout'),
    stderr: joinedOutput(results, 'stderr'),
    startedAt: results[0]!.startTime.toISOString(),
  };
}

export type PendingAttachment = { type: ArtifactType; path?: string; body?: Buffer; fileName: string; size: number };

const MiB = 1024 * 1024;
const LIMITS: Record<ArtifactType, number> = { screenshot: 5 * MiB, video: 100 * MiB, trace: 50 * MiB, report: 200 * MiB };

// Screenshots, videos and traces of every attempt (a flaky test's failed attempt
// is the interesting one). Other attachments are not artifacts Runledger keeps.
export function attachmentsOf(test: TestCase, sizeOf: (path: string) => number | null): { files: PendingAttachment[]; skipped: string[] } {
  const files: PendingAttachment[] = [];
  const skipped: string[] = [];
  for (const r of test.results) {
    for (const a of r.attachments) {
      const type: ArtifactType | null = a.contentType.startsWith('image/') ? 'screenshot'
        : a.contentType.startsWith('video/') ? 'video'
        : a.contentType === 'application/zip' && a.name === 'trace' ? 'trace' : null;
      if (!type) continue;
      const size = a.path ? sizeOf(a.path) : a.body?.length ?? null;
      const name = a.path ? basename(a.path) : `${a.name}.${a.contentType.split('/')[1] ?? 'bin'}`;
      const fileName = `${r.retry > 0 ? `retry${r.retry}-` : ''}${name}`;
      if (size === null) {
        skipped.push(`${fileName}: the file is gone`);
        continue;
      }
      if (size > LIMITS[type]) {
        skipped.push(`${fileName}: ${size} bytes, over the ${LIMITS[type]}-byte limit of a ${type}`);
        continue;
      }
      files.push({ type, ...(a.path ? { path: a.path } : { body: a.body! }), fileName, size });
    }
  }
  return { files, skipped };
}
