import { derivedId } from '../../schemas/ids.ts';
import type { Queryable } from '../../lib/pg.ts';
import type { WebhookRow } from '../pg/webhooks.ts';

// A webhook event: the payload every subscribed hook receives, `{ id, event, timestamp, data }`.
// `receivedAt`: when ingest received its cause; only hooks created by then get it.
export type WebhookEventOut = { id: string; event: string; projectId: string; timestamp: string; data: unknown; receivedAt?: string };

export const deliveryIdOf = (eventId: string, webhookId: string) => derivedId('delivery', eventId, webhookId);

// Inserts one pending delivery per (event, subscribed hook), due now. The id is
// derived from (event id, webhook id) and the insert does nothing on conflict,
// so doing it again (a replayed batch) adds nothing. Returns how many were new.
export async function enqueue(db: Queryable, events: WebhookEventOut[], hooks: WebhookRow[]): Promise<number> {
  const rows: Array<[string, string, string, string, string, string]> = [];
  for (const e of events) {
    const body = JSON.stringify({ id: e.id, event: e.event, timestamp: e.timestamp, data: e.data });
    for (const h of hooks) {
      if (h.project_id !== e.projectId || !h.events.includes(e.event)) continue;
      if (e.receivedAt && h.created_at.getTime() > Date.parse(e.receivedAt)) continue;
      rows.push([deliveryIdOf(e.id, h.id), h.id, h.project_id, e.id, e.event, body]);
    }
  }
  if (rows.length === 0) return 0;
  const col = (i: number) => rows.map((r) => r[i]);
  const r = await db.query(
    `INSERT INTO webhook_deliveries (id, webhook_id, project_id, event_id, event, body, status, next_attempt_at)
     SELECT *, 'pending', now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
     ON CONFLICT (id) DO NOTHING`,
    [col(0), col(1), col(2), col(3), col(4), col(5)],
  );
  return r.rowCount ?? 0;
}
