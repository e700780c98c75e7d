import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type WebhookRow = {
  id: string; project_id: string; url: string; target: string; events: string[]; headers: Record<string, string>;
  secret: string; is_active: boolean; format: string; routing_key: string | null; thresholds: { passRate?: number; flakyRate?: number; windowDays: number } | null; disabled_reason: string | null; created_by: string | null; created_at: Date; updated_at: Date;
};
export type DeliveryRow = {
  id: string; webhook_id: string; project_id: string; event_id: string; event: string; body: string; status: string;
  attempts: number; next_attempt_at: Date | null; locked_until: Date | null; last_status_code: number | null; last_error: string | null;
  last_duration_ms: number | null; response_excerpt: string | null; created_at: Date; delivered_at: Date | null;
};

export const webhooks = {
  async byId(db: Queryable, id: string): Promise<WebhookRow | undefined> {
    return (await db.query('SELECT * FROM webhooks WHERE id = $1', [id])).rows[0];
  },
  list(db: Queryable, q: { projectId: string; limit: number; offset: number }) {
    return page<WebhookRow>(db, { from: 'webhooks', where: 'project_id = $1', args: [q.projectId], orderBy: 'created_at, id', limit: q.limit, offset: q.offset });
  },
  async insert(db: Queryable, w: { id: string; projectId: string; url: string; target: string; events: string[]; headers: Record<string, string>; secret: string; isActive: boolean; thresholds: object | null; createdBy: string | null; format: string; routingKey: string | null }): Promise<WebhookRow> {
    return (await db.query(
      `INSERT INTO webhooks (id, project_id, url, target, events, headers, secret, is_active, thresholds, created_by, format, routing_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
      [w.id, w.projectId, w.url, w.target, w.events, JSON.stringify(w.headers), w.secret, w.isActive, w.thresholds ? JSON.stringify(w.thresholds) : null, w.createdBy, w.format, w.routingKey],
    )).rows[0];
  },
  async update(db: Queryable, id: string, p: { url?: string; target?: string; events?: string[]; headers?: Record<string, string>; secret?: string; isActive?: boolean; thresholds?: object | null; format?: string; routingKey?: string | null }): Promise<WebhookRow | undefined> {
    const sets: string[] = [];
    const args: unknown[] = [id];
    if (p.url !== undefined) sets.push(`url = $${args.push(p.url)}`, `target = $${args.push(p.target)}`);
    if (p.events !== undefined) sets.push(`events = $${args.push(p.events)}`);
    if (p.headers !== undefined) sets.push(`headers = $${args.push(JSON.stringify(p.headers))}`);
    if (p.secret !== undefined) sets.push(`secret = $${args.push(p.secret)}`);
    if (p.format !== undefined) sets.push(`format = $${args.push(p.format)}`);
    if (p.routingKey !== undefined) sets.push(`routing_key = $${args.push(p.routingKey)}`);
    if (p.thresholds !== undefined) sets.push(`thresholds = $${args.push(p.thresholds ? JSON.stringify(p.thresholds) : null)}`);
    // Turning a hook back on clears why it was turned off.
    if (p.isActive !== undefined) sets.push(`is_active = $${args.push(p.isActive)}`, `disabled_reason = CASE WHEN $${args.length} THEN NULL ELSE disabled_reason END`);
    return (await db.query(`UPDATE webhooks SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING *`, args)).rows[0];
  },
  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM webhooks WHERE id = $1', [id]);
  },
  // The active hooks of these projects (the dispatcher's candidates).
  async subscribers(db: Queryable, projectIds: string[]): Promise<WebhookRow[]> {
    if (projectIds.length === 0) return [];
    return (await db.query('SELECT * FROM webhooks WHERE project_id = ANY($1) AND is_active', [projectIds])).rows;
  },
  deliveries(db: Queryable, q: { webhookId: string; status?: string; limit: number; offset: number }) {
    const args: unknown[] = [q.webhookId];
    let where = 'webhook_id = $1';
    if (q.status) where += ` AND status = $${args.push(q.status)}`;
    return page<DeliveryRow>(db, { from: 'webhook_deliveries', where, args, orderBy: 'created_at DESC, id DESC', limit: q.limit, offset: q.offset });
  },
};

// Header values may be credentials of the receiver: shown only to the caller
// who set them (the creation response), masked everywhere else.
const maskHeaders = (h: Record<string, string>) => Object.fromEntries(Object.keys(h).map((k) => [k, '****']));

export function webhookView(w: WebhookRow) {
  return {
    id: w.id, projectId: w.project_id, url: w.url, events: w.events, headers: maskHeaders(w.headers), isActive: w.is_active, thresholds: w.thresholds,
    format: w.format, routingKey: w.routing_key === null ? null : '****',
    disabledReason: w.disabled_reason, createdAt: w.created_at.toISOString(), updatedAt: w.updated_at.toISOString(),
  };
}

export function deliveryView(d: DeliveryRow) {
  return {
    id: d.id, webhookId: d.webhook_id, eventId: d.event_id, event: d.event, status: d.status, attempts: d.attempts,
    statusCode: d.last_status_code, error: d.last_error, durationMs: d.last_duration_ms,
    nextAttemptAt: d.status === 'pending' ? (d.next_attempt_at?.toISOString() ?? null) : null,
    responseExcerpt: d.response_excerpt, createdAt: d.created_at.toISOString(), deliveredAt: d.delivered_at?.toISOString() ?? null,
  };
}
