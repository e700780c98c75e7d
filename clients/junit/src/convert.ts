import { isAbsolute, relative } from 'node:path';
import { expectedActual, type TestCreate } from '../../sdk/src/index.ts';
import type { JUnitCase, JUnitFailure } from './parse.ts';

// A JUnit test case as a Runledger test result. Its identity (file path, full
// title, variant) must not change between uploads of the same test, so nothing
// that varies per machine or per run goes into it: no suite names (Karma puts
// the browser version there, pytest the host), no absolute paths.

export type JUnitTest = Omit<TestCreate, 'runId' | 'projectId'> & { filePath: string; fullTitle: string; variant: string };
type Attempt = NonNullable<TestCreate['attempts']>[number];
type TestError = NonNullable<TestCreate['error']>;

export type ConvertOptions = { variant?: string; root?: string };

const SOURCE_FILE = /\.(spec|test|cy|e2e)\.[cm]?[jt]sx?$|\.[cm]?[jt]sx?$|\.(py|rb|php|go|java|kt|cs|scala|groovy|rs|swift)$/;

// Forward slashes, relative to the root when under it, no leading ./
export function normalizePath(p: string | null, root = process.cwd()): string {
  if (!p) return '';
  let out = p.replace(/\\/g, '/');
  if (isAbsolute(out) || /^[A-Za-z]:\//.test(out)) {
    const rel = relative(root, out).replace(/\\/g, '/');
    if (!rel.startsWith('..') && !isAbsolute(rel)) out = rel;
  }
  return out.replace(/^(\.\/)+/, '');
}

// Karma's classname starts with the browser (name and version, spaces and dots as _).
function withoutBrowserPrefix(classname: string, suites: string[]): string {
  const browser = suites.at(-1);
  if (!browser || !/\(.*\)/.test(browser)) return classname;
  const prefix = `${browser.replace(/ /g, '_').replace(/\./g, '_')}.`;
  return classname.startsWith(prefix) ? classname.slice(prefix.length) : classname;
}

function errorOf(f: JUnitFailure): TestError {
  const message = (f.message || f.stack.trim().split('\n')[0] || (f.type ?? f.kind)).slice(0, 65_536);
  return { message, ...(f.stack.trim() ? { stack: f.stack.slice(0, 1_000_000) } : {}), ...expectedActual(`${f.message}\n${f.stack}`) };
}

export function identityOf(c: JUnitCase, opts: ConvertOptions = {}): { filePath: string; fullTitle: string; title: string; variant: string } {
  let classname = withoutBrowserPrefix(c.classname, c.suites);
  let file = c.file ?? c.suiteFile;
  // vitest and Playwright put the file where the class would be.
  if (!file && classname && SOURCE_FILE.test(classname)) {
    file = classname;
    classname = '';
  }
  const filePath = normalizePath(file, opts.root);
  // RSpec's classname is the file again (spec/cart_spec.rb → spec.cart_spec).
  if (filePath && classname === filePath.replace(/\.[^./]+$/, '').replace(/\//g, '.')) classname = '';
  const name = c.name.trim();
  const fullTitle = !classname || name.startsWith(classname) || name.endsWith(classname) ? name : `${classname} > ${name}`;
  return { filePath, fullTitle: fullTitle.slice(0, 2000), title: name.slice(0, 2000), variant: opts.variant ?? '' };
}

const STATUS_ORDER = { failed: 0, passed: 1 } as const;

// One JUnit test case (and any repeats of it in the same suite: retries written
// by gotestsum --rerun-fails or Gradle's test-retry plugin) as one result.
export function toTest(occurrences: JUnitCase[], opts: ConvertOptions = {}): JUnitTest {
  const first = occurrences[0]!;
  const id = identityOf(first, opts);
  const attempts: Attempt[] = [];
  const push = (status: 'passed' | 'failed' | 'skipped', duration: number, error: TestError | null) =>
    attempts.push({ attempt: attempts.length + 1, status, duration, error });

  // Failed tries first (Surefire's flaky runs, then each repeat's own), passes last:
  // a rerun tool only runs a test again after it failed.
  const ordered = [...occurrences].sort((a, b) => STATUS_ORDER[a.failures.length ? 'failed' : 'passed'] - STATUS_ORDER[b.failures.length ? 'failed' : 'passed']);
  for (const c of ordered) {
    for (const f of c.flakyRuns) push('failed', 0, errorOf(f));
    if (c.skipped && !c.failures.length) push('skipped', c.durationMs, null);
    else if (c.failures.length) {
      push('failed', c.durationMs, errorOf(c.failures[0]!));
      for (const f of c.reruns) push('failed', 0, errorOf(f));
    } else push('passed', c.durationMs, null);
  }
  const last = attempts.at(-1)!;
  const anyFailed = attempts.some((a) => a.status === 'failed');
  const status = last.status === 'passed' && anyFailed ? 'flaky' : last.status;
  const failures = ordered.flatMap((c) => c.failures);
  const annotations: Array<{ type: string; description?: string }> = [];
  if (failures[0]) annotations.push({ type: `junit:${failures[0].kind}`, description: failures[0].type ?? '' });
  const skipped = ordered.find((c) => c.skipped)?.skipped;
  if (status === 'skipped') annotations.push({ type: 'skip', ...(skipped?.message ? { description: skipped.message.slice(0, 5000) } : {}) });
  for (const c of ordered) for (const [k, v] of c.properties) annotations.push({ type: k.slice(0, 200) || 'property', description: v.slice(0, 5000) });
  const join = (key: 'stdout' | 'stderr') => ordered.map((c) => c[key]).filter((s) => s.trim()).join('\n').slice(0, 1_000_000);
  return {
    title: id.title,
    fullTitle: id.fullTitle,
    filePath: id.filePath,
    variant: id.variant,
    lineNumber: first.line,
    status,
    duration: attempts.reduce((n, a) => n + (a.duration ?? 0), 0),
    retries: attempts.length - 1,
    attempt: attempts.length,
    isFlaky: status === 'flaky',
    annotations: annotations.slice(0, 100),
    error: status === 'failed' ? attempts.filter((a) => a.status === 'failed').at(-1)!.error : null,
    attempts: attempts.slice(0, 100),
    stdout: join('stdout'),
    stderr: join('stderr'),
  };
}
