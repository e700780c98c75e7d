import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { post, type List, type Project, type Run } from '../api';
import { atLeast, useMe } from '../session';
import { Card, ErrorBox, Loaded, Sparkline, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { ago, LIVE_STATUSES, pct } from '../ui/format';
import { useTeamProjects } from '../layout';

type Trend = { data: Array<{ date: string; value: number | null; samples: number }>; summary: { latest: number | null } };
const last14 = (t: Trend | undefined) => (t?.data ?? []).slice(-14);

function ProjectRow({ project }: { project: Project }) {
  const lastRun = useApi<List<Run>>('/api/runs', { projectId: project.id, limit: 1 });
  const passRate = useApi<Trend>('/api/analytics/trends', { projectId: project.id, metric: 'pass_rate', period: '30d' });
  const failed = useApi<Trend>('/api/analytics/trends', { projectId: project.id, metric: 'failed_tests', period: '30d' });
  const flakyRate = useApi<Trend>('/api/analytics/trends', { projectId: project.id, metric: 'flaky_rate', period: '30d' });
  const flaky = useApi<{ summary: { totalFlakyTests: number; brokenTests: number } }>('/api/flakiness', { projectId: project.id, limit: 1 });
  const run = lastRun.data?.data[0];
  const error = lastRun.error ?? passRate.error ?? flaky.error ?? failed.error ?? flakyRate.error;
  return (
    <tr>
      <th scope="row"><Link href={`/projects/${project.id}/runs`}>{project.name}</Link></th>
      <td>
        {run ? (
          <Link href={`/runs/${run.id}`}><StatusBadge status={run.status} live={LIVE_STATUSES.has(run.status)} /> <span class="muted">{ago(run.createdAt)}</span></Link>
        ) : lastRun.isLoading ? '…' : <span class="muted">no runs yet</span>}
      </td>
      <td>
        {pct(passRate.data?.summary.latest)}
        <Sparkline label="pass rate, last 14 days" values={last14(passRate.data).map((p) => p.value)} color="#2a7" />
      </td>
      <td>
        <Sparkline label="runs with results per day, last 14 days" values={last14(passRate.data).map((p) => p.samples)} color="#357" />
      </td>
      <td>
        <Link href={`/projects/${project.id}/flakiness?classification=flaky`}>{flaky.data?.summary.totalFlakyTests ?? '…'}</Link>
        <Sparkline label="flaky rate, last 14 days" values={last14(flakyRate.data).map((p) => p.value)} color="#c80" />
      </td>
      <td>
        <Link href={`/projects/${project.id}/flakiness?classification=broken`}>{flaky.data?.summary.brokenTests ?? '…'}</Link>
        <Sparkline label="failed tests, last 14 days" values={last14(failed.data).map((p) => p.value)} color="#c33" />
        {error ? <ErrorBox error={error} title="Part of this row could not be loaded" /> : null}
      </td>
    </tr>
  );
}

function NewProject({ teamId }: { teamId: string }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  return (
    <form class="inline" onSubmit={async (e) => {
      e.preventDefault();
      setError(null);
      try {
        await post('/api/projects', { teamId, name });
        setName('');
        qc.invalidateQueries({ queryKey: ['/api/projects'] });
      } catch (err) {
        setError(err);
      }
    }}>
      <label>New project <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <button type="submit">Create project</button>
      <ErrorBox error={error} title="Could not create the project" />
    </form>
  );
}

function TeamCard({ team }: { team: { id: string; name: string; role: 'owner' | 'admin' | 'member' | 'viewer' } }) {
  const projects = useTeamProjects(team.id);
  const manage = atLeast(team.role, 'admin');
  return (
    <Card title={<>{team.name} <span class="muted small">({team.role})</span></>} actions={manage ? <Link href={`/teams/${team.id}/settings`}>Team settings</Link> : null}>
      <Loaded q={projects} what="projects">
        {(p) => p.data.length === 0 ? <p class="muted">No projects yet.</p> : (
          <table class="grid">
            <thead><tr><th scope="col">Project</th><th scope="col">Last run</th><th scope="col">Pass rate (14 d)</th><th scope="col">Runs per day</th><th scope="col">Flaky</th><th scope="col">Broken · failed tests</th></tr></thead>
            <tbody>{p.data.map((pr) => <ProjectRow key={pr.id} project={pr} />)}</tbody>
          </table>
        )}
      </Loaded>
      {manage ? <NewProject teamId={team.id} /> : null}
    </Card>
  );
}

function NewTeam() {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  return (
    <form class="inline" onSubmit={async (e) => {
      e.preventDefault();
      try {
        await post('/api/teams', { name });
        setName('');
        qc.invalidateQueries({ queryKey: ['/api/auth/me'] });
      } catch (err) {
        setError(err);
      }
    }}>
      <label>New team <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <button type="submit">Create team</button>
      <ErrorBox error={error} title="Could not create the team" />
    </form>
  );
}

export function OverviewPage() {
  usePageTitle('Overview');
  const me = useMe();
  return (
    <>
      <h1>Overview</h1>
      {me.teams.length === 0 ? <p>You are not in any team yet. Create one, or ask a team admin for an invitation.</p> : null}
      {me.teams.map((t) => <TeamCard key={t.id} team={t} />)}
      <NewTeam />
    </>
  );
}
