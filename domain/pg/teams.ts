import type { Queryable } from '../../lib/pg.ts';
import type { TeamRole } from '../../schemas/accounts.ts';

export type { TeamRole };
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
  async byId(db: Queryable, id: string): Promise<TeamRow | undefined> {
    return (await db.query('SELECT * FROM teams WHERE id = $1', [id])).rows[0];
  },
  // Locks the team row: membership changes of one team are serialised on it,
  // which is what keeps "the last owner cannot leave" true under concurrency.
  async lock(db: Queryable, id: string): Promise<TeamRow | undefined> {
    return (await db.query('SELECT * FROM teams WHERE id = $1 FOR UPDATE', [id])).rows[0];
  },
  // The teams a user belongs to, with the user's role in each.
  async ofUser(db: Queryable, userId: string): Promise<Array<TeamRow & { role: TeamRole }>> {
    const r = await db.query(
      `SELECT t.*, m.role FROM teams t JOIN team_members m ON m.team_id = t.id AND m.user_id = $1 ORDER BY t.created_at, t.id`,
      [userId],
    );
    return r.rows;
  },
  async rename(db: Queryable, id: string, name: string): Promise<TeamRow> {
    return (await db.query('UPDATE teams SET name = $2, updated_at = now() WHERE id = $1 RETURNING *', [id, name])).rows[0];
  },
  // Members, invitations and projects (with their keys and settings) cascade.
  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM teams WHERE id = $1', [id]);
  },
};

export const teamView = (t: TeamRow) => ({ id: t.id, name: t.name, createdAt: t.created_at.toISOString() });
