import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { runBody } from '../support/fixtures.ts';
import { createUser, joinAsOwner, joinTeam, PASSWORD, type Person } from '../support/people.ts';
import { AuditEntry, Invitation, InvitationCreated, Member, TeamWithRole } from '../../schemas/accounts.ts';

// Teams, members, invitations and the audit log.
let stack: TestStack;
let root: string;
let n = 0;
const person = (what = 'person') => createUser(stack.url, root, `${what}.${n++}.${Date.now()}@example.com`, `${what} ${n}`);
const as = (p: Person | string) => client(stack.url, { token: typeof p === 'string' ? p : p.token });

async function team(owner: Person, name = `team ${n++}`): Promise<string> {
  const res = await as(owner).post('/api/teams', { name });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  root = await adminToken(stack.url);
});

afterAll(async () => {
  await stack?.stop();
});

describe('teams', () => {
  it('makes the creator the owner, and lists only the teams one belongs to, with one\'s role', async () => {
    const [alice, bob] = [await person('alice'), await person('bob')];
    const a = await team(alice, 'Alpha');
    await team(bob, 'Bravo');
    const mine = await as(alice).get('/api/teams');
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((t: unknown) => TeamWithRole.parse(t))).toEqual([expect.objectContaining({ id: a, name: 'Alpha', role: 'owner' })]);
    const members = await as(alice).get(`/api/team-members?teamId=${a}`);
    expect(members.body.data.map((m: unknown) => Member.parse(m))).toEqual([expect.objectContaining({ userId: alice.id, role: 'owner', email: alice.email, avatarUrl: null })]);
    expect((await as(bob).get(`/api/teams/${a}`)).status).toBe(404);
  });

  it('lets admins rename it but not members, and only owners delete it', async () => {
    const [owner, adm, mem] = [await person(), await person(), await person()];
    const id = await team(owner);
    await joinTeam(stack.url, owner.token, id, adm, 'admin');
    await joinTeam(stack.url, owner.token, id, mem, 'member');
    const renamed = await as(adm).patch(`/api/teams/${id}`, { name: 'Renamed' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: 'Renamed' });
    expect((await as(mem).patch(`/api/teams/${id}`, { name: 'Nope' })).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'admin' } });
    expect((await as(adm).del(`/api/teams/${id}`)).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'owner' } });
    expect((await as(owner).del(`/api/teams/${id}`)).body).toEqual({ success: true, message: 'Team deleted successfully' });
    expect((await as(owner).get(`/api/teams/${id}`)).status).toBe(404);
    expect((await as(mem).get('/api/teams')).body.data).toEqual([]);
  });

  it('deletes its projects with it: rows at once, keys refused, data through the log', async () => {
    const owner = await person();
    const id = await team(owner);
    const project = (await as(owner).post('/api/projects', { teamId: id, name: 'doomed' })).body.id;
    const key = (await as(owner).post('/api/api-keys', { projectId: project, name: 'ci' })).body.key;
    const run = await client(stack.url, { key }).post('/api/runs', runBody(project));
    expect(run.status).toBe(201);
    await stack.waitForProjections();
    expect((await as(owner).del(`/api/teams/${id}`)).status).toBe(200);
    expect((await client(stack.url, { key }).get('/api/runs')).status).toBe(401);
    await stack.waitForProjections();
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM runs WHERE project_id = $1', [project])).rows[0].n).toBe(0);
    expect((await stack.pool.query('SELECT count(*)::int AS n FROM project_tombstones WHERE project_id = $1', [project])).rows[0].n).toBe(1);
  });
});

describe('invitations', () => {
  let owner: Person;
  let teamId: string;
  beforeAll(async () => {
    owner = await person('owner');
    teamId = await team(owner, 'Invites');
  });

  it('are pending for exactly 7 days, show their token once, and store only its hash', async () => {
    const res = await as(owner).post('/api/team-members', { teamId, email: 'new.person@example.com', role: 'member' });
    expect(res.status).toBe(201);
    const inv = InvitationCreated.parse(res.body);
    expect(inv).toMatchObject({ teamId, email: 'new.person@example.com', role: 'member', status: 'pending' });
    expect(Date.parse(inv.expiresAt) - Date.parse(inv.createdAt)).toBe(7 * 24 * 3600 * 1000);
    const row = (await stack.pool.query('SELECT * FROM team_invitations WHERE id = $1', [inv.id])).rows[0];
    expect(row.token_hash).toBe(createHash('sha256').update(inv.token).digest('hex'));
    const listed = await as(owner).get(`/api/team-invitations?teamId=${teamId}`);
    expect(listed.text).not.toContain(inv.token);
    expect(Invitation.parse(listed.body.data.find((i: { id: string }) => i.id === inv.id)).status).toBe('pending');
  });

  it('are refused for a member (409 conflict) and for an address with an open invitation', async () => {
    const member = await person();
    await joinTeam(stack.url, owner.token, teamId, member, 'viewer');
    for (const email of [member.email, member.email.toUpperCase(), owner.email]) {
      const res = await as(owner).post('/api/team-members', { teamId, email, role: 'member' });
      expect(res.status, email).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'conflict', details: { reason: 'already_member' } });
    }
    const first = await as(owner).post('/api/team-members', { teamId, email: 'twice@example.com', role: 'viewer' });
    expect(first.status).toBe(201);
    const again = await as(owner).post('/api/team-members', { teamId, email: 'twice@example.com', role: 'admin' });
    expect(again.body.error).toMatchObject({ code: 'conflict', details: { reason: 'already_invited' } });
  });

  it('make the membership once, for the invited address only', async () => {
    const invitee = await person('invitee');
    const other = await person('other');
    const inv = (await as(owner).post('/api/team-members', { teamId, email: invitee.email, role: 'admin' })).body;
    const wrong = await as(other).post('/api/team-members/accept', { token: inv.token });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('forbidden');
    const ok = await as(invitee).post('/api/team-members/accept', { token: inv.token });
    expect(ok.status).toBe(201);
    expect(Member.parse(ok.body)).toMatchObject({ teamId, userId: invitee.id, role: 'admin' });
    expect((await as(invitee).post('/api/team-members/accept', { token: inv.token })).status).toBe(404);
    expect((await as(invitee).get(`/api/teams/${teamId}`)).body.role).toBe('admin');
    const listed = (await as(owner).get(`/api/team-invitations?teamId=${teamId}`)).body.data.find((i: { id: string }) => i.id === inv.id);
    expect(listed.status).toBe('accepted');
  });

  it('accepted twice at once make one membership', async () => {
    const invitee = await person('racer');
    const inv = (await as(owner).post('/api/team-members', { teamId, email: invitee.email, role: 'viewer' })).body;
    const results = await Promise.all([1, 2, 3].map(() => as(invitee).post('/api/team-members/accept', { token: inv.token })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 404, 404]);
  });

  it('expire: an expired one is refused, and the address may be invited again', async () => {
    const invitee = await person('late');
    const inv = (await as(owner).post('/api/team-members', { teamId, email: invitee.email, role: 'viewer' })).body;
    await stack.pool.query(`UPDATE team_invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [inv.id]);
    const res = await as(invitee).post('/api/team-members/accept', { token: inv.token });
    expect(res.status).toBe(409);
    expect(res.body.error.details.reason).toBe('invitation_expired');
    const listed = (await as(owner).get(`/api/team-invitations?teamId=${teamId}`)).body.data.find((i: { id: string }) => i.id === inv.id);
    expect(listed.status).toBe('expired');
    const again = await as(owner).post('/api/team-members', { teamId, email: invitee.email, role: 'viewer' });
    expect(again.status).toBe(201);
    expect((await as(invitee).post('/api/team-members/accept', { token: again.body.token })).status).toBe(201);
  });

  it('can be revoked by an admin, and a revoked one is refused', async () => {
    const invitee = await person('revoked');
    const inv = (await as(owner).post('/api/team-members', { teamId, email: invitee.email, role: 'viewer' })).body;
    expect((await as(owner).del(`/api/team-invitations/${inv.id}`)).status).toBe(200);
    expect((await as(owner).del(`/api/team-invitations/${inv.id}`)).status).toBe(409);
    expect((await as(invitee).post('/api/team-members/accept', { token: inv.token })).status).toBe(404);
  });

  it('let someone without an account join: the account is made for the invited address', async () => {
    const inv = (await as(owner).post('/api/team-members', { teamId, email: 'brand.new@example.com', role: 'member' })).body;
    const res = await request(stack.url, 'POST', '/api/auth/accept-invitation', { body: { token: inv.token, password: PASSWORD, name: 'Brand New' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user).toMatchObject({ email: 'brand.new@example.com', name: 'Brand New', role: 'user' });
    expect(res.body.member).toMatchObject({ teamId, role: 'member' });
    expect((await as(res.body.token).get(`/api/teams/${teamId}`)).body.role).toBe('member');
    // an address that has an account signs in and accepts instead
    const known = await person('known');
    const inv2 = (await as(owner).post('/api/team-members', { teamId, email: known.email, role: 'member' })).body;
    const refused = await request(stack.url, 'POST', '/api/auth/accept-invitation', { body: { token: inv2.token, password: PASSWORD } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details.reason).toBe('account_exists');
  });
});

describe('roles and the last owner', () => {
  it('lets admins change roles, but only owners make or unmake owners', async () => {
    const [owner, adm, mem] = [await person(), await person(), await person()];
    const id = await team(owner);
    const admId = await joinTeam(stack.url, owner.token, id, adm, 'admin');
    const memId = await joinTeam(stack.url, owner.token, id, mem, 'member');
    const ownerMember = (await as(owner).get(`/api/team-members?teamId=${id}`)).body.data.find((m: { userId: string }) => m.userId === owner.id).id;
    expect((await as(adm).patch(`/api/team-members/${memId}`, { role: 'viewer' })).body.role).toBe('viewer');
    expect((await as(adm).patch(`/api/team-members/${memId}`, { role: 'owner' })).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'owner' } });
    expect((await as(adm).patch(`/api/team-members/${ownerMember}`, { role: 'admin' })).status).toBe(403);
    expect((await as(mem).patch(`/api/team-members/${admId}`, { role: 'viewer' })).status).toBe(403);
    expect((await as(owner).patch(`/api/team-members/${admId}`, { role: 'owner' })).body.role).toBe('owner');
  });

  it('keeps the last owner: they can neither be demoted nor leave', async () => {
    const owner = await person();
    const id = await team(owner);
    const me = (await as(owner).get(`/api/team-members?teamId=${id}`)).body.data[0].id;
    const demote = await as(owner).patch(`/api/team-members/${me}`, { role: 'admin' });
    expect(demote.status).toBe(409);
    expect(demote.body.error.details.reason).toBe('last_owner');
    const leave = await as(owner).del(`/api/team-members/${me}`);
    expect(leave.status).toBe(409);
    expect(leave.body.error.details.reason).toBe('last_owner');
    // with a second owner, the first may leave
    const second = await person();
    await joinAsOwner(stack.url, owner.token, id, second);
    expect((await as(owner).del(`/api/team-members/${me}`)).status).toBe(200);
    expect((await as(owner).get(`/api/teams/${id}`)).status).toBe(404);
  });

  it('keeps one owner when two owners demote each other at the same time', async () => {
    const [a, b] = [await person(), await person()];
    const id = await team(a);
    const bId = await joinAsOwner(stack.url, a.token, id, b);
    const aId = (await as(a).get(`/api/team-members?teamId=${id}`)).body.data.find((m: { userId: string }) => m.userId === a.id).id;
    const [r1, r2] = await Promise.all([as(a).patch(`/api/team-members/${bId}`, { role: 'admin' }), as(b).patch(`/api/team-members/${aId}`, { role: 'admin' })]);
    // serialised on the team: the second finds its caller an owner no more
    expect([r1.status, r2.status].sort()).toEqual([200, 403]);
    const owners = (await stack.pool.query(`SELECT count(*)::int AS n FROM team_members WHERE team_id = $1 AND role = 'owner'`, [id])).rows[0].n;
    expect(owners).toBe(1);
  });

  it('lets anyone leave, admins remove members, and nobody but owners remove an owner', async () => {
    const [owner, adm, viewer, other] = [await person(), await person(), await person(), await person()];
    const id = await team(owner);
    await joinTeam(stack.url, owner.token, id, adm, 'admin');
    const viewerId = await joinTeam(stack.url, owner.token, id, viewer, 'viewer');
    const otherId = await joinTeam(stack.url, owner.token, id, other, 'member');
    const ownerId = (await as(owner).get(`/api/team-members?teamId=${id}`)).body.data.find((m: { userId: string }) => m.userId === owner.id).id;
    expect((await as(viewer).del(`/api/team-members/${otherId}`)).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'admin' } });
    expect((await as(adm).del(`/api/team-members/${ownerId}`)).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'owner' } });
    expect((await as(adm).del(`/api/team-members/${otherId}`)).status).toBe(200);
    expect((await as(viewer).del(`/api/team-members/${viewerId}`)).status).toBe(200);
    expect((await as(viewer).get(`/api/team-members?teamId=${id}`)).status).toBe(404);
  });
});

describe('the audit log', () => {
  it('records every change with who, what, when, before and after, and never a secret', async () => {
    const [owner, adm, viewer] = [await person(), await person(), await person()];
    const id = await team(owner, 'Audited');
    await joinTeam(stack.url, owner.token, id, adm, 'admin');
    await joinTeam(stack.url, owner.token, id, viewer, 'viewer');
    const project = (await as(adm).post('/api/projects', { teamId: id, name: 'P' })).body;
    const key = (await as(adm).post('/api/api-keys', { projectId: project.id, name: 'ci', scope: 'ingest' })).body;
    await as(adm).patch(`/api/api-keys/${key.id}`, { isActive: false });
    await as(adm).patch(`/api/projects/${project.id}/settings`, { flakinessThreshold: 0.5 });
    const inv = (await as(adm).post('/api/team-members', { teamId: id, email: 'audited@example.com', role: 'viewer' })).body;
    await as(owner).patch(`/api/teams/${id}`, { name: 'Audited 2' });

    const res = await as(adm).get(`/api/audit?teamId=${id}&limit=100`);
    expect(res.status).toBe(200);
    const entries = res.body.data.map((e: unknown) => AuditEntry.parse(e));
    const actions = entries.map((e: { action: string }) => e.action).reverse();
    expect(actions).toEqual(['team.created', 'member.invited', 'member.joined', 'member.invited', 'member.joined', 'project.created',
      'api_key.created', 'api_key.updated', 'settings.updated', 'member.invited', 'team.updated']);
    const find = (action: string) => entries.find((e: { action: string }) => e.action === action);
    expect(find('settings.updated')).toMatchObject({
      actor: { type: 'user', id: adm.id }, projectId: project.id, targetId: project.id,
      before: { flakinessThreshold: 0.3 }, after: { flakinessThreshold: 0.5 },
    });
    expect(find('api_key.updated')).toMatchObject({ before: { isActive: true }, after: { isActive: false } });
    expect(find('team.updated')).toMatchObject({ actor: { id: owner.id }, before: { name: 'Audited' }, after: { name: 'Audited 2' } });
    expect(find('api_key.created').after.maskedKey).toBe(`rl_****...****${key.key.slice(-4)}`);
    for (const secret of [key.key, key.key.slice(3), inv.token, PASSWORD]) expect(res.text).not.toContain(secret);
    expect(res.text).not.toMatch(/key_hash|token_hash|password/i);
    // filters
    const keyOnly = await as(adm).get(`/api/audit?teamId=${id}&action=api_key.updated`);
    expect(keyOnly.body.total).toBe(1);
    expect((await as(adm).get(`/api/audit?teamId=${id}&projectId=${project.id}`)).body.total).toBe(4);
  });

  it('is for admins: viewers and keys are refused, other teams see nothing', async () => {
    const [owner, viewer, stranger] = [await person(), await person(), await person()];
    const id = await team(owner);
    await joinTeam(stack.url, owner.token, id, viewer, 'viewer');
    expect((await as(viewer).get(`/api/audit?teamId=${id}`)).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'admin' } });
    expect((await as(stranger).get(`/api/audit?teamId=${id}`)).status).toBe(404);
    expect((await as(stranger).get('/api/audit')).status).toBe(403); // instance entries: administrators only
  });

  it('keeps the instance-level changes (users) for instance administrators', async () => {
    const someone = await person('audited-user');
    const changed = await as(someone).post('/api/auth/change-password', { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase' });
    expect(changed.status).toBe(200);
    const res = await as(root).get('/api/audit?limit=500');
    expect(res.status).toBe(200);
    const mine = res.body.data.filter((e: { targetId: string }) => e.targetId === someone.id).map((e: { action: string }) => e.action);
    expect(mine).toEqual(['user.password_changed', 'user.created']);
    expect(res.text).not.toContain(PASSWORD);
    expect(res.text).not.toContain('scrypt$');
  });
});
