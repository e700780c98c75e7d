import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  Outbox, RunledgerClient, RunledgerError, VERSION, detectCi, quarantineVerdict, sendSuites, sleep, type BatchItem, type QuarantineEntry,
  type RunCreate, type SuiteSpec,
} from '../../sdk/src/index.ts';
import { parseJUnitFile, JUnitParseError, type JUnitCase } from './parse.ts';
import { identityOf, normalizePath, toTest, type ConvertOptions, type JUnitTest } from './convert.ts';

export const EXIT = { ok: 0, unquarantinedFailures: 1, badInput: 2, notSent: 3 } as const;

export type UploadOptions = {
  patterns: string[];
  url?: string;
  apiKey?: string;
  projectId?: string;
  variant?: string;
  root?: string;
  runTitle?: string;
  tags?: string[];
  shard?: { current: number; total: number };
  dryRun?: boolean;
  failOnUnquarantined?: boolean;
  batchSize?: number;
  // How long to keep trying to send before giving up (ms).
  sendTimeoutMs?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  out?: (line: string) => void;
  err?: (line: string) => void;
  client?: RunledgerClient;
  // Told about each test result as it is read (dry run or not).
  onTest?: (t: JUnitTest) => void;
};

export type UploadResult = {
  exitCode: number;
  runId: string | null;
  counts: Record<'total' | 'passed' | 'failed' | 'skipped' | 'flaky', number>;
  sent: number;
  notSent: number;
  quarantinedFailures: JUnitTest[];
  unquarantinedFailures: JUnitTest[];
};

const FAILED = new Set(['failed', 'timedOut', 'interrupted']);

// The files the patterns name, in a stable order. Only these are ever opened.
export async function expandPatterns(patterns: string[], cwd: string): Promise<{ files: string[]; missing: string[] }> {
  const files = new Set<string>();
  const missing: string[] = [];
  for (const p of patterns) {
    // tinyglobby loads only for a pattern that may be one: a plain path costs nothing.
    const globs = /[*?[\]{}()!]/.test(p) ? await import('tinyglobby') : null;
    if (globs?.isDynamicPattern(p)) {
      const found = await globs.glob(p, { cwd, absolute: true, onlyFiles: true, dot: false });
      if (found.length === 0) missing.push(p);
      for (const f of found.sort()) files.add(f);
    } else {
      const abs = new URL(p, `file://${cwd.replace(/\/?$/, '/')}`).pathname;
      const s = await stat(abs).catch(() => null);
      if (!s?.isFile()) missing.push(p);
      else files.add(abs);
    }
  }
  return { files: [...files], missing };
}

// Repeats of one test case within one suite are its retries.
const repeatKey = (c: JUnitCase, opts: ConvertOptions) => {
  const id = identityOf(c, opts);
  return createHash('sha1').update(`${c.suiteIndex}\u0000${id.filePath}\u0000${id.fullTitle}`).digest('base64').slice(0, 16);
};

// Reads every file, handing each test (its repeats merged) to `emit`. With
// `repeats` from a first pass, repeats are held only until their last one is read.
async function readTests(files: string[], opts: ConvertOptions, repeats: Map<string, number> | null, emit: (t: JUnitTest, c: JUnitCase) => void | Promise<void>) {
  for (const [fileIndex, file] of files.entries()) {
    const held = new Map<string, JUnitCase[]>();
    await parseJUnitFile(file, async (c) => {
      const key = `${fileIndex}:${repeatKey(c, opts)}`;
      const expected = repeats?.get(key) ?? 1;
      if (expected === 1) return emit(toTest([c], opts), c);
      const list = held.get(key) ?? [];
      list.push(c);
      if (list.length < expected) held.set(key, list);
      else {
        held.delete(key);
        await emit(toTest(list, opts), c);
      }
    });
  }
}

// The suites of the reports: each <testsuite> with a name, nested as in the file,
// with its own `file` attribute (PHPUnit, Playwright write one) as its file path.
// One suite per (file, name), as on the server: the same suite in two shards is one.
class JUnitSuites {
  readonly specs: SuiteSpec[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly conv: ConvertOptions) {}

  private chain(c: JUnitCase): SuiteSpec[] {
    const out: SuiteSpec[] = [];
    for (const [i, raw] of c.suites.entries()) {
      const filePath = normalizePath(c.suiteFiles[i] ?? null, this.conv.root) || null;
      const title = raw.trim().slice(0, 2000);
      if (!title) continue;
      const key = `${filePath ?? ''}\u0000${title}`;
      if (out.some((s) => s.key === key)) continue;
      out.push({ key, title, filePath, parentKey: out.at(-1)?.key ?? null });
    }
    return out;
  }

  add(c: JUnitCase) {
    for (const s of this.chain(c)) {
      if (this.seen.has(s.key)) continue;
      this.seen.add(s.key);
      this.specs.push(s);
    }
  }

  keyOf(c: JUnitCase): string | undefined {
    return this.chain(c).at(-1)?.key;
  }
}

export async function uploadJUnit(o: UploadOptions): Promise<UploadResult> {
  const env = o.env ?? process.env;
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = o.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cwd = o.cwd ?? process.cwd();
  const conv: ConvertOptions = { variant: o.variant ?? '', root: o.root ?? cwd };
  const result: UploadResult = {
    exitCode: EXIT.ok, runId: null, counts: { total: 0, passed: 0, failed: 0, skipped: 0, flaky: 0 }, sent: 0, notSent: 0,
    quarantinedFailures: [], unquarantinedFailures: [],
  };
  const bad = (message: string) => {
    err(`runledger: ${message}`);
    err('runledger: nothing was sent');
    result.exitCode = EXIT.badInput;
    return result;
  };

  if (o.patterns.length === 0) return bad('give at least one JUnit XML file or glob');
  const { files, missing } = await expandPatterns(o.patterns, cwd);
  if (missing.length) return bad(`no such file${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);

  // Pass 1: every file must be a well-formed report before anything is sent.
  const repeats = new Map<string, number>();
  const suites = new JUnitSuites(conv);
  const failures: JUnitTest[] = [];
  try {
    for (const [fileIndex, file] of files.entries()) {
      await parseJUnitFile(file, (c) => {
        const key = `${fileIndex}:${repeatKey(c, conv)}`;
        repeats.set(key, (repeats.get(key) ?? 0) + 1);
        suites.add(c);
      });
    }
  } catch (e) {
    if (e instanceof JUnitParseError) return bad(e.message);
    throw e;
  }
  for (const [k, n] of repeats) if (n === 1) repeats.delete(k);

  const count = (t: JUnitTest) => {
    o.onTest?.(t);
    result.counts.total++;
    const s = t.status === 'flaky' ? 'flaky' : FAILED.has(t.status) ? 'failed' : t.status === 'skipped' ? 'skipped' : 'passed';
    result.counts[s]++;
    if (s === 'failed') failures.push({ ...t, stdout: '', stderr: '', attempts: [], error: null });
  };

  const ci = detectCi(env);
  const run: RunCreate & { projectId?: string } = {
    ...(o.projectId ? { projectId: o.projectId } : {}),
    status: 'running',
    branch: ci.branch, commitSha: ci.commitSha, commitMessage: ci.commitMessage, commitAuthor: ci.commitAuthor,
    ciProvider: ci.ciProvider, ciBuildId: ci.ciBuildId, ciBuildUrl: ci.ciBuildUrl,
    shardCurrent: o.shard?.current ?? null, shardTotal: o.shard?.total ?? null,
    hostname: hostname(), runTitle: o.runTitle ?? null, tags: o.tags ?? [],
  } as RunCreate;

  if (o.dryRun) {
    out(`dry run: nothing is sent. Run: ${JSON.stringify(run)}`);
    await readTests(files, conv, repeats, (t) => {
      count(t);
      const tries = (t.attempts?.length ?? 0) > 1 ? ` (${t.attempts!.map((a) => a.status).join(' → ')})` : '';
      out(`${t.status.padEnd(7)} ${t.filePath ? `${t.filePath} :: ` : ''}${t.fullTitle}${t.variant ? ` [${t.variant}]` : ''}${tries}`);
    });
    out(summary(result));
    return result;
  }

  const url = o.url ?? env.RUNLEDGER_URL;
  const apiKey = o.apiKey ?? env.RUNLEDGER_API_KEY;
  if (!o.client && (!url || !apiKey)) return bad('set --url and --api-key (or RUNLEDGER_URL and RUNLEDGER_API_KEY)');
  const client = o.client ?? new RunledgerClient({ url: url!, apiKey, userAgent: `runledger-junit/${VERSION}`, retry: { retries: 2 } });
  const deadline = Date.now() + (o.sendTimeoutMs ?? 120_000);

  // The run: a batch item, so the key's own project is meant when none is given.
  let runId: string;
  let position: string | null;
  try {
    ({ id: runId, position } = await client.startRun(run, { retry: { retries: 20 }, deadline }));
  } catch (e) {
    err(`runledger: could not create the run: ${(e as Error).message}`);
    err('runledger: nothing was sent');
    result.exitCode = EXIT.notSent;
    return result;
  }
  result.runId = runId;

  // The <testsuite> nesting, before the tests that name its suites.
  const suiteIds = new Map<string, string>();
  for (;;) {
    try {
      for (const line of await sendSuites(client, runId, suites.specs, suiteIds)) err(`runledger: suite not sent (its tests go without it): ${line}`);
      break;
    } catch (e) {
      if (Date.now() >= deadline || (e instanceof RunledgerError && !e.retryable)) {
        err(`runledger: could not send the suites (${(e as Error).message}); the tests go without them`);
        break;
      }
      await sleep(1000);
    }
  }

  const outbox = new Outbox<null>(client, { batchSize: o.batchSize ?? 500 });
  await readTests(files, conv, repeats, async (t, c) => {
    count(t);
    const suiteId = suiteIds.get(suites.keyOf(c) ?? '');
    outbox.push({ type: 'test', runId, ...t, ...(suiteId ? { suiteId } : {}) } as BatchItem, null);
    // Keep at most one batch in memory: send full ones as they fill.
    const size = o.batchSize ?? 500;
    if (outbox.pending >= size) await outbox.drain(deadline, size - 1);
  });
  await outbox.drain(deadline);
  result.sent = outbox.accepted;
  result.notSent = outbox.pending + outbox.rejected.length + outbox.dropped;

  // Finish this shard (or the run): the server adds shards' stats up.
  const status = result.counts.failed > 0 ? 'failed' : 'passed';
  try {
    await client.updateRun(runId, {
      status, shardCurrent: o.shard?.current,
      totalTests: result.counts.total, passedTests: result.counts.passed, failedTests: result.counts.failed,
      skippedTests: result.counts.skipped, flakyTests: result.counts.flaky,
    } as Parameters<RunledgerClient['updateRun']>[1]);
  } catch (e) {
    err(`runledger: could not mark the run finished: ${(e as Error).message}`);
  }

  out(`runledger: run ${runId}: ${summary(result)}`);
  if (result.notSent > 0) {
    err(`runledger: ${result.notSent} of ${result.counts.total} test results could not be sent${outbox.lastError || outbox.fatal ? ` (last error: ${(outbox.fatal ?? outbox.lastError)!.message})` : ''}`);
    for (const r of outbox.rejected.slice(0, 20)) err(`  rejected: ${(r.entry.item as { fullTitle?: string }).fullTitle}: ${r.code}: ${r.message}`);
    for (const e of [...outbox.unsent()].slice(0, 20)) err(`  not sent: ${(e.item as { fullTitle?: string }).fullTitle}`);
    result.exitCode = EXIT.notSent;
  }
  outbox.dispose();

  if (o.failOnUnquarantined) {
    let entries: QuarantineEntry[] | null = null;
    if (failures.length) {
      try {
        const projectId = o.projectId ?? env.RUNLEDGER_PROJECT_ID ?? (await client.getRun(runId, { position })).projectId;
        entries = await client.quarantine(projectId);
      } catch (e) {
        err(`runledger: could not read the quarantine list (${(e as Error).message}); every failure counts`);
      }
    }
    const verdict = quarantineVerdict(failures, entries);
    result.quarantinedFailures = verdict.quarantined.map((q) => q.test);
    result.unquarantinedFailures = verdict.unquarantined;
    for (const q of verdict.quarantined) out(`runledger: quarantined, not failing the build: ${describe(q.test)}${q.entry.reason ? ` (${q.entry.reason})` : ''}`);
    if (verdict.unquarantined.length) {
      for (const t of verdict.unquarantined) err(`runledger: failed: ${describe(t)}`);
      result.exitCode = EXIT.unquarantinedFailures;
    }
  }
  return result;
}

const describe = (t: JUnitTest) => `${t.filePath ? `${t.filePath} :: ` : ''}${t.fullTitle}${t.variant ? ` [${t.variant}]` : ''}`;
const summary = (r: UploadResult) =>
  `${r.counts.total} tests: ${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.skipped} skipped, ${r.counts.flaky} flaky`;
