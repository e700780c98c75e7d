import { Link, useParams } from 'wouter-preact';
import type { List, Run } from '../api';
import { useProject } from '../session';
import { Card, ErrorBox, Loaded, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { duration, LIVE_STATUSES, pct, runName, shortSha, when } from '../ui/format';
import { useSearchParams } from '../ui/url';

const PAGE = 50;

export function RunsPage() {
  const { projectId } = useParams<{ projectId: string }>();
  const { project, q: pq } = useProject(projectId);
  usePageTitle(`Runs · ${project?.name ?? ''}`);
  const [params, set] = useSearchParams();
  const f = {
    branch: params.get('branch') ?? '', status: params.get('status') ?? '', tag: params.get('tag') ?? '',
    from: params.get('from') ?? '', to: params.get('to') ?? '', offset: Number(params.get('offset') ?? 0),
  };
  const runs = useApi<List<Run>>('/api/runs', {
    projectId, branch: f.branch, status: f.status, tag: f.tag,
    from: f.from ? new Date(f.from).toISOString() : '', to: f.to ? new Date(`${f.to}T23:59:59.999Z`).toISOString() : '',
    limit: PAGE, offset: f.offset,
  }, { refetchInterval: (q) => ((q.state.data as List<Run> | undefined)?.data.some((r) => LIVE_STATUSES.has(r.status)) ? 3000 : false) });
  return (
    <>
      <h1>Runs{project ? <span class="muted"> · {project.name}</span> : null}</h1>
      <ErrorBox error={pq.error} title="Could not load the project" />
      <form class="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label>Branch <input name="branch" value={f.branch} onChange={(e) => set({ branch: e.currentTarget.value, offset: null })} /></label>
        <label>Status
          <select name="status" value={f.status} onChange={(e) => set({ status: e.currentTarget.value, offset: null })}>
            <option value="">any</option>
            {['running', 'passed', 'failed', 'cancelled'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Tag <input name="tag" value={f.tag} onChange={(e) => set({ tag: e.currentTarget.value, offset: null })} /></label>
        <label>From <input type="date" name="from" value={f.from} onChange={(e) => set({ from: e.currentTarget.value, offset: null })} /></label>
        <label>To <input type="date" name="to" value={f.to} onChange={(e) => set({ to: e.currentTarget.value, offset: null })} /></label>
      </form>
      <Card>
        <Loaded q={runs} what="runs">
          {(r) => (
            <>
              {r.data.length === 0 ? <p class="muted">No runs match.</p> : (
                <table class="grid runs">
                  <thead><tr><th scope="col">Status</th><th scope="col">Run</th><th scope="col">Branch</th><th scope="col">Commit</th><th scope="col">Tests</th><th scope="col">Failed</th><th scope="col">Flaky</th><th scope="col">Pass rate</th><th scope="col">Duration</th><th scope="col">Started</th></tr></thead>
                  <tbody>
                    {r.data.map((run) => (
                      <tr key={run.id} class={LIVE_STATUSES.has(run.status) ? 'live' : ''}>
                        <td><StatusBadge status={run.status} live={LIVE_STATUSES.has(run.status)} /></td>
                        <td><Link href={`/runs/${run.id}`}>{runName(run)}</Link>{run.runTitle && run.ciBuildId ? <div class="muted small">{run.ciBuildId}</div> : null}</td>
                        <td>{run.branch ?? '–'}</td>
                        <td><code>{shortSha(run.commitSha)}</code>{run.commitMessage && runName(run) !== run.commitMessage.split('\n')[0] ? <div class="muted small line-clip" title={run.commitMessage}>{run.commitMessage.split('\n')[0]}</div> : null}</td>
                        <td>{run.totalTests}</td>
                        <td class={run.failedTests ? 'bad' : ''}>{run.failedTests}</td>
                        <td class={run.flakyTests ? 'warn' : ''}>{run.flakyTests}</td>
                        <td>{pct(run.passRate)}</td>
                        <td>{duration(run.duration)}</td>
                        <td>{when(run.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <nav class="pager" aria-label="Pages">
                <button type="button" disabled={f.offset === 0} onClick={() => set({ offset: String(Math.max(0, f.offset - PAGE)) })}>Newer</button>
                <span>{r.total === 0 ? 0 : f.offset + 1}–{Math.min(r.total, f.offset + PAGE)} of {r.total}</span>
                <button type="button" disabled={f.offset + PAGE >= r.total} onClick={() => set({ offset: String(f.offset + PAGE) })}>Older</button>
              </nav>
            </>
          )}
        </Loaded>
      </Card>
    </>
  );
}
