import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';
import type { TeamRole } from '../../schemas/accounts.ts';

export type MemberRow = {
  id: string; team_id: string; user_id: string; role: TeamRole; joined_at: Date; name: string | null; email: string; avatar_url?: string | null;
};

const COLUMNS = 'm.*, u.name, u.email, u.avatar_url';
const FROM = 'team_members m JOIN users u ON u.id = m.user_id';
const SELECT = `SELECT ${COLUMNS} FROM ${FROM}`;

export const teamMembers = {
  list(db: Queryable, q: { teamId: string; limit: number; offset: number }) {
    return page<MemberRow>(db, { ...q, select: COLUMNS, from: FROM, where: 'm.team_id = $1', args: [q.teamId], orderBy: 'm.joined_at, m.id' });
  },
  async byId(db: Queryable, id: string): Promise<MemberRow | undefined> {
    return (await db.query(`${SELECT} WHERE m.id = $1`, [id])).rows[0];
  },
  async byEmail(db: Queryable, teamId: string, email: string): Promise<MemberRow | undefined> {
    return (await db.query(`${SELECT} WHERE m.team_id = $1 AND lower(u.email) = lower($2)`, [teamId, email])).rows[0];
  },
  // undefined when the user is a member already.
  async insert(db: Queryable, m: { id: string; teamId: string; userId: string; role: TeamRole }): Promise<MemberRow | undefined> {
    const r = await db.query(
      `INSERT INTO team_members (id, team_id, user_id, role) VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, user_id) DO NOTHING RETURNING id`,
      [m.id, m.teamId, m.userId, m.role],
    );
    return r.rowCount ? teamMembers.byId(db, m.id) : undefined;
  },
  async setRole(db: Queryable, id: string, role: TeamRole): Promise<MemberRow> {
    await db.query('UPDATE team_members SET role = $2 WHERE id = $1', [id, role]);
    return (await teamMembers.byId(db, id))!;
  },
  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM team_members WHERE id = $1', [id]);
  },
  async owners(db: Queryable, teamId: string): Promise<number> {
    return (await db.query(`SELECT count(*)::int AS n FROM team_members WHERE team_id = $1 AND role = 'owner'`, [teamId])).rows[0].n;
  },
};

export const memberView = (m: MemberRow) => ({
  id: m.id, userId: m.user_id, teamId: m.team_id, role: m.role, name: m.name, email: m.email, avatarUrl: m.avatar_url ?? null,
  joinedAt: m.joined_at.toISOString(),
});
