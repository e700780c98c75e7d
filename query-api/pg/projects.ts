import type { Queryable } from '../../lib/pg.ts';
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
};

export const projectView = (p: ProjectRow) => ({
  id: p.id, name: p.name, teamId: p.team_id, createdAt: p.created_at.toISOString(), updatedAt: p.updated_at.toISOString(),
});
