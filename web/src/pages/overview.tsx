import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { post, type Role } from '../api';
import { atLeast } from '../session';
import { Card, ErrorBox, Loaded, Sparkline, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { ago, LIVE_STATUSES, pct } from '../ui/format';

type Day = { day: string; runs: number; passRate: number | null; flakyTests: number; failedTests: number };
type OverviewProject = {
  id: string; name: string; runs: number; passRate: number | null; flaky: number; broken: number; daily: Day[];
  lastRun: { id: string; status: string; branch: string | null; passRate: number; createdAt: string } | null;
};
type Overview = { from: string; to: string; days: number; teams: Array<{ id: string; name: string; role: Role; projects: OverviewProject[] }> };

function ProjectRow({ project: p }: { project: OverviewProject }) {
  const run = p.lastRun;
  return (
    <tr>
      <th scope="row"><Link href={`/projects/${p.id}/runs`}>{p.name}</Link></th>
      <td>
        {run ? (
          <Link href={`/runs/${run.id}`}><StatusBadge status={run.status} live={LIVE_STATUSES.has(run.status)} /> <span class="muted">{ago(run.createdAt)}</span></Link>
        ) : <span class="muted">no runs yet</span>}
      </td>
      <td>{p.runs}<Sparkline label="runs per day, last 14 days" values={p.daily.map((d) => d.runs)} color="#357" /></td>
      <td>{pct(p.passRate)}<Sparkline label="pass rate per day, last 14 days" values={p.daily.map((d) => d.passRate)} color="#2a7" /></td>
      <td>
        <Link href={`/projects/${p.id}/flakiness?classification=flaky`}>{p.flaky}</Link>
        <Sparkline label="flaky tests per day, last 14 days" values={p.daily.map((d) => d.flakyTests)} color="#c80" />
      </td>
      <td>
        <Link href={`/projects/${p.id}/flakiness?classification=broken`}>{p.broken}</Link>
        <Sparkline label="failed tests per day, last 14 days" values={p.daily.map((d) => d.failedTests)} color="#c33" />
      </td>
    </tr>
  );
}

// Creating something that needs only a name (a project, a team): one form for both.
function NameForm({ label, submit, invalidate }: { label: string; submit: (name: string) => Promise<unknown>; invalidate: string[] }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  return (
    <form class="inline" onSubmit={async (e) => {
      e.preventDefault();
      setError(null);
      try {
        await submit(name);
        setName('');
        for (const key of invalidate) qc.invalidateQueries({ queryKey: [key] });
      } catch (err) {
        setError(err);
      }
    }}>
      <label>New {label} <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <button type="submit">Create {label}</button>
      <ErrorBox error={error} title={`Could not create the ${label}`} />
    </form>
  );
}

function TeamCard({ team }: { team: Overview['teams'][number] }) {
  const manage = atLeast(team.role, 'admin');
  return (
    <Card title={<>{team.name} <span class="muted small">({team.role})</span></>} actions={manage ? <Link href={`/teams/${team.id}/settings`}>Team settings</Link> : null}>
      {team.projects.length === 0 ? <p class="muted">No projects yet.</p> : (
        <table class="grid">
          <thead><tr><th scope="col">Project</th><th scope="col">Last run</th><th scope="col">Runs (14 d)</th><th scope="col">Pass rate (14 d)</th><th scope="col">Flaky tests</th><th scope="col">Broken tests · failed per day</th></tr></thead>
          <tbody>{team.projects.map((pr) => <ProjectRow key={pr.id} project={pr} />)}</tbody>
        </table>
      )}
      {manage ? <NameForm label="project" submit={(name) => post('/api/projects', { teamId: team.id, name })} invalidate={['/api/overview']} /> : null}
    </Card>
  );
}

export function OverviewPage() {
  usePageTitle('Overview');
  const overview = useApi<Overview>('/api/overview', { days: 14 });
  return (
    <>
      <h1>Overview</h1>
      <Loaded q={overview} what="the overview">
        {(o) => (
          <>
            {o.teams.length === 0 ? <p>You are not in any team yet. Create one, or ask a team admin for an invitation.</p> : null}
            {o.teams.map((t) => <TeamCard key={t.id} team={t} />)}
          </>
        )}
      </Loaded>
      <NameForm label="team" submit={(name) => post('/api/teams', { name })} invalidate={['/api/auth/session', '/api/overview']} />
    </>
  );
}
