import { useEffect, useRef, useState } from 'preact/hooks';
import { get, type List, type Run, type TestItem } from '../api';
import { LIVE_STATUSES } from '../ui/format';

export type Counters = Pick<Run, 'totalTests' | 'passedTests' | 'failedTests' | 'skippedTests' | 'flakyTests' | 'passRate' | 'duration'>;
export type LiveRun = { run: Run | null; tests: TestItem[]; live: boolean; error: unknown; loading: boolean; version: number };

const PAGE = 500;

// A run and all its tests: the pages of GET /api/tests in parallel, then, while
// the run is not final, the SSE stream adds each result as it is projected.
// Tests are kept in a Map by id, so the stream's replay after a reconnect and a
// page fetched concurrently never count a result twice.
export function useLiveRun(runId: string): LiveRun {
  const [state, setState] = useState<LiveRun>({ run: null, tests: [], live: false, error: null, loading: true, version: 0 });
  const byId = useRef(new Map<string, TestItem>());

  useEffect(() => {
    let closed = false;
    let source: EventSource | null = null;
    byId.current = new Map();
    let run: Run | null = null;
    let live = false;
    let timer = 0;
    const publish = () => {
      timer = 0;
      if (closed) return;
      setState((s) => ({ run, tests: [...byId.current.values()], live, error: null, loading: false, version: s.version + 1 }));
    };
    // Many results a second arrive on a busy run: one render per animation frame.
    const schedule = () => {
      if (!timer) timer = requestAnimationFrame(publish) as unknown as number;
    };

    (async () => {
      try {
        run = await get<Run>(`/api/runs/${runId}`);
        live = LIVE_STATUSES.has(run.status);
        if (live) openStream();
        // All pages at once, sized by the run's count; more pages if it grew meanwhile.
        const projectId = run.projectId;
        const page = (offset: number) => get<List<TestItem>>('/api/tests', { projectId, runId, limit: PAGE, offset });
        let fetched = Math.max(PAGE, Math.ceil(run.totalTests / PAGE) * PAGE);
        const pages = [];
        for (let off = 0; off < fetched; off += PAGE) pages.push(page(off));
        let total = 0;
        for (const p of await Promise.all(pages)) {
          total = Math.max(total, p.total);
          for (const t of p.data) if (!byId.current.has(t.id)) byId.current.set(t.id, t);
        }
        while (fetched < total) {
          for (const t of (await page(fetched)).data) if (!byId.current.has(t.id)) byId.current.set(t.id, t);
          fetched += PAGE;
        }
        publish();
      } catch (error) {
        if (!closed) setState((s) => ({ ...s, error, loading: false }));
      }
    })();

    function openStream() {
      source = new EventSource(`/api/runs/${runId}/stream`, { withCredentials: true });
      source.addEventListener('test', (e) => {
        const t = JSON.parse((e as MessageEvent).data) as TestItem;
        byId.current.set(t.id, t);
        schedule();
      });
      source.addEventListener('counters', (e) => {
        const c = JSON.parse((e as MessageEvent).data) as Counters;
        if (run) run = { ...run, ...c };
        schedule();
      });
      source.addEventListener('status', (e) => {
        const s = JSON.parse((e as MessageEvent).data) as { status: string };
        if (run) run = { ...run, status: s.status };
        schedule();
      });
      source.addEventListener('end', (e) => {
        const d = JSON.parse((e as MessageEvent).data) as Run & { reason?: string };
        if (!d.reason) run = d;
        live = false;
        source?.close();
        schedule();
      });
    }
    return () => {
      closed = true;
      source?.close();
      if (timer) cancelAnimationFrame(timer);
    };
  }, [runId]);
  return state;
}
