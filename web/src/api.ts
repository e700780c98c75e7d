// The dashboard's only way to the server: the public HTTP API, authenticated by
// the HttpOnly session cookie the server sets at login. Unsafe methods carry the
// CSRF token (double submit: the readable rl_csrf cookie echoed in a header).

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

function csrfToken(): string | null {
  const m = document.cookie.match(/(?:^|;\s*)rl_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]!) : null;
}

let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T = any>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrfToken();
    if (t) headers['x-csrf-token'] = t;
  }
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method, headers, credentials: 'same-origin', body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `The server could not be reached (${(e as Error).message}).`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body?.error;
    if (res.status === 401 && !path.startsWith('/api/auth/')) onUnauthorized?.();
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `${method} ${path} answered ${res.status}`, err?.details ?? {});
  }
  return body as T;
}

export const get = <T = any>(path: string, query?: Query) => api<T>('GET', path, { query });
export const post = <T = any>(path: string, body?: unknown) => api<T>('POST', path, { body: body ?? {} });
export const patch = <T = any>(path: string, body: unknown) => api<T>('PATCH', path, { body });
export const del = <T = any>(path: string) => api<T>('DELETE', path);

export type List<T> = { data: T[]; total: number; limit: number; offset: number };

export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export type Me = {
  id: string; email: string; name: string | null; role: 'admin' | 'user';
  teams: Array<{ id: string; name: string; role: Role }>;
  csrfToken?: string;
};
export type Session = { user: Me | null; needsSetup: boolean };
export type Project = { id: string; name: string; teamId: string; createdAt: string };
export type Run = {
  id: string; projectId: string; status: string; branch: string | null; commitSha: string | null; commitMessage: string | null;
  commitAuthor?: string | null; ciProvider?: string | null; ciBuildId: string | null; ciBuildUrl?: string | null;
  shardCurrent?: number | null; shardTotal?: number | null; browser?: string | null; os?: string | null; runTitle: string | null;
  tags?: string[]; totalTests: number; passedTests: number; failedTests: number; skippedTests: number; flakyTests: number;
  passRate: number; duration: number; createdAt: string; updatedAt?: string;
};
export type TestError = { message: string; stack?: string; expected?: string; actual?: string; location?: unknown } | null;
export type TestItem = {
  id: string; runId: string; testCaseId: string; title: string; fullTitle: string; filePath: string; variant: string;
  status: string; duration: number; isFlaky: boolean; error: TestError; createdAt: string;
};
export type TestDetail = TestItem & {
  projectId: string; suiteId: string | null; lineNumber: number | null; retries: number; attempt: number; tags: string[];
  annotations: Array<{ type: string; description?: string }>; attempts: Array<{ attempt?: number; status: string; duration: number; error?: TestError }>;
  stdout: string; stderr: string; startedAt: string; artifacts?: Artifact[];
};
export type Artifact = { id: string; runId: string; testId: string | null; type: string; fileName: string; fileSize: number; mimeType: string; url: string };
export type Step = { title: string; category: string; status: string; duration: number; error: TestError; depth: number; parentIndex: number | null };
