import { clip, fitList, type Notice } from './notice.ts';

// Discord webhooks (Execute Webhook): `content` plus `embeds`. Limits: content
// at most 2,000 characters, at most 10 embeds, an embed's title 256, description
// 4,096, at most 25 fields (name 256, value 1,024), footer 2,048, and 6,000
// characters across all embeds of a message.
export const DISCORD_LIMITS = { content: 2000, embeds: 10, title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, total: 6000 } as const;

const COLOR: Record<Notice['severity'], number> = { critical: 0xb00020, error: 0xe01e5a, warning: 0xecb22e, info: 0x1d9bd1, ok: 0x2eb67d };

export function discordBody(n: Notice, timestamp: string): Record<string, unknown> {
  const L = DISCORD_LIMITS;
  const title = clip(n.title, L.title);
  const fields = n.facts.slice(0, L.fields).map((f) => ({ name: clip(f.name, L.fieldName), value: clip(f.value || '-', L.fieldValue), inline: true }));
  const used = title.length + fields.reduce((a, f) => a + f.name.length + f.value.length, 0) + 'Runledger'.length;
  // the description gets what the 6,000-character budget leaves
  const room = Math.min(L.description, L.total - used - 100);
  const list = n.list ? `\n\n**${n.list.heading}**\n${fitList(n.list.items, n.list.total, 20, Math.max(0, room - n.summary.length - n.list.heading.length - 10))}` : '';
  const embed: Record<string, unknown> = {
    title, description: clip(`${n.summary}${list}`, room), color: COLOR[n.severity], fields, footer: { text: 'Runledger' }, timestamp,
    ...(n.link ? { url: n.link.url } : {}),
  };
  return { content: clip(`${n.title}${n.link ? ` — ${n.link.url}` : ''}`, L.content), embeds: [embed], allowed_mentions: { parse: [] } };
}
