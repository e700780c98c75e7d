import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import {
  Outbox, RunledgerClient, RunledgerError, VERSION, detectCi, sendSuites, quarantineVerdict, sleep, type BatchItem, type QuarantineEntry, type RunCreate,
} from '../../sdk/src/index.ts';
import { attachmentsOf, isFinal, testBody, type PendingAttachment, type TestBody } from './map.ts';
import { readOptions, type RunledgerReporterOptions } from './options.ts';
import { SuiteTree } from './suites.ts';

export type { RunledgerReporterOptions };

type Meta = { key: string; attachments: PendingAttachment[]; title: string; suiteKey?: string };
type Upload = PendingAttachment & { testId: string; title: string; tries: number; notBefore: number };

const FAILED = new Set(['failed', 'timedOut', 'interrupted']);

// A Playwright reporter that streams results to Runledger while the run goes on.
// It never fails the run: every network problem is retried, buffered and, at the
// end, reported; the exit code is the tests' (or, opt-in, quarantine-aware).
export default class RunledgerReporter implements Reporter {
  private readonly o: RunledgerReporterOptions;
  private env = process.env;
  private disabled: string | null = null;
  private client!: RunledgerClient;
  private outbox!: Outbox<Meta>;
  private rootDir = process.cwd();
  private runBody!: RunCreate;
  private run: Promise<{ id: string; position: string | null }> | null = null;
  private runId: string | null = null;
  private project: Promise<string> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = Date.now();
  private shard: { current: number; total: number } | null = null;
  private pendingTests = new Map<string, TestCase>();
  private finals: TestBody[] = [];
  private uploads: Upload[] = [];
  private uploading = 0;
  private uploaded = 0;
  private failedUploads: Array<{ name: string; why: string }> = [];
  private skippedAttachments: string[] = [];
  private globalErrors = 0;
  private quarantineList: Promise<QuarantineEntry[] | null> | null = null;

  private suiteTree: SuiteTree | null = null;
  private suiteIds = new Map<string, string>();
  private suitesSent: Promise<Map<string, string>> | null = null;
  private suitesDone = false;
  private refusedSuites: string[] = [];

  // Loading the reporter reads its options and nothing else: no network, no files.
  constructor(options?: RunledgerReporterOptions) {
    const { options: o, problems } = readOptions(options);
    this.o = o;
    for (const p of problems) this.warn(p);
  }

  printsToStdio(): boolean {
    return false;
  }

  private log(line: string) {
    if (!this.o.quiet) process.stdout.write(`[runledger] ${line}\n`);
  }
  private warn(line: string) {
    process.stderr.write(`[runledger] ${line}\n`);
  }

  onBegin(config: FullConfig, suite: Suite): void {
    try {
      this.begin(config, suite);
    } catch (err) {
      this.disabled = `could not start: ${(err as Error).message}`;
      this.warn(`${this.disabled}; the tests run on, unreported`);
    }
  }

  private begin(config: FullConfig, suite: Suite) {
    const url = this.o.url ?? this.env.RUNLEDGER_URL;
    const apiKey = this.o.apiKey ?? this.env.RUNLEDGER_API_KEY;
    if (!url || !apiKey) {
      this.disabled = 'no API URL or key (set url and apiKey, or RUNLEDGER_URL and RUNLEDGER_API_KEY)';
      this.warn(`${this.disabled}: not reporting this run`);
      return;
    }
    if (!isHttpUrl(url)) {
      this.disabled = `the API URL ${JSON.stringify(url)} is not an http(s) URL`;
      this.warn(`${this.disabled}: not reporting this run`);
      return;
    }
    this.rootDir = this.o.rootDir ?? config.rootDir;
    this.shard = config.shard;
    const ci = detectCi(this.o.buildId ? { ...this.env, RUNLEDGER_BUILD_ID: this.o.buildId } : this.env);
    if (this.shard && this.shard.total > 1 && !ci.ciBuildId) {
      this.warn('sharded run without a CI build id: set RUNLEDGER_BUILD_ID (or buildId) to the same value in every shard so they report into one run');
    }
    try {
      this.suiteTree = new SuiteTree(suite, this.rootDir);
    } catch (err) {
      this.warn(`could not read the describe hierarchy (${(err as Error).message}): tests are sent without suites`);
    }
    const viewport = (config.projects[0]?.use as { viewport?: { width: number; height: number } | null })?.viewport;
    const projectId = this.o.projectId ?? this.env.RUNLEDGER_PROJECT_ID;
    this.runBody = {
      ...(projectId ? { projectId } : {}),
      status: 'running',
      branch: ci.branch, commitSha: ci.commitSha, commitMessage: ci.commitMessage, commitAuthor: ci.commitAuthor,
      ciProvider: ci.ciProvider, ciBuildId: ci.ciBuildId, ciBuildUrl: ci.ciBuildUrl,
      playwrightVersion: config.version, workers: config.workers,
      shardCurrent: this.shard?.current ?? null, shardTotal: this.shard?.total ?? null,
      browser: browsersOf(config) || null, os: process.platform, viewport: viewport ? `${viewport.width}x${viewport.height}` : null,
      hostname: hostname(), runTitle: this.o.runTitle ?? this.env.RUNLEDGER_RUN_TITLE ?? null, tags: this.o.tags ?? [],
      grepPatterns: [config.grep].flat().map(String).filter((g) => g !== '/.*/').slice(0, 100),
    } as RunCreate;
    this.client = new RunledgerClient({
      url, apiKey, userAgent: `runledger-playwright/${VERSION} playwright/${config.version}`, timeoutMs: 15_000, retry: { retries: 1 },
    });
    this.outbox = new Outbox<Meta>(this.client, {
      batchSize: this.o.batchSize ?? 500,
      maxMemoryItems: this.o.maxMemoryResults ?? 5000,
      maxItems: this.o.maxBufferedResults ?? 200_000,
      spoolDir: this.o.spoolDir,
      prepare: async (entries) => {
        const { id } = await this.ensureRun();
        const suites = await this.ensureSuites(id);
        return entries.map((e) => {
          const suiteId = e.meta.suiteKey ? suites.get(e.meta.suiteKey) : undefined;
          return { ...e.item, runId: id, ...(suiteId ? { suiteId } : {}) } as BatchItem;
        });
      },
      onAccepted: (entry, result) => {
        for (const a of entry.meta.attachments) this.uploads.push({ ...a, testId: result.id, title: entry.meta.title, tries: 0, notBefore: 0 });
      },
    });
    // The run exists from the start, so a dashboard shows it running.
    void this.ensureRun().catch(() => undefined);
    this.timer = setInterval(() => this.tick(), this.o.flushIntervalMs ?? 1000);
    this.timer.unref();
    this.log(`reporting to ${url}${this.shard ? ` (shard ${this.shard.current}/${this.shard.total})` : ''}`);
  }

  private ensureRun(): Promise<{ id: string; position: string | null }> {
    if (!this.run) {
      this.run = this.client.startRun(this.runBody).then((r) => {
        if (!this.runId) this.log(`run ${r.id}`);
        this.runId = r.id;
        return r;
      });
      this.run.catch(() => {
        this.run = null; // tried again with the next batch
      });
    }
    return this.run;
  }

  // The suites of this process's tests, created once, before any test names one
  // (the server checks that a suite exists in the run). A send that fails is
  // tried again with the next batch, for the suites still missing.
  private ensureSuites(runId: string): Promise<Map<string, string>> {
    if (!this.suiteTree || this.suitesDone) return Promise.resolve(this.suiteIds);
    if (!this.suitesSent) {
      this.suitesSent = (async () => {
        this.refusedSuites.push(...await sendSuites(this.client, runId, this.suiteTree!.specs, this.suiteIds));
        this.suitesDone = true; // all sent, or refused for good
        return this.suiteIds;
      })();
      this.suitesSent.catch(() => {
        this.suitesSent = null;
      });
    }
    return this.suitesSent;
  }

  private ensureProject(): Promise<string> {
    const given = this.runBody.projectId as string | undefined;
    if (given) return Promise.resolve(given);
    if (!this.project) {
      this.project = this.ensureRun().then(({ id, position }) => this.client.getRun(id, { position })).then((r) => r.projectId);
      this.project.catch(() => {
        this.project = null;
      });
    }
    return this.project;
  }

  private tick() {
    if (this.disabled) return;
    try {
      if (this.outbox.due) void this.outbox.sendOne().catch(() => undefined);
      this.pumpUploads(1);
    } catch (err) {
      this.warn(`could not send: ${(err as Error).message}`);
    }
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    if (this.disabled) return;
    try {
      if (!isFinal(test, result)) {
        this.pendingTests.set(test.id, test);
        return;
      }
      this.pendingTests.delete(test.id);
      this.enqueue(test);
    } catch (err) {
      this.warn(`could not record '${test.title}': ${(err as Error).message}`);
    }
  }

  private enqueue(test: TestCase) {
    const body = testBody(test, this.rootDir);
    this.finals.push({ ...body, steps: [], attempts: [], stdout: '', stderr: '', error: null, annotations: [] });
    const { files, skipped } = this.o.uploadAttachments === false ? { files: [], skipped: [] } : attachmentsOf(test, (p) => {
      try {
        return statSync(p).size;
      } catch {
        return null;
      }
    });
    this.skippedAttachments.push(...skipped.map((s) => `${body.fullTitle}: ${s}`));
    this.outbox.push({ type: 'test', ...body } as BatchItem, {
      key: test.id, attachments: files, title: body.fullTitle, suiteKey: this.suiteTree?.suiteKeyOf(test.id),
    });
    if (this.outbox.pending >= (this.o.batchSize ?? 500) && this.outbox.due) void this.outbox.sendOne().catch(() => undefined);
  }

  onError(_error: TestError): void {
    this.globalErrors++;
  }

  // Uploads attachments of accepted tests, `concurrency` at a time.
  private pumpUploads(concurrency: number) {
    while (this.uploading < concurrency) {
      const now = Date.now();
      const i = this.uploads.findIndex((u) => u.notBefore <= now);
      if (i < 0) return;
      const u = this.uploads.splice(i, 1)[0]!;
      this.uploading++;
      void this.upload(u).finally(() => {
        this.uploading--;
      });
    }
  }

  private async upload(u: Upload) {
    try {
      const projectId = await this.ensureProject();
      await this.client.upload({ file: u.path ?? u.body!, fileName: u.fileName, type: u.type, runId: this.runId!, projectId, testId: u.testId }, { retry: { retries: 2 } });
      this.uploaded++;
    } catch (err) {
      const e = err as RunledgerError;
      // A test the projection has not shown yet answers 404 for a while; the API away, 0/503.
      const again = e instanceof RunledgerError && (e.retryable || e.status === 404) && u.tries < 6;
      if (again) this.uploads.push({ ...u, tries: u.tries + 1, notBefore: Date.now() + 1000 * 2 ** u.tries });
      else this.failedUploads.push({ name: `${u.title}: ${u.fileName}`, why: e.message });
    }
  }

  async onEnd(result: FullResult): Promise<{ status?: FullResult['status'] } | undefined> {
    if (this.disabled) return undefined;
    try {
      return await this.end(result);
    } catch (err) {
      this.warn(`could not finish reporting: ${(err as Error).message}`);
      return undefined;
    }
  }

  private async end(result: FullResult): Promise<{ status?: FullResult['status'] } | undefined> {
    if (this.timer) clearInterval(this.timer);
    // Tests whose retries never came (the run was stopped): what they have is final.
    for (const t of this.pendingTests.values()) this.enqueue(t);
    this.pendingTests.clear();
    const deadline = Date.now() + (this.o.endTimeoutMs ?? 30_000);
    const wantQuarantine = (this.o.quarantine ?? ['1', 'true'].includes(this.env.RUNLEDGER_QUARANTINE ?? '')) && result.status === 'failed';
    if (wantQuarantine) this.quarantineList = this.fetchQuarantine(deadline);

    await this.outbox.drain(deadline);
    while ((this.uploads.length || this.uploading) && Date.now() < deadline) {
      this.pumpUploads(2);
      await sleep(50);
    }

    const counts = { totalTests: 0, passedTests: 0, failedTests: 0, skippedTests: 0, flakyTests: 0 };
    for (const t of this.finals) {
      counts.totalTests++;
      if (t.status === 'flaky') counts.flakyTests++;
      else if (FAILED.has(t.status)) counts.failedTests++;
      else if (t.status === 'skipped') counts.skippedTests++;
      else counts.passedTests++;
    }
    const runStatus = result.status === 'passed' ? 'passed' : result.status === 'interrupted' ? 'cancelled' : 'failed';
    let finished = false;
    if (this.runId) {
      try {
        await this.client.updateRun(this.runId, {
          status: runStatus, ...counts, duration: Math.round(result.duration), ...(this.shard ? { shardCurrent: this.shard.current } : {}),
        }, { retry: { retries: 3 }, deadline: Math.max(deadline, Date.now() + 5000) });
        finished = true;
      } catch (err) {
        this.warn(`could not mark the run finished: ${(err as Error).message}`);
      }
    }
    this.report(finished);

    if (!wantQuarantine) return undefined;
    return this.quarantineExit(result);
  }

  private async fetchQuarantine(deadline: number): Promise<QuarantineEntry[] | null> {
    for (;;) {
      try {
        return await this.client.quarantine(await this.ensureProject(), { retry: { retries: 2 }, deadline });
      } catch (err) {
        if (Date.now() + 1000 >= deadline || !(err instanceof RunledgerError && err.retryable)) {
          this.warn(`could not read the quarantine list (${(err as Error).message}): every failure counts`);
          return null;
        }
        await sleep(1000);
      }
    }
  }

  private async quarantineExit(result: FullResult): Promise<{ status?: FullResult['status'] } | undefined> {
    const failures = this.finals.filter((t) => FAILED.has(t.status));
    const verdict = quarantineVerdict(failures, await this.quarantineList);
    for (const q of verdict.quarantined) {
      this.log(`quarantined test failed: ${q.test.filePath} › ${q.test.fullTitle} [${q.test.variant}]${q.entry.reason ? ` (${q.entry.reason})` : ''}`);
    }
    if (verdict.allQuarantined && this.globalErrors === 0 && result.status === 'failed') {
      this.log(`every failure (${failures.length}) is a quarantined test: the run passes`);
      return { status: 'passed' };
    }
    return undefined;
  }

  private report(finished: boolean) {
    const o = this.outbox;
    const notSent = o.pending + o.rejected.length + o.dropped;
    const unsentUploads = this.uploads.length + this.failedUploads.length;
    if (notSent === 0 && unsentUploads === 0 && finished) {
      this.log(`sent ${o.accepted} results and ${this.uploaded} attachments to run ${this.runId}`);
    } else {
      const why = o.fatal ?? o.lastError;
      this.warn(`sent ${o.accepted} results and ${this.uploaded} attachments${this.runId ? ` to run ${this.runId}` : ''}; could NOT send ${notSent} results and ${unsentUploads} attachments${why ? ` (last error: ${why.message})` : ''}`);
      const lines: string[] = [];
      for (const r of o.rejected) lines.push(`rejected  ${r.entry.meta.title}: ${r.code}: ${r.message}`);
      const unsent = [...o.unsent()];
      for (const e of unsent) lines.push(`not sent  ${e.meta.title}`);
      if (o.dropped) lines.push(`dropped   ${o.dropped} results over the buffer limit`);
      for (const u of this.uploads) lines.push(`not sent  attachment ${u.title}: ${u.fileName}`);
      for (const u of this.failedUploads) lines.push(`failed    attachment ${u.name}: ${u.why}`);
      for (const l of lines.slice(0, 30)) this.warn(`  ${l}`);
      if (lines.length > 30) this.warn(`  … and ${lines.length - 30} more`);
      if (unsent.length) {
        const dir = this.o.spoolDir ?? tmpdir();
        const file = join(dir, `runledger-unsent-${process.pid}-${Date.now()}.ndjson`);
        try {
          mkdirSync(dir, { recursive: true });
          writeFileSync(file, unsent.map((e) => JSON.stringify(e.item)).join('\n') + '\n');
          this.warn(`  the unsent results are in ${file}`);
        } catch {
          /* best effort */
        }
      }
    }
    for (const s of this.skippedAttachments.slice(0, 10)) this.warn(`  attachment not uploaded: ${s}`);
    if (this.refusedSuites.length) {
      this.warn(`${this.refusedSuites.length} suites were refused, their tests were sent without them:`);
      for (const s of this.refusedSuites.slice(0, 10)) this.warn(`  suite not sent: ${s}`);
    }
    o.dispose();
  }
}

// The browsers of the run's projects: `use.browserName`, else the device preset's
// `defaultBrowserType` (what `devices['Desktop Chrome']` sets), in project order.
export function browsersOf(config: Pick<FullConfig, 'projects'>): string {
  const names = config.projects.map((p) => {
    const use = (p.use ?? {}) as { browserName?: unknown; defaultBrowserType?: unknown };
    const name = use.browserName ?? use.defaultBrowserType;
    return typeof name === 'string' ? name : null;
  });
  return [...new Set(names.filter((n): n is string => !!n))].join(',');
}

function isHttpUrl(url: string): boolean {
  try {
    return /^https?:$/.test(new URL(url).protocol);
  } catch {
    return false;
  }
}
