import { clip, fitList, type Notice } from './notice.ts';

// Slack incoming webhooks: `text` (the notification fallback) plus Block Kit
// `blocks`. Limits (Slack's Block Kit reference): at most 50 blocks, a section's
// text at most 3,000 characters, at most 10 fields of 2,000, a header's
// plain_text at most 150, a button's text 75 and url 3,000.
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, fields: 10, fieldText: 2000, buttonText: 75, url: 3000 } as const;

const ICON: Record<Notice['severity'], string> = { critical: ':rotating_light:', error: ':x:', warning: ':warning:', info: ':information_source:', ok: ':white_check_mark:' };
// Slack mrkdwn: &, < and > are control characters.
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackBody(n: Notice): Record<string, unknown> {
  const L = SLACK_LIMITS;
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: clip(n.title, L.headerText), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`${ICON[n.severity]} ${esc(n.summary)}`, L.sectionText) } },
  ];
  if (n.facts.length) {
    blocks.push({ type: 'section', fields: n.facts.slice(0, L.fields).map((f) => ({ type: 'mrkdwn', text: clip(`*${esc(f.name)}*\n${esc(f.value)}`, L.fieldText) })) });
  }
  if (n.list) {
    const heading = `*${esc(n.list.heading)}*\n`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: heading + fitList(n.list.items.map(esc), n.list.total, 20, L.sectionText - heading.length) } });
  }
  if (n.link && n.link.url.length <= L.url) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: clip(n.link.label, L.buttonText) }, url: n.link.url }] });
  }
  return { text: clip(`${n.title}: ${n.summary}`, L.sectionText), blocks: blocks.slice(0, L.blocks) };
}
