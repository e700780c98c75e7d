import { derivedId } from '../../schemas/ids.ts';
import type { Queryable } from '../../lib/pg.ts';
import type { WebhookRow } from '../pg/webhooks.ts';
import { formatBody, type EventContext } from './formats/index.ts';

// A webhook event: the payload every subscribed hook receives, `{ id, event, timestamp, data }`.
// `receivedAt`: when ingest received its cause; only hooks created by then get it.
// `context`: what the chat and paging formats show beyond `data` (a failed run's first failures).
export type WebhookEventOut = { id: string; event: string; projectId: string; timestamp: string; data: unknown; receivedAt?: string; context?: EventContext };

// threshold.recovered goes to the hooks of threshold.breached: it closes what that opened.
const subscribed = (h: WebhookRow, event: string) => h.events.includes(event === 'threshold.recovered' ? 'threshold.breached' : event);

export const deliveryIdOf = (eventId: string, webhookId: string) => derivedId('delivery', eventId, webhookId);

// Inserts one pending delivery per (event, subscribed hook), due now. The id is
// derived from (event id, webhook id) and the insert does nothing on conflict,
// so doing it again (a replayed batch) adds nothing. Returns how many were new.
// The body is the hook's format of the event (formats/index.ts), stored as
// sent: every attempt signs and sends these very bytes. `linkBase`: the
// dashboard's URL for the links of chat and paging formats.
export async function enqueue(db: Queryable, events: WebhookEventOut[], hooks: WebhookRow[], linkBase: string | null = null): Promise<number> {
  const rows: Array<[string, string, string, string, string, string]> = [];
  for (const e of events) {
    for (const h of hooks) {
      if (h.project_id !== e.projectId || !subscribed(h, e.event)) continue;
      if (e.receivedAt && h.created_at.getTime() > Date.parse(e.receivedAt)) continue;
      const body = formatBody(e, h, linkBase);
      if (body === null) continue; // not announced in this format
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
