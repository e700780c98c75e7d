import { useState } from 'preact/hooks';
import { useParams } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { del, patch, post, type List } from '../api';
import { atLeast, roleIn, useMe } from '../session';
import { Card, ErrorBox, Loaded, useApi, usePageTitle } from '../ui/kit';
import { when } from '../ui/format';
import { SecretOnce } from '../ui/secret';

type Member = { id: string; userId: string; role: string; name: string | null; email: string; joinedAt: string };
type Invitation = { id: string; email: string; role: string; status: string; expiresAt: string; createdAt: string };
type Audit = { id: string; actor: { type: string; id: string }; action: string; targetType: string; targetId: string; before: unknown; after: unknown; createdAt: string };

export function TeamSettingsPage() {
  const { teamId } = useParams<{ teamId: string }>();
  const me = useMe();
  const team = me.teams.find((t) => t.id === teamId);
  const role = roleIn(me, teamId);
  const manage = atLeast(role, 'admin');
  usePageTitle(`Team · ${team?.name ?? ''}`);
  const qc = useQueryClient();
  const members = useApi<List<Member>>('/api/team-members', { teamId, limit: 200 });
  const invitations = useApi<List<Invitation>>(manage ? '/api/team-invitations' : null, { teamId, limit: 100 });
  const audit = useApi<List<Audit>>(manage ? '/api/audit' : null, { teamId, limit: 50 });
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [inviteRole, setInviteRole] = useState('member');
  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      const r = await f();
      qc.invalidateQueries({ queryKey: ['/api/team-members'] });
      qc.invalidateQueries({ queryKey: ['/api/team-invitations'] });
      qc.invalidateQueries({ queryKey: ['/api/audit'] });
      return r;
    } catch (e) {
      setError(e);
      return undefined;
    }
  };
  return (
    <>
      <h1>Team{team ? <span class="muted"> · {team.name}</span> : null}</h1>
      <ErrorBox error={error} title="The change failed" />
      <Card title="Members">
        <Loaded q={members} what="members">
          {(m) => (
            <table class="grid">
              <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Joined</th>{manage ? <th scope="col">Actions</th> : null}</tr></thead>
              <tbody>{m.data.map((x) => (
                <tr key={x.id}>
                  <td>{x.name ?? x.email} <span class="muted">{x.name ? x.email : ''}</span></td>
                  <td>{manage ? (
                    <select aria-label={`Role of ${x.email}`} value={x.role} onChange={(e) => act(() => patch(`/api/team-members/${x.id}`, { role: e.currentTarget.value }))}>
                      {['owner', 'admin', 'member', 'viewer'].map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  ) : x.role}</td>
                  <td>{when(x.joinedAt)}</td>
                  {manage ? <td><button type="button" class="danger" onClick={() => confirm(`Remove ${x.email} from the team?`) && act(() => del(`/api/team-members/${x.id}`))}>Remove</button></td> : null}
                </tr>
              ))}</tbody>
            </table>
          )}
        </Loaded>
      </Card>
      {manage ? (
        <Card title="Invitations">
          {token ? <SecretOnce label="Invitation created. Send this token to the invited person:" value={token} onDismiss={() => setToken(null)} /> : null}
          <form class="inline" onSubmit={async (e) => {
            e.preventDefault();
            const r = (await act(() => post('/api/team-members', { teamId, email, role: inviteRole }))) as { token?: string } | undefined;
            if (r?.token) {
              setToken(r.token);
              setEmail('');
            }
          }}>
            <label>Email <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
            <label>Role
              <select value={inviteRole} onChange={(e) => setInviteRole(e.currentTarget.value)}>
                <option value="admin">admin</option><option value="member">member</option><option value="viewer">viewer</option>
              </select>
            </label>
            <button type="submit" class="primary">Invite</button>
          </form>
          <Loaded q={invitations} what="invitations">
            {(i) => i.data.length ? (
              <table class="grid">
                <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Actions</th></tr></thead>
                <tbody>{i.data.map((x) => (
                  <tr key={x.id}><td>{x.email}</td><td>{x.role}</td><td>{x.status}</td><td>{when(x.expiresAt)}</td>
                    <td>{x.status === 'pending' ? <button type="button" class="danger" onClick={() => act(() => del(`/api/team-invitations/${x.id}`))}>Revoke</button> : null}</td></tr>
                ))}</tbody>
              </table>
            ) : <p class="muted">No invitations.</p>}
          </Loaded>
        </Card>
      ) : null}
      {manage ? (
        <Card title="Audit log">
          <Loaded q={audit} what="the audit log">
            {(a) => a.data.length ? (
              <table class="grid small">
                <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Change</th></tr></thead>
                <tbody>{a.data.map((x) => (
                  <tr key={x.id}><td>{when(x.createdAt)}</td><td>{x.actor.type} {x.actor.id.slice(-8)}</td><td>{x.action}</td><td>{x.targetType} {x.targetId.slice(-8)}</td>
                    <td><code class="clip">{x.before ? JSON.stringify(x.before) : ''}{x.before && x.after ? ' → ' : ''}{x.after ? JSON.stringify(x.after) : ''}</code></td></tr>
                ))}</tbody>
              </table>
            ) : <p class="muted">Nothing yet.</p>}
          </Loaded>
        </Card>
      ) : null}
    </>
  );
}
