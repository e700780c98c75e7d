import { WEBHOOK_FORMATS, type WebhookFormat } from '../../../schemas/webhooks.ts';
import { noticeOf, type FormattableEvent } from './notice.ts';
import { slackBody } from './slack.ts';
import { teamsBody } from './teams.ts';
import { discordBody } from './discord.ts';
import { pagerdutyBody } from './pagerduty.ts';

export { WEBHOOK_FORMATS, type WebhookFormat };
export type { FormattableEvent, EventContext, Failure } from './notice.ts';

// The body a hook receives for a webhook event, in its format: `json` is the
// envelope `{ id, event, timestamp, data }` (unchanged by formats); the others
// are the service's own shape. null: the format does not announce this event
// (pagerduty: a cancelled run, a digest), so no delivery is made.
export function formatBody(e: FormattableEvent, hook: { id: string; format: WebhookFormat | string; routing_key: string | null }, linkBase: string | null): string | null {
  if (hook.format === 'json' || !hook.format) return JSON.stringify({ id: e.id, event: e.event, timestamp: e.timestamp, data: e.data });
  const n = noticeOf(e, linkBase);
  switch (hook.format) {
    case 'slack': return JSON.stringify(slackBody(n));
    case 'teams': return JSON.stringify(teamsBody(n));
    case 'discord': return JSON.stringify(discordBody(n, e.timestamp));
    case 'pagerduty': {
      const b = pagerdutyBody(e, n, hook);
      return b ? JSON.stringify(b) : null;
    }
    default: throw new Error(`unknown webhook format ${hook.format}`);
  }
}
