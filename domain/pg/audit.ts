import { newId } from '../../schemas/ids.ts';
import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type AuditRow = {
  id: string; team_id: string | null; project_id: string | null; actor_type: 'user' | 'api_key' | 'system'; actor_id: string;
  action: string; target_type: string; target_id: string; before: Record<string, unknown> | null;
  after: Record<string, unknown> | null; request_id: string | null; created_at: Date;
};

export type AuditRecord = {
  teamId: string | null; projectId?: string | null; actor: { type: 'user' | 'api_key' | 'system'; id: string };
  action: string; target: { type: string; id: string };
  before?: object | null; after?: object | null; requestId?: string | null;
};

// Secrets never reach the audit log, whatever a caller passes: any field whose
// name says it holds one is masked (views are masked already; this is the net).
const SECRET_FIELD = /pass(word)?|secret|token|^key$|key_?hash|hash$/i;
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) && v != null ? '[masked]' : maskSecrets(v)]));
  }
  return value;
}

export const audit = {
  // Written in the transaction of the change it records.
  async record(db: Queryable, a: AuditRecord): Promise<void> {
    await db.query(
      `INSERT INTO audit_log (id, team_id, project_id, actor_type, actor_id, action, target_type, target_id, before, after, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [newId('audit'), a.teamId, a.projectId ?? null, a.actor.type, a.actor.id, a.action, a.target.type, a.target.id,
        a.before ? JSON.stringify(maskSecrets(a.before)) : null, a.after ? JSON.stringify(maskSecrets(a.after)) : null, a.requestId ?? null],
    );
  },
  // teamId null: the instance-level entries (users).
  async list(db: Queryable, q: { teamId: string | null; projectId?: string; action?: string; limit: number; offset: number }) {
    const where = [q.teamId ? 'team_id = $1' : 'team_id IS NULL'];
    const args: unknown[] = q.teamId ? [q.teamId] : [];
    if (q.projectId) where.push(`project_id = $${args.push(q.projectId)}`);
    if (q.action) where.push(`action = $${args.push(q.action)}`);
    return page<AuditRow>(db, { ...q, from: 'audit_log', where: where.join(' AND '), args, orderBy: 'created_at DESC, id DESC' });
  },
};

export const auditView = (a: AuditRow) => ({
  id: a.id, teamId: a.team_id, projectId: a.project_id, actor: { type: a.actor_type, id: a.actor_id }, action: a.action,
  targetType: a.target_type, targetId: a.target_id, before: a.before, after: a.after, requestId: a.request_id,
  createdAt: a.created_at.toISOString(),
});
