import { AppError } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import type { PoolClient } from '../../lib/pg.ts';
import { audit } from '../../domain/pg/audit.ts';
import { invitations, invitationStatus, invitationView } from '../../domain/pg/invitations.ts';
import { memberView, teamMembers, type MemberRow } from '../../domain/pg/team-members.ts';
import type { UserRow } from '../../domain/pg/users.ts';

// Accepting an invitation makes the membership, once: the invitation row is
// locked, so the same token used twice at once yields one member and a 404.
export async function acceptInvitation(tx: PoolClient, token: string, user: UserRow, requestId: string | null): Promise<MemberRow> {
  const inv = await invitations.byTokenForUpdate(tx, token);
  if (!inv || inv.status !== 'pending') throw new AppError('not_found', 'invitation not found, or already used or revoked');
  if (invitationStatus(inv) === 'expired') {
    throw new AppError('conflict', 'this invitation has expired; ask for a new one', { reason: 'invitation_expired', expiresAt: inv.expires_at.toISOString() });
  }
  if (inv.email.toLowerCase() !== user.email.toLowerCase()) {
    throw new AppError('forbidden', 'this invitation was sent to another email address');
  }
  const member = await teamMembers.insert(tx, { id: newId('member'), teamId: inv.team_id, userId: user.id, role: inv.role });
  if (!member) throw new AppError('conflict', 'you are a member of this team already', { reason: 'already_member' });
  const accepted = await invitations.accept(tx, inv.id, user.id);
  await audit.record(tx, {
    teamId: inv.team_id, actor: { type: 'user', id: user.id }, action: 'member.joined', target: { type: 'member', id: member.id },
    before: invitationView(inv), after: { ...memberView(member), invitation: invitationView(accepted) }, requestId,
  });
  return member;
}
