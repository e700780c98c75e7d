import type { Queryable } from '../../lib/pg.ts';

export type TeamRole = 'owner' | 'admin' | 'member' | 'viewer';
export type TeamRow = { id: string; name: string; created_at: Date; updated_at: Date };

export const teams = {
  async insertWithOwner(db: Queryable, t: { id: string; name: string; ownerId: string; memberId: string }): Promise<TeamRow> {
    const r = await db.query(
      `WITH t AS (INSERT INTO teams (id, name) VALUES ($1, $2) RETURNING *),
            m AS (INSERT INTO team_members (id, team_id, user_id, role) SELECT $4, t.id, $3, 'owner' FROM t)
       SELECT * FROM t`,
      [t.id, t.name, t.ownerId, t.memberId],
    );
    return r.rows[0];
  },
  async roleOf(db: Queryable, teamId: string, userId: string): Promise<TeamRole | undefined> {
    return (await db.query('SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2', [teamId, userId])).rows[0]?.role;
  },
};

export const teamView = (t: TeamRow) => ({ id: t.id, name: t.name, createdAt: t.created_at.toISOString() });
