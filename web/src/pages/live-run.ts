import { useEffect, useState } from 'preact/hooks';
import { get, type List, type Run, type TestItem } from '../api';
import { LIVE_STATUSES } from '../ui/format';
import { RunIndex } from './run-index';

export type Counters = Pick<Run, 'totalTests' | 'passedTests' | 'failedTests' | 'skippedTests' | 'flakyTests' | 'passRate' | 'duration'>;
export type LiveRun = {
  run: Run | null; index: RunIndex; live: boolean; error: unknown; loading: boolean; version: number;
  // results the run has that have not arrived yet (the first screen shows before them)
  pending: number;
};

// The first screen: as many results as a screen and the failures card need, fast.
const FIRST = 300;
// The rest, in pages of this size requested together (GET /api/tests allows a
// run's tests 5,000 at a time): two requests for 5,000 results keep both of
// the server's cores busy, one to query while the other serialises.
const PAGE = 2500;

// A run and all its tests. The run and the first page are asked for at once (a
// run's tests need no projectId); once the run says how many results it has,
// the other pages are asked for together; the first page is shown as soon as it
// arrives. While the run is not final, the SSE stream adds each result as it is
// projected. Results are kept by id (RunIndex), so the stream's replay after a
// reconnect and a page read concurrently never count a result twice; sorting
// and grouping cost each batch its own size, and renders are batched per frame.
export function useLiveRun(runId: string): LiveRun {
  const [state, setState] = useState<LiveRun>(() => ({ run: null, index: new RunIndex(), live: false, error: null, loading: true, version: 0, pending: 0 }));

  useEffect(() => {
    let closed = false;
    let source: EventSource | null = null;
    const index = new RunIndex();
    let run: Run | null = null;
    let live = false;
    let pending = 0;
    let timer = 0;
    const publish = () => {
      timer = 0;
      if (closed) return;
      index.flush();
      setState((s) => ({ run, index, live, error: null, loading: false, version: s.version + 1, pending }));
    };
    // Many results a second arrive on a busy run: one render per animation frame.
    const schedule = () => {
      if (!timer) timer = requestAnimationFrame(publish) as unknown as number;
    };

    (async () => {
      try {
        const page = (offset: number, limit: number) => get<List<TestItem>>('/api/tests', { runId, limit, offset });
        const firstPage = page(0, FIRST);
        run = await get<Run>(`/api/runs/${runId}`);
        live = LIVE_STATUSES.has(run.status);
        if (live) openStream();
        const pages: Array<Promise<List<TestItem>>> = [];
        let asked = FIRST;
        const askUpTo = (n: number) => {
          for (; asked < n; asked += PAGE) pages.push(page(asked, PAGE));
        };
        askUpTo(run.totalTests);
        const first = await firstPage;
        for (const t of first.data) index.addIfNew(t);
        askUpTo(first.total);
        pending = Math.max(0, first.total - first.data.length);
        publish();
        // More pages if the run grew meanwhile.
        for (let i = 0; i < pages.length; i++) {
          const p = await pages[i]!;
          for (const t of p.data) index.addIfNew(t);
          pending = Math.max(0, pending - p.data.length);
          askUpTo(p.total);
        }
        pending = 0;
        publish();
      } catch (error) {
        if (!closed) setState((s) => ({ ...s, error, loading: false }));
      }
    })();

    function openStream() {
      source = new EventSource(`/api/runs/${runId}/stream`, { withCredentials: true });
      source.addEventListener('test', (e) => {
        index.put(JSON.parse((e as MessageEvent).data) as TestItem);
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
