import { client } from './http.ts';
import { runBody, testBody } from './fixtures.ts';
import type { Tenant } from './tenants.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What a client saw while ingesting: the test ids the API acknowledged (2xx and
// "accepted"), the ones it refused, and every answer that was not a success.
export type IngestLoad = {
  acknowledged: Set<string>;
  // the runs the API acknowledged creating
  runIds: Set<string>;
  refused: Set<string>;
  failures: Array<{ what: string; status: number; code?: string; retryAfter?: string | null; ms: number }>;
  runs: number;
  stop(): Promise<void>;
};

// A CI job in a loop, over real HTTP: create a run, send its results as one
// batch, finish it. Runs until stop(). A refused request is recorded, never
// retried, so what was acknowledged is exactly what must be stored.
export function startIngestLoad(base: string, tenant: Tenant, opts: { testsPerBatch?: number; pauseMs?: number } = {}): IngestLoad {
  const api = client(base, { key: tenant.apiKey });
  const n = opts.testsPerBatch ?? 100;
  let running = true;
  const load: IngestLoad = { acknowledged: new Set(), runIds: new Set(), refused: new Set(), failures: [], runs: 0, stop: async () => undefined };
  const timed = async <T>(what: string, call: () => Promise<{ status: number; body: any; headers: Headers }>, ok: (r: { status: number; body: any }) => T) => {
    const started = Date.now();
    const res = await call().catch((err: Error) => ({ status: 0, body: { error: { code: err.message } }, headers: new Headers() }));
    if (res.status >= 200 && res.status < 300) return ok(res);
    load.failures.push({ what, status: res.status, code: res.body?.error?.code, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started });
    return null;
  };
  const loop = (async () => {
    while (running) {
      const run = await timed('POST /api/runs', () => api.post('/api/runs', runBody(tenant.projectId)), (r) => r.body.id as string);
      if (run) load.runIds.add(run);
      if (run) {
        const items = Array.from({ length: n }, (_, i) => ({
          type: 'test', ...testBody(tenant.projectId, run, i, { status: i % 17 === 0 ? 'failed' : i % 23 === 0 ? 'flaky' : 'passed' }),
        }));
        await timed('POST /api/ingest/batch', () => api.post('/api/ingest/batch', items), (r) => {
          for (const result of r.body.results as Array<{ status: string; id?: string }>) {
            if (result.status === 'accepted') load.acknowledged.add(result.id!);
            else load.refused.add(JSON.stringify(result));
          }
        });
        await timed('PATCH /api/runs/:id', () => api.patch(`/api/runs/${run}`, { status: 'failed', duration: 1000 }), () => (load.runs += 1));
      }
      if (opts.pauseMs) await sleep(opts.pauseMs);
      else await sleep(0);
    }
  })();
  load.stop = async () => {
    running = false;
    await loop;
  };
  return load;
}
