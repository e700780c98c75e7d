import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';
import type { TeamRole } from './teams.ts';

export type ProjectRow = { id: string; team_id: string; name: string; created_at: Date; updated_at: Date };

export const projects = {
  async insert(db: Queryable, p: { id: string; teamId: string; name: string }): Promise<ProjectRow> {
    return (await db.query('INSERT INTO projects (id, team_id, name) VALUES ($1, $2, $3) RETURNING *', [p.id, p.teamId, p.name])).rows[0];
  },
  // The caller's role in the team that owns the project, if any.
  async roleOf(db: Queryable, projectId: string, userId: string): Promise<TeamRole | undefined> {
    const r = await db.query(
      `SELECT m.role FROM projects p JOIN team_members m ON m.team_id = p.team_id AND m.user_id = $2 WHERE p.id = $1`,
      [projectId, userId],
    );
    return r.rows[0]?.role;
  },
  async byId(db: Queryable, id: string): Promise<ProjectRow | undefined> {
    return (await db.query('SELECT * FROM projects WHERE id = $1', [id])).rows[0];
  },
  // A team's projects; `only` narrows the list to one project (an API key sees its own).
  list(db: Queryable, q: { teamId: string; only?: string; limit: number; offset: number }) {
    const where = q.only ? 'team_id = $1 AND id = $2' : 'team_id = $1';
    const args = q.only ? [q.teamId, q.only] : [q.teamId];
    return page<ProjectRow>(db, { ...q, from: 'projects', where, args, orderBy: 'created_at, id' });
  },
  async idsOfTeam(db: Queryable, teamId: string): Promise<string[]> {
    return (await db.query('SELECT id FROM projects WHERE team_id = $1 ORDER BY id FOR UPDATE', [teamId])).rows.map((r) => r.id);
  },
  async rename(db: Queryable, id: string, name: string): Promise<ProjectRow> {
    return (await db.query('UPDATE projects SET name = $2, updated_at = now() WHERE id = $1 RETURNING *', [id, name])).rows[0];
  },
  // Keys, settings and the ingest run registry cascade; read models go through the log.
  async delete(db: Queryable, ids: string[]): Promise<void> {
    await db.query('DELETE FROM projects WHERE id = ANY($1::text[])', [ids]);
  },
};

export const projectView = (p: ProjectRow) => ({
  id: p.id, name: p.name, teamId: p.team_id, createdAt: p.created_at.toISOString(), updatedAt: p.updated_at.toISOString(),
});
