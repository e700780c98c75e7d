import Router from '@koa/router';
import { AppError, notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction, type PoolClient } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorizeTeam, principalOf, requireUser } from '../../domain/accounts/auth.ts';
import type { Principal } from '../../lib/http/principal.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { InvitationAcceptBody, InvitationCreateBody, MemberPatchBody, MembersQuery } from '../../schemas/accounts.ts';
import { id } from '../../schemas/common.ts';
import { audit } from '../../domain/pg/audit.ts';
import { teams } from '../../domain/pg/teams.ts';
import { memberView, teamMembers, type MemberRow } from '../../domain/pg/team-members.ts';
import { generateInvitationToken, invitations, invitationView } from '../../domain/pg/invitations.ts';
import { users } from '../../domain/pg/users.ts';
import { acceptInvitation } from '../services/invitations.ts';
import { listBody, requestIdOf } from './support.ts';

// Team members and invitations (Euriqa: /api/team-members). Viewers see the
// members; admins invite, change roles and remove; only an owner makes or
// unmakes owners; anyone may leave; the last owner can neither leave nor be demoted.
export function teamMembersRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.get('/api/team-members', async (ctx) => {
    const q = parse(MembersQuery, ctx.query);
    await authorizeTeam(pool, principalOf(ctx), q.teamId, 'read');
    ctx.body = listBody(await teamMembers.list(pool, q), memberView, q);
  });

  // An invitation, pending until accepted, for 7 days. The token is in this
  // response only (there is no mailer: the inviter passes it on).
  router.post('/api/team-members', async (ctx) => {
    const body = parse(InvitationCreateBody, ctx.request.body);
    await authorizeTeam(pool, principalOf(ctx), body.teamId, 'manage');
    const user = requireUser(ctx);
    const token = generateInvitationToken();
    const inv = await withTransaction(pool, async (tx) => {
      if (!(await teams.lock(tx, body.teamId))) throw notFound('team', body.teamId);
      if (await teamMembers.byEmail(tx, body.teamId, body.email)) {
        throw new AppError('conflict', `${body.email} is a member of this team already`, { reason: 'already_member' });
      }
      const row = await invitations.insert(tx, { id: newId('invitation'), teamId: body.teamId, email: body.email, role: body.role, token, invitedBy: user.userId });
      if (!row) throw new AppError('conflict', `${body.email} has a pending invitation to this team already`, { reason: 'already_invited' });
      await audit.record(tx, { teamId: body.teamId, actor: actorOf(user), action: 'member.invited', target: { type: 'invitation', id: row.id }, after: invitationView(row), requestId: requestIdOf(ctx) });
      return row;
    });
    ctx.status = 201;
    ctx.body = { ...invitationView(inv), token };
  });

  // Accepting an invitation sent to the signed-in user's email address.
  router.post('/api/team-members/accept', async (ctx) => {
    const body = parse(InvitationAcceptBody, ctx.request.body);
    const principal = requireUser(ctx);
    const member = await withTransaction(pool, async (tx) => {
      const user = await users.byId(tx, principal.userId);
      if (!user) throw new AppError('invalid_auth', 'invalid or expired token');
      return acceptInvitation(tx, body.token, user, requestIdOf(ctx));
    });
    ctx.status = 201;
    ctx.body = memberView(member);
  });

  // A member of a team the caller belongs to, and the caller's role there;
  // anything else is 404 (an API key of the team: 403). The team row is locked:
  // membership changes of a team are serialised, which keeps the last-owner
  // rule true under concurrency.
  async function lockedMember(tx: PoolClient, memberId: string, principal: Principal) {
    const found = await teamMembers.byId(tx, memberId);
    if (!found) throw notFound('member', memberId);
    await authorizeTeam(tx, principal, found.team_id, 'read', { kind: 'member', id: memberId });
    await teams.lock(tx, found.team_id);
    const member = await teamMembers.byId(tx, memberId);
    if (!member) throw notFound('member', memberId);
    return member;
  }
  const lastOwner = async (tx: PoolClient, m: MemberRow) => m.role === 'owner' && (await teamMembers.owners(tx, m.team_id)) === 1;

  router.patch('/api/team-members/:id', async (ctx) => {
    const memberId = parse(id('member'), ctx.params.id);
    const body = parse(MemberPatchBody, ctx.request.body);
    const principal = principalOf(ctx);
    const updated = await withTransaction(pool, async (tx) => {
      const member = await lockedMember(tx, memberId, principal);
      // Admins change roles; making or unmaking an owner takes an owner.
      const ownership = member.role === 'owner' || body.role === 'owner';
      await authorizeTeam(tx, principal, member.team_id, ownership ? 'own' : 'manage');
      if (body.role !== 'owner' && (await lastOwner(tx, member))) {
        throw new AppError('conflict', 'the last owner cannot be demoted; make another member owner first', { reason: 'last_owner' });
      }
      if (member.role === body.role) return member;
      const after = await teamMembers.setRole(tx, memberId, body.role);
      await audit.record(tx, { teamId: member.team_id, actor: actorOf(principal), action: 'member.role_changed', target: { type: 'member', id: memberId }, before: memberView(member), after: memberView(after), requestId: requestIdOf(ctx) });
      return after;
    });
    ctx.body = memberView(updated);
  });

  // Removing a member (admins; an owner only by an owner); anyone may leave.
  router.delete('/api/team-members/:id', async (ctx) => {
    const memberId = parse(id('member'), ctx.params.id);
    const principal = principalOf(ctx);
    await withTransaction(pool, async (tx) => {
      const member = await lockedMember(tx, memberId, principal);
      const user = requireUser(ctx);
      const leaving = member.user_id === user.userId;
      if (!leaving) await authorizeTeam(tx, principal, member.team_id, member.role === 'owner' ? 'own' : 'manage');
      if (await lastOwner(tx, member)) {
        throw new AppError('conflict', 'the last owner cannot leave; make another member owner, or delete the team', { reason: 'last_owner' });
      }
      await teamMembers.delete(tx, memberId);
      await audit.record(tx, { teamId: member.team_id, actor: actorOf(user), action: leaving ? 'member.left' : 'member.removed', target: { type: 'member', id: memberId }, before: memberView(member), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'Member removed successfully' };
  });

  // Invitations of a team (pending, accepted, revoked or expired), and revoking one.
  router.get('/api/team-invitations', async (ctx) => {
    const q = parse(MembersQuery, ctx.query);
    await authorizeTeam(pool, principalOf(ctx), q.teamId, 'manage');
    ctx.body = listBody(await invitations.list(pool, q), invitationView, q);
  });

  router.delete('/api/team-invitations/:id', async (ctx) => {
    const invitationId = parse(id('invitation'), ctx.params.id);
    const principal = principalOf(ctx);
    const inv = await invitations.byId(pool, invitationId);
    if (!inv) throw notFound('invitation', invitationId);
    await authorizeTeam(pool, principal, inv.team_id, 'manage', { kind: 'invitation', id: invitationId });
    if (inv.status !== 'pending') throw new AppError('conflict', `the invitation is ${inv.status} already`, { reason: `invitation_${inv.status}` });
    await withTransaction(pool, async (tx) => {
      const after = await invitations.revoke(tx, invitationId);
      await audit.record(tx, { teamId: inv.team_id, actor: actorOf(principal), action: 'invitation.revoked', target: { type: 'invitation', id: invitationId }, before: invitationView(inv), after: invitationView(after), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'Invitation revoked successfully' };
  });

  return router;
}
