import { clip, fitList, type Notice } from './notice.ts';

// Microsoft Teams workflow webhooks ("Post to a channel when a webhook request
// is received"): `{ type: "message", attachments: [{ contentType:
// "application/vnd.microsoft.card.adaptive", content: <Adaptive Card> }] }`.
// The card is schema version 1.4 (what Teams renders), with TextBlocks, a
// FactSet and an Action.OpenUrl. Teams refuses messages over about 28 KB; the
// list is kept short so a card stays far below.
export const TEAMS_LIMITS = { listItems: 20, listChars: 3000, text: 1000 } as const;
const COLOR: Record<Notice['severity'], string> = { critical: 'Attention', error: 'Attention', warning: 'Warning', info: 'Accent', ok: 'Good' };

export function teamsBody(n: Notice): Record<string, unknown> {
  const body: Array<Record<string, unknown>> = [
    { type: 'TextBlock', text: clip(n.title, TEAMS_LIMITS.text), weight: 'Bolder', size: 'Medium', color: COLOR[n.severity], wrap: true },
    { type: 'TextBlock', text: clip(n.summary, TEAMS_LIMITS.text), wrap: true },
  ];
  if (n.facts.length) body.push({ type: 'FactSet', facts: n.facts.map((f) => ({ title: clip(f.name, 100), value: clip(f.value, 500) })) });
  if (n.list) {
    body.push({ type: 'TextBlock', text: n.list.heading, weight: 'Bolder', wrap: true });
    // Adaptive Card markdown: a list needs "- " items separated by \r or \n
    body.push({ type: 'TextBlock', text: fitList(n.list.items, n.list.total, TEAMS_LIMITS.listItems, TEAMS_LIMITS.listChars, (s) => `- ${s}`), wrap: true });
  }
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body,
    ...(n.link ? { actions: [{ type: 'Action.OpenUrl', title: n.link.label, url: n.link.url }] } : {}),
  };
  return { type: 'message', summary: clip(n.title, 200), attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] };
}
