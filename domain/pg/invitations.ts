import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';
import { randomToken, sha256Hex } from '../../lib/tokens.ts';

export type InvitationRow = {
  id: string; team_id: string; email: string; role: 'admin' | 'member' | 'viewer'; token_hash: string;
  status: 'pending' | 'accepted' | 'revoked'; invited_by: string | null; expires_at: Date; created_at: Date;
  accepted_at: Date | null; accepted_by: string | null;
};

export const INVITATION_TTL_MS = 7 * 24 * 3600 * 1000;
export const generateInvitationToken = () => randomToken('rlinv_');
const hash = sha256Hex;

export const invitations = {
  // undefined when the address has an open invitation to the team already.
  async insert(db: Queryable, i: { id: string; teamId: string; email: string; role: string; token: string; invitedBy: string }): Promise<InvitationRow | undefined> {
    // An expired invitation does not block a new one.
    await db.query(
      `UPDATE team_invitations SET status = 'revoked' WHERE team_id = $1 AND lower(email) = lower($2) AND status = 'pending' AND expires_at <= now()`,
      [i.teamId, i.email],
    );
    const r = await db.query(
      `INSERT INTO team_invitations (id, team_id, email, role, token_hash, invited_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
       ON CONFLICT (team_id, lower(email)) WHERE status = 'pending' DO NOTHING RETURNING *`,
      [i.id, i.teamId, i.email, i.role, hash(i.token), i.invitedBy, INVITATION_TTL_MS / 1000],
    );
    return r.rows[0];
  },
  // Locked: accepting the same token twice at once makes one membership.
  async byTokenForUpdate(db: Queryable, token: string): Promise<InvitationRow | undefined> {
    return (await db.query('SELECT * FROM team_invitations WHERE token_hash = $1 FOR UPDATE', [hash(token)])).rows[0];
  },
  async byId(db: Queryable, id: string): Promise<InvitationRow | undefined> {
    return (await db.query('SELECT * FROM team_invitations WHERE id = $1', [id])).rows[0];
  },
  list(db: Queryable, q: { teamId: string; limit: number; offset: number }) {
    return page<InvitationRow>(db, { ...q, from: 'team_invitations', where: 'team_id = $1', args: [q.teamId], orderBy: 'created_at DESC, id DESC' });
  },
  async accept(db: Queryable, id: string, userId: string): Promise<InvitationRow> {
    const r = await db.query(
      `UPDATE team_invitations SET status = 'accepted', accepted_at = now(), accepted_by = $2 WHERE id = $1 RETURNING *`,
      [id, userId],
    );
    return r.rows[0];
  },
  async revoke(db: Queryable, id: string): Promise<InvitationRow> {
    return (await db.query(`UPDATE team_invitations SET status = 'revoked' WHERE id = $1 RETURNING *`, [id])).rows[0];
  },
};

export const invitationStatus = (i: InvitationRow) =>
  i.status === 'pending' && i.expires_at.getTime() <= Date.now() ? 'expired' : i.status;

export const invitationView = (i: InvitationRow) => ({
  id: i.id, teamId: i.team_id, email: i.email, role: i.role, status: invitationStatus(i),
  expiresAt: i.expires_at.toISOString(), createdAt: i.created_at.toISOString(),
});
