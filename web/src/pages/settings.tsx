import { useState } from 'preact/hooks';
import { useParams } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { del, patch, post, type List } from '../api';
import { useProject } from '../session';
import { Card, ErrorBox, Loaded, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { ago, when } from '../ui/format';
import { SecretOnce } from '../ui/secret';

type Settings = { dataRetentionDays: number; flakinessThreshold: number; autoQuarantineEnabled: boolean; updatedAt: string };
type Key = { id: string; name: string; maskedKey: string; scope: string; isActive: boolean; expiresAt: string | null; lastUsedAt: string | null; createdAt: string };
type Hook = { id: string; url: string; events: string[]; headers: Record<string, string>; isActive: boolean; disabledReason: string | null };
type Delivery = { id: string; event: string; status: string; attempts: number; statusCode: number | null; error: string | null; durationMs: number | null; nextAttemptAt: string | null; responseExcerpt: string | null; createdAt: string };
type Schedule = { id: string; name: string; cron: string; timezone: string; isActive: boolean; nextRunAt: string | null; lastRunAt: string | null };
const EVENTS = ['run.completed', 'run.failed', 'test.quarantined', 'test.unquarantined', 'test.flaky_detected', 'run.regression_detected', 'digest.ready', 'threshold.breached'];

// Runs an action, shows its error, refreshes what it changed.
function useAction(keys: string[]) {
  const qc = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    setError(null);
    try {
      const r = await f();
      for (const k of keys) qc.invalidateQueries({ queryKey: [k] });
      return r;
    } catch (e) {
      setError(e);
      return undefined;
    }
  };
  return { error, run, clear: () => setError(null) };
}

function ProjectSettingsCard({ projectId, canManage }: { projectId: string; canManage: boolean }) {
  const path = `/api/projects/${projectId}/settings`;
  const s = useApi<Settings>(path);
  const act = useAction([path]);
  const [saved, setSaved] = useState(false);
  return (
    <Card title="Project settings">
      <Loaded q={s} what="settings">
        {(v) => (
          <form class="stack" onSubmit={async (e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            setSaved(false);
            const ok = await act.run(() => patch(path, {
              dataRetentionDays: Number(f.get('retention')), flakinessThreshold: Number(f.get('threshold')), autoQuarantineEnabled: f.get('auto') === 'on',
            }));
            if (ok) setSaved(true);
          }}>
            <fieldset disabled={!canManage}>
              <label>Data retention (days) <input name="retention" type="number" min={1} max={3650} defaultValue={String(v.dataRetentionDays)} /></label>
              <label>Flakiness threshold (0–1) <input name="threshold" type="number" min={0} max={1} step="0.01" defaultValue={String(v.flakinessThreshold)} /></label>
              <label class="check"><input name="auto" type="checkbox" defaultChecked={v.autoQuarantineEnabled} /> Quarantine flaky tests automatically</label>
              {canManage ? <button type="submit" class="primary">Save settings</button> : null}
            </fieldset>
            {saved ? <p role="status">Saved.</p> : null}
            <ErrorBox error={act.error} title="Could not save the settings" />
          </form>
        )}
      </Loaded>
    </Card>
  );
}

function ApiKeys({ projectId }: { projectId: string }) {
  const keys = useApi<List<Key>>('/api/api-keys', { projectId, limit: 100 });
  const act = useAction(['/api/api-keys']);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [name, setName] = useState('');
  const [scope, setScope] = useState('ingest');
  return (
    <Card title="API keys">
      {created ? <SecretOnce label={`API key “${created.name}” created.`} value={created.key} onDismiss={() => setCreated(null)} /> : null}
      <form class="inline" onSubmit={async (e) => {
        e.preventDefault();
        const r = await act.run(() => post<{ key: string; name: string }>('/api/api-keys', { projectId, name, scope }));
        if (r) {
          setCreated({ name: r.name, key: r.key });
          setName('');
        }
      }}>
        <label>Name <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Scope
          <select value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
            <option value="ingest">ingest</option><option value="read">read</option><option value="full">full</option>
          </select>
        </label>
        <button type="submit" class="primary">Create key</button>
      </form>
      <ErrorBox error={act.error} title="The API key change failed" />
      <Loaded q={keys} what="API keys">
        {(k) => (
          <table class="grid">
            <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scope</th><th scope="col">Status</th><th scope="col">Last used</th><th scope="col">Actions</th></tr></thead>
            <tbody>{k.data.map((x) => (
              <tr key={x.id}>
                <td>{x.name}</td><td><code>{x.maskedKey}</code></td><td>{x.scope}</td>
                <td>{x.isActive ? 'active' : 'inactive'}{x.expiresAt ? ` · expires ${when(x.expiresAt)}` : ''}</td><td>{ago(x.lastUsedAt)}</td>
                <td class="actions">
                  <button type="button" onClick={() => act.run(() => patch(`/api/api-keys/${x.id}`, { isActive: !x.isActive }))}>{x.isActive ? 'Deactivate' : 'Activate'}</button>
                  <button type="button" class="danger" onClick={() => confirm(`Delete the key “${x.name}”?`) && act.run(() => del(`/api/api-keys/${x.id}`))}>Delete</button>
                </td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </Loaded>
    </Card>
  );
}

function Deliveries({ hookId }: { hookId: string }) {
  const d = useApi<List<Delivery>>(`/api/webhooks/${hookId}/deliveries`, { limit: 20 }, { refetchInterval: 2000 });
  return (
    <Loaded q={d} what="deliveries">
      {(x) => x.data.length ? (
        <table class="grid small" data-testid="deliveries">
          <caption>Delivery log</caption>
          <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">HTTP</th><th scope="col">Took</th><th scope="col">Response</th></tr></thead>
          <tbody>{x.data.map((r) => (
            <tr key={r.id}><td>{when(r.createdAt)}</td><td>{r.event}</td><td><StatusBadge status={r.status} /></td><td>{r.attempts}{r.nextAttemptAt ? ` (next ${when(r.nextAttemptAt)})` : ''}</td><td>{r.statusCode ?? '–'}</td><td>{r.durationMs != null ? `${r.durationMs} ms` : '–'}</td><td><code class="clip">{r.error ?? r.responseExcerpt ?? ''}</code></td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">No deliveries yet.</p>}
    </Loaded>
  );
}

function HookForm({ initial, submit, label }: { initial?: Hook; submit: (b: { url: string; events: string[]; isActive: boolean }) => Promise<unknown>; label: string }) {
  const [url, setUrl] = useState(initial?.url ?? '');
  const [events, setEvents] = useState<string[]>(initial?.events ?? ['run.failed']);
  const [active, setActive] = useState(initial?.isActive ?? true);
  return (
    <form class="stack" onSubmit={async (e) => {
      e.preventDefault();
      await submit({ url, events, isActive: active });
    }}>
      <label>URL <input type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} /></label>
      <fieldset class="events"><legend>Events</legend>
        {EVENTS.map((ev) => (
          <label key={ev} class="check"><input type="checkbox" checked={events.includes(ev)} onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))} /> {ev}</label>
        ))}
      </fieldset>
      <label class="check"><input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} /> Active</label>
      <button type="submit" class="primary">{label}</button>
    </form>
  );
}

function Webhooks({ projectId, canManage }: { projectId: string; canManage: boolean }) {
  const hooks = useApi<List<Hook>>('/api/webhooks', { projectId, limit: 100 });
  const act = useAction(['/api/webhooks']);
  const [secret, setSecret] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [sent, setSent] = useState('');
  return (
    <Card title="Webhooks">
      {secret ? <SecretOnce label="Webhook created. Its signing secret:" value={secret} onDismiss={() => setSecret(null)} /> : null}
      <ErrorBox error={act.error} title="The webhook change failed" />
      <Loaded q={hooks} what="webhooks">
        {(h) => (
          <ul class="hooks">
            {h.data.map((w) => (
              <li key={w.id} class="hook">
                <div class="row">
                  <code>{w.url}</code> <span class="muted">{w.events.join(', ')}</span> {w.isActive ? null : <span class="badge">inactive{w.disabledReason ? `: ${w.disabledReason}` : ''}</span>}
                  {canManage ? (
                    <span class="actions">
                      <button type="button" onClick={async () => {
                        setSent('');
                        if (await act.run(() => post(`/api/webhooks/${w.id}/test`))) setSent(w.id);
                      }}>Send test</button>
                      <button type="button" onClick={() => setEditing(editing === w.id ? null : w.id)}>{editing === w.id ? 'Cancel edit' : 'Edit'}</button>
                      <button type="button" class="danger" onClick={() => confirm(`Delete the webhook to ${w.url}?`) && act.run(() => del(`/api/webhooks/${w.id}`))}>Delete</button>
                    </span>
                  ) : null}
                </div>
                {sent === w.id ? <p role="status">Test event sent.</p> : null}
                {editing === w.id ? <HookForm initial={w} label="Save webhook" submit={async (b) => {
                  if (await act.run(() => patch(`/api/webhooks/${w.id}`, b))) setEditing(null);
                }} /> : null}
                <Deliveries hookId={w.id} />
              </li>
            ))}
            {h.data.length === 0 ? <li class="muted">No webhooks.</li> : null}
          </ul>
        )}
      </Loaded>
      {canManage ? (
        <details>
          <summary>Add a webhook</summary>
          <HookForm label="Create webhook" submit={async (b) => {
            const r = await act.run(() => post<{ secret: string }>('/api/webhooks', { projectId, ...b, headers: {} }));
            if (r) setSecret(r.secret);
          }} />
        </details>
      ) : null}
    </Card>
  );
}

function Schedules({ projectId, canManage }: { projectId: string; canManage: boolean }) {
  const s = useApi<List<Schedule>>('/api/schedules', { projectId, limit: 100 });
  const act = useAction(['/api/schedules']);
  const [name, setName] = useState('weekly digest');
  const [cron, setCron] = useState('0 9 * * 1');
  const [tz, setTz] = useState('UTC');
  return (
    <Card title="Scheduled digests">
      <ErrorBox error={act.error} title="The schedule change failed" />
      <Loaded q={s} what="schedules">
        {(x) => x.data.length ? (
          <table class="grid">
            <thead><tr><th scope="col">Name</th><th scope="col">Cron</th><th scope="col">Time zone</th><th scope="col">Next</th><th scope="col">Last</th>{canManage ? <th scope="col">Actions</th> : null}</tr></thead>
            <tbody>{x.data.map((r) => (
              <tr key={r.id}><td>{r.name}</td><td><code>{r.cron}</code></td><td>{r.timezone}</td><td>{r.isActive ? when(r.nextRunAt) : 'paused'}</td><td>{when(r.lastRunAt)}</td>
                {canManage ? (
                  <td class="actions">
                    <button type="button" onClick={() => act.run(() => post(`/api/schedules/${r.id}/${r.isActive ? 'pause' : 'resume'}`))}>{r.isActive ? 'Pause' : 'Resume'}</button>
                    <button type="button" onClick={() => act.run(() => post(`/api/schedules/${r.id}/trigger`))}>Send now</button>
                    <button type="button" class="danger" onClick={() => confirm(`Delete the schedule “${r.name}”?`) && act.run(() => del(`/api/schedules/${r.id}`))}>Delete</button>
                  </td>
                ) : null}
              </tr>
            ))}</tbody>
          </table>
        ) : <p class="muted">No schedules.</p>}
      </Loaded>
      {canManage ? (
        <form class="inline" onSubmit={async (e) => {
          e.preventDefault();
          await act.run(() => post('/api/schedules', { projectId, name, cron, timezone: tz }));
        }}>
          <label>Name <input required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
          <label>Cron <input required value={cron} onInput={(e) => setCron(e.currentTarget.value)} /></label>
          <label>Time zone <input required value={tz} onInput={(e) => setTz(e.currentTarget.value)} /></label>
          <button type="submit" class="primary">Add schedule</button>
        </form>
      ) : null}
    </Card>
  );
}

export function ProjectSettingsPage() {
  const { projectId } = useParams<{ projectId: string }>();
  const { q, project, canManage, role } = useProject(projectId);
  usePageTitle(`Settings · ${project?.name ?? ''}`);
  if (q.error) return <ErrorBox error={q.error} title="Could not load the project" />;
  return (
    <>
      <h1>Settings{project ? <span class="muted"> · {project.name}</span> : null}</h1>
      {project && !canManage ? <p class="muted" role="note">You are a {role ?? 'reader'} of this project: settings are read-only for you.</p> : null}
      <ProjectSettingsCard projectId={projectId} canManage={canManage} />
      {canManage ? <ApiKeys projectId={projectId} /> : null}
      <Webhooks projectId={projectId} canManage={canManage} />
      <Schedules projectId={projectId} canManage={canManage} />
      {project && canManage ? <p><a href={`/teams/${project.teamId}/settings`}>Team members, invitations and audit log</a></p> : null}
    </>
  );
}
