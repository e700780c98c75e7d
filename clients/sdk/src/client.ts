import { randomUUID } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { RunledgerError, parseRetryAfter } from './errors.ts';
import { DEFAULT_RETRY, delayBefore, sleep, type RetryPolicy } from './retry.ts';
import type {
  Artifact, ArtifactType, BatchItem, BatchResponse, HistoryEntry, HistoryFilter, List, QuarantineEntry, RunCreate, RunCreated,
  RunDetails, RunPatch, RunSummary, RunsFilter, RunUpdated, Step, Suite, SuiteCreate, TestCreate, TestDetails, TestReported, TestsFilter,
} from './types.ts';

export type ClientOptions = {
  // Base URL of the API, e.g. http://127.0.0.1:4000 (a trailing /api is tolerated).
  url: string;
  apiKey?: string;
  // A user's JWT instead of an API key.
  token?: string;
  retry?: Partial<RetryPolicy>;
  // Per try; a try that takes longer is abandoned and counts as a failed try.
  timeoutMs?: number;
  userAgent?: string;
  fetch?: typeof fetch;
  // Told about every retry (for logs).
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; error: RunledgerError }) => void;
};

export type RequestOptions = {
  body?: unknown;
  // A body built anew for each try (multipart streams cannot be sent twice).
  form?: () => Promise<FormData> | FormData;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  // Every POST carries one (a fresh UUID unless given); all tries of one call share it,
  // so a retry after a lost answer returns the first answer instead of writing twice.
  idempotencyKey?: string;
  // Read-your-writes: X-Runledger-Position of an earlier write.
  position?: string | null;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  // No retry starts after this time (epoch ms): the last error is thrown instead.
  deadline?: number;
};

export type Response<T> = { status: number; body: T; headers: Headers; position: string | null; replayed: boolean };

export type UploadInput = {
  // A path on disk (streamed, not read into memory) or the bytes.
  file: string | Blob | Uint8Array;
  fileName?: string;
  type: ArtifactType;
  runId: string;
  projectId: string;
  testId?: string | null;
};

const JSON_TYPE = 'application/json';

export class RunledgerClient {
  readonly baseUrl: string;
  private readonly retry: RetryPolicy;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    if (!options.url) throw new Error('RunledgerClient: `url` is required');
    this.baseUrl = options.url.replace(/\/+$/, '').replace(/\/api$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? fetch;
  }

  // One HTTP call, retried while the failure is retryable (see RunledgerError.retryable).
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Response<T>> {
    const policy = { ...this.retry, ...opts.retry };
    const idempotencyKey = method === 'POST' ? (opts.idempotencyKey ?? randomUUID()) : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, opts, idempotencyKey);
      } catch (err) {
        if (!(err instanceof RunledgerError) || !err.retryable || attempt > policy.retries || opts.signal?.aborted) throw err;
        const delayMs = delayBefore(attempt, err, policy);
        if (opts.deadline !== undefined && Date.now() + delayMs >= opts.deadline) throw err;
        this.options.onRetry?.({ method, path, attempt, delayMs, error: err });
        await sleep(delayMs, opts.signal);
      }
    }
  }

  private async once<T>(method: string, path: string, opts: RequestOptions, idempotencyKey: string | undefined): Promise<Response<T>> {
    const headers: Record<string, string> = { accept: JSON_TYPE, ...opts.headers };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    else if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    if (opts.position) headers['x-runledger-position'] = opts.position;
    let body: BodyInit | undefined;
    if (opts.form) body = await opts.form();
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = JSON_TYPE;
    }
    // A deadline cuts a try short too, so a slow API cannot hold a caller past it.
    const timeoutMs = opts.deadline === undefined ? this.options.timeoutMs ?? 30_000
      : Math.max(1, Math.min(this.options.timeoutMs ?? 30_000, opts.deadline - Date.now()));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: globalThis.Response;
    let text: string;
    try {
      res = await this.fetchImpl(this.url(path, opts.query), { method, headers, body, signal });
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new RunledgerError(`${method} ${path}: ${why}`, 0, 'network_error', { cause: why });
    }
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
      throw new RunledgerError(
        `${method} ${path}: ${res.status} ${error?.message ?? (typeof parsed === 'string' ? parsed.slice(0, 200) : res.statusText)}`,
        res.status, error?.code ?? `http_${res.status}`, error?.details ?? {}, parseRetryAfter(res.headers.get('retry-after')),
      );
    }
    return {
      status: res.status, body: parsed as T, headers: res.headers,
      position: res.headers.get('x-runledger-position'), replayed: res.headers.get('idempotent-replayed') === 'true',
    };
  }

  private url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private async body<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    return (await this.request<T>(method, path, opts)).body;
  }

  // ---- health
  async health(): Promise<{ status: string }> {
    return this.body('GET', '/health', { retry: { retries: 0 } });
  }

  // ---- writes
  createRun(body: RunCreate, opts?: RequestOptions): Promise<Response<RunCreated>> {
    return this.request('POST', '/api/runs', { ...opts, body });
  }
  updateRun(runId: string, body: RunPatch, opts?: RequestOptions): Promise<Response<RunUpdated>> {
    return this.request('PATCH', `/api/runs/${encodeURIComponent(runId)}`, { ...opts, body });
  }
  async deleteRun(runId: string): Promise<void> {
    await this.request('DELETE', `/api/runs/${encodeURIComponent(runId)}`);
  }
  reportTest(body: TestCreate, opts?: RequestOptions): Promise<Response<TestReported>> {
    return this.request('POST', '/api/tests', { ...opts, body });
  }
  reportSuite(body: SuiteCreate, opts?: RequestOptions): Promise<Response<Record<string, unknown> & { id: string }>> {
    return this.request('POST', '/api/test-suites', { ...opts, body });
  }
  // POST /api/ingest/batch: each item accepted or rejected on its own.
  batch(items: BatchItem[], opts?: RequestOptions): Promise<Response<BatchResponse>> {
    return this.request('POST', '/api/ingest/batch', { ...opts, body: items });
  }

  // Creates a run through the batch endpoint, where projectId may be left out
  // (the API key's project). Answers its id and the position of its event.
  async startRun(body: Omit<RunCreate, 'projectId'> & { projectId?: string }, opts?: RequestOptions): Promise<{ id: string; position: string | null }> {
    const res = await this.batch([{ type: 'run', ...body } as BatchItem], opts);
    const r = res.body.results[0];
    if (!r) throw new RunledgerError('the batch answered no result for the run', 500, 'internal_error');
    if (r.status !== 'accepted') throw new RunledgerError(`the run was refused: ${r.error.message}`, 400, r.error.code, r.error.details);
    return { id: r.id, position: res.position };
  }

  // POST /api/upload (multipart). A path is streamed from disk on every try.
  async upload(input: UploadInput, opts?: RequestOptions): Promise<Response<Artifact>> {
    const fileName = input.fileName ?? (typeof input.file === 'string' ? basename(input.file) : 'file');
    const form = async () => {
      const f = new FormData();
      // The fields go first: the server reads the type before the file arrives.
      f.append('type', input.type);
      f.append('runId', input.runId);
      f.append('projectId', input.projectId);
      if (input.testId) f.append('testId', input.testId);
      const blob = typeof input.file === 'string' ? await openAsBlob(input.file)
        : input.file instanceof Blob ? input.file : new Blob([input.file as Uint8Array<ArrayBuffer>]);
      f.append('file', blob, fileName);
      return f;
    };
    const res = await this.request<Artifact>('POST', '/api/upload', { ...opts, form });
    return { ...res, body: this.withAbsoluteUrl(res.body) };
  }

  // An artifact's signed URL should be absolute. A server without RUNLEDGER_PUBLIC_URL
  // builds it from Koa 3's ctx.origin, which is the request's Origin header (so
  // "null/artifacts/…" for API callers): then the URL is taken as relative to this
  // client's base URL, where the API serves /artifacts/ itself.
  private withAbsoluteUrl(a: Artifact): Artifact {
    if (!a || typeof a.url !== 'string' || /^https?:\/\//.test(a.url)) return a;
    const i = a.url.indexOf('/artifacts/');
    return i >= 0 ? { ...a, url: this.baseUrl + a.url.slice(i) } : a;
  }

  // ---- reads
  getRun(runId: string, opts?: RequestOptions): Promise<RunDetails> {
    return this.body('GET', `/api/runs/${encodeURIComponent(runId)}`, opts);
  }
  listRuns(filter: RunsFilter = {}, opts?: RequestOptions): Promise<List<RunSummary>> {
    return this.body('GET', '/api/runs', { ...opts, query: filter });
  }
  listTests(filter: TestsFilter = {}, opts?: RequestOptions): Promise<List<TestDetails>> {
    return this.body('GET', '/api/tests', { ...opts, query: filter });
  }
  getTest(testId: string, opts?: RequestOptions): Promise<TestDetails> {
    return this.body('GET', `/api/tests/${encodeURIComponent(testId)}`, opts);
  }
  testSteps(testId: string, opts?: RequestOptions): Promise<{ data: Step[] }> {
    return this.body('GET', `/api/tests/${encodeURIComponent(testId)}/steps`, opts);
  }
  testHistory(testId: string, filter: HistoryFilter = {}, opts?: RequestOptions): Promise<List<HistoryEntry> & { testCaseId: string }> {
    return this.body('GET', `/api/tests/${encodeURIComponent(testId)}/history`, { ...opts, query: filter });
  }
  suites(runId: string, opts?: RequestOptions): Promise<{ data: Suite[] }> {
    return this.body('GET', '/api/test-suites', { ...opts, query: { runId } });
  }
  // A run's or a test's artifacts, each with a fresh signed URL.
  async listArtifacts(filter: { runId?: string; testId?: string; type?: Artifact['type']; limit?: number; offset?: number }, opts?: RequestOptions): Promise<List<Artifact>> {
    const page = await this.body<List<Artifact>>('GET', '/api/artifacts', { ...opts, query: filter });
    return { ...page, data: page.data.map((a) => this.withAbsoluteUrl(a)) };
  }
  async getArtifact(artifactId: string, opts?: RequestOptions): Promise<Artifact> {
    return this.withAbsoluteUrl(await this.body<Artifact>('GET', `/api/artifacts/${encodeURIComponent(artifactId)}`, opts));
  }
  // The project's quarantined tests.
  async quarantine(projectId: string, opts?: RequestOptions): Promise<QuarantineEntry[]> {
    return (await this.body<{ data: QuarantineEntry[] }>('GET', '/api/quarantine', { ...opts, query: { projectId } })).data;
  }
}
