import { useParams } from 'wouter-preact';
import { Link } from 'wouter-preact';
import { useProject } from '../session';
import { Card, Loaded, useApi, usePageTitle } from '../ui/kit';
import { ago, duration, pct } from '../ui/format';
import { useSearchParams } from '../ui/url';
import { TrendChart } from './shared';

type Boards = {
  slowest?: Array<{ testCaseId: string; testTitle: string; filePath: string; p50: number; p95: number; runs: number }>;
  failing?: Array<{ testCaseId: string; testTitle: string; filePath: string; failures: number; runs: number; failureRate: number }>;
  flakiest?: Array<{ testCaseId: string; testTitle: string; filePath: string; flakinessScore: number; flakyRuns: number; totalRuns: number }>;
};

export function TrendsPage() {
  const { projectId } = useParams<{ projectId: string }>();
  const { project } = useProject(projectId);
  usePageTitle(`Trends · ${project?.name ?? ''}`);
  const [params, set] = useSearchParams();
  const period = params.get('period') ?? '30d';
  const interval = params.get('interval') ?? 'day';
  const branch = params.get('branch') ?? '';
  const common = { projectId, period, interval, branch };
  const boards = useApi<Boards>('/api/analytics/leaderboards', { projectId, period, branch, limit: 10 });
  const errors = useApi<{ data: any[] }>('/api/analytics/errors', { projectId, period, branch, limit: 20 });
  const link = (id: string, title: string) => <Link href={`/projects/${projectId}/tests/${id}`}>{title}</Link>;
  return (
    <>
      <h1>Trends{project ? <span class="muted"> · {project.name}</span> : null}</h1>
      <form class="filters" aria-label="Trend options" onSubmit={(e) => e.preventDefault()}>
        <label>Period
          <select value={period} onChange={(e) => set({ period: e.currentTarget.value })}>
            {['7d', '30d', '90d', '365d'].map((p) => <option key={p} value={p}>{p.replace('d', ' days')}</option>)}
          </select>
        </label>
        <label>By
          <select value={interval} onChange={(e) => set({ interval: e.currentTarget.value })}>
            <option value="day">day</option><option value="week">week</option>
          </select>
        </label>
        <label>Branch <input value={branch} onChange={(e) => set({ branch: e.currentTarget.value })} /></label>
      </form>
      <div class="charts">
        <Card><TrendChart {...common} title="Pass rate and flaky rate (%)" metrics={[{ metric: 'pass_rate', label: 'pass rate' }, { metric: 'flaky_rate', label: 'flaky rate' }]} /></Card>
        <Card><TrendChart {...common} title="Failed tests" metrics={[{ metric: 'failed_tests', label: 'failed tests' }]} /></Card>
        <Card><TrendChart {...common} title="Test duration p50 / p95 (ms)" metrics={[{ metric: 'duration_p50', label: 'p50' }, { metric: 'duration_p95', label: 'p95' }]} /></Card>
        <Card><TrendChart {...common} title="Run duration (ms)" metrics={[{ metric: 'run_duration', label: 'run duration' }]} /></Card>
        <Card><TrendChart {...common} title="Test count" metrics={[{ metric: 'test_count', label: 'tests' }]} /></Card>
      </div>
      <Loaded q={boards} what="leaderboards">
        {(b) => (
          <div class="boards">
            <Card title="Slowest">
              <ol>{(b.slowest ?? []).map((r) => <li key={r.testCaseId}>{link(r.testCaseId, r.testTitle)} <span class="muted">p50 {duration(r.p50)} · p95 {duration(r.p95)}</span></li>)}</ol>
            </Card>
            <Card title="Most failing">
              <ol>{(b.failing ?? []).map((r) => <li key={r.testCaseId}>{link(r.testCaseId, r.testTitle)} <span class="muted">{r.failures} of {r.runs} ({pct(r.failureRate)})</span></li>)}</ol>
            </Card>
            <Card title="Flakiest">
              <ol>{(b.flakiest ?? []).map((r) => <li key={r.testCaseId}>{link(r.testCaseId, r.testTitle)} <span class="muted">{(r.flakinessScore * 100).toFixed(1)} % · {r.flakyRuns}/{r.totalRuns}</span></li>)}</ol>
            </Card>
          </div>
        )}
      </Loaded>
      <Card title="Error clusters">
        <Loaded q={errors} what="error clusters">
          {(c) => c.data.length ? (
            <table class="grid">
              <thead><tr><th scope="col">Error</th><th scope="col">Occurrences</th><th scope="col">Tests</th><th scope="col">Runs</th><th scope="col">Last seen</th></tr></thead>
              <tbody>{c.data.map((x) => <tr key={x.fingerprint}><td><code class="clip">{x.sampleMessage}</code>{x.mostlyFlaky ? <span class="badge st-flaky">mostly flaky</span> : null}</td><td>{x.occurrences}</td><td>{x.affectedTests}</td><td>{x.runs}</td><td>{ago(x.lastSeenAt)}</td></tr>)}</tbody>
            </table>
          ) : <p class="muted">No errors in this period.</p>}
        </Loaded>
      </Card>
    </>
  );
}
