import { clip, type FormattableEvent, type Notice } from './notice.ts';

// PagerDuty Events API v2 (POST https://events.pagerduty.com/v2/enqueue):
// `{ routing_key, event_action, dedup_key, payload: { summary, source,
// severity, … } }`. Limits: summary at most 1,024 characters, dedup_key 255;
// severity one of critical, error, warning, info. A resolve needs only
// routing_key, event_action and dedup_key.
//
// Alerts and their resolution share a dedup_key:
//   threshold.breached  → trigger, threshold.recovered → resolve   key runledger/<hook>/threshold/<metric>
//   run.failed          → trigger, run.completed (passed) on the same branch → resolve   key runledger/<project>/branch/<branch>
// Other events trigger with their own key (severity from the event); a
// cancelled run and a digest are not alerts: nothing is sent for them.
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255 } as const;
const SEVERITY: Record<Notice['severity'], string> = { critical: 'critical', error: 'error', warning: 'warning', info: 'info', ok: 'info' };

type Dict = Record<string, any>;

export function pagerdutyBody(e: FormattableEvent, n: Notice, hook: { id: string; routing_key: string | null }): Record<string, unknown> | null {
  const d = (e.data ?? {}) as Dict;
  const key = (k: string) => clip(`runledger/${k}`, PAGERDUTY_LIMITS.dedupKey);
  let action: 'trigger' | 'resolve' = 'trigger';
  let dedup: string;
  switch (e.event) {
    case 'threshold.breached': dedup = key(`${hook.id}/threshold/${d.metric}`); break;
    case 'threshold.recovered': action = 'resolve'; dedup = key(`${hook.id}/threshold/${d.metric}`); break;
    case 'run.failed': dedup = key(`${e.projectId}/branch/${d.run?.branch ?? d.run?.id}`); break;
    case 'run.completed':
      if (d.run?.status !== 'passed') return null;
      action = 'resolve'; dedup = key(`${e.projectId}/branch/${d.run?.branch ?? d.run?.id}`); break;
    case 'digest.ready': return null;
    default: dedup = key(`${e.projectId}/${e.event}/${e.id}`);
  }
  const base = { routing_key: hook.routing_key ?? '', event_action: action, dedup_key: dedup };
  if (action === 'resolve') return base;
  return {
    ...base,
    payload: {
      summary: clip(`${n.title}: ${n.summary}`, PAGERDUTY_LIMITS.summary),
      source: `runledger/${e.projectId}`,
      severity: SEVERITY[n.severity],
      timestamp: e.timestamp,
      component: e.projectId,
      class: e.event,
      custom_details: { ...Object.fromEntries(n.facts.map((f) => [f.name, f.value])), eventId: e.id, ...(n.list ? { [n.list.heading]: n.list.items.slice(0, 20), total: n.list.total } : {}) },
    },
    client: 'Runledger',
    ...(n.link ? { client_url: n.link.url, links: [{ href: n.link.url, text: n.link.label }] } : {}),
  };
}
