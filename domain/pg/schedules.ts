import cron from 'node-cron';
import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type ScheduleRow = {
  id: string; project_id: string; name: string; cron: string; timezone: string; is_active: boolean; next_run_at: Date | null;
  last_run_at: Date | null; created_by: string | null; created_at: Date; updated_at: Date;
};

// The first time the expression matches after now, in its time zone (node-cron).
export function nextRunOf(expression: string, timezone: string): Date | null {
  const task = cron.createTask(expression, () => undefined, { timezone });
  try {
    return task.getNextRuns(1)[0] ?? null;
  } finally {
    void task.destroy();
  }
}

export const schedules = {
  async byId(db: Queryable, id: string): Promise<ScheduleRow | undefined> {
    return (await db.query('SELECT * FROM schedules WHERE id = $1', [id])).rows[0];
  },
  list(db: Queryable, q: { projectId: string; limit: number; offset: number }) {
    return page<ScheduleRow>(db, { from: 'schedules', where: 'project_id = $1', args: [q.projectId], orderBy: 'created_at, id', limit: q.limit, offset: q.offset });
  },
  async insert(db: Queryable, s: { id: string; projectId: string; name: string; cron: string; timezone: string; isActive: boolean; createdBy: string | null }): Promise<ScheduleRow> {
    return (await db.query(
      `INSERT INTO schedules (id, project_id, name, cron, timezone, is_active, next_run_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [s.id, s.projectId, s.name, s.cron, s.timezone, s.isActive, nextRunOf(s.cron, s.timezone), s.createdBy],
    )).rows[0];
  },
  // A change of timing (or a resume) sets the next run from now: runs due while paused do not fire.
  async update(db: Queryable, before: ScheduleRow, p: { name?: string; cron?: string; timezone?: string; isActive?: boolean }): Promise<ScheduleRow | undefined> {
    const expression = p.cron ?? before.cron;
    const timezone = p.timezone ?? before.timezone;
    const retime = p.cron !== undefined || p.timezone !== undefined || (p.isActive === true && !before.is_active);
    return (await db.query(
      `UPDATE schedules SET name = $2, cron = $3, timezone = $4, is_active = $5, next_run_at = CASE WHEN $6 THEN $7 ELSE next_run_at END, updated_at = now()
       WHERE id = $1 RETURNING *`,
      [before.id, p.name ?? before.name, expression, timezone, p.isActive ?? before.is_active, retime, nextRunOf(expression, timezone)],
    )).rows[0];
  },
  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM schedules WHERE id = $1', [id]);
  },
};

export function scheduleView(s: ScheduleRow) {
  return {
    id: s.id, projectId: s.project_id, name: s.name, cron: s.cron, timezone: s.timezone, isActive: s.is_active,
    nextRunAt: s.is_active ? (s.next_run_at?.toISOString() ?? null) : null, lastRunAt: s.last_run_at?.toISOString() ?? null,
    createdAt: s.created_at.toISOString(), updatedAt: s.updated_at.toISOString(),
  };
}
