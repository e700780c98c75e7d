import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// What Slack, Microsoft Teams, Discord and PagerDuty require of a webhook body,
// restated from their documentation (docs/webhooks.md, Delivery formats), and
// loopback receivers that answer like them: 4xx with the reasons for a body
// they would refuse. Used by test/unit/webhook-formats.test.ts (every event,
// oversized inputs) and test/integration/webhook-formats.test.ts (real deliveries).

type Dict = Record<string, any>;
const len = (s: unknown) => (typeof s === 'string' ? [...s].length : 0);
const str = (s: unknown) => typeof s === 'string' && s.length > 0;

export function slackProblems(b: Dict): string[] {
  const p: string[] = [];
  if (!str(b.text) && !Array.isArray(b.blocks)) p.push('text or blocks is required');
  if (len(b.text) > 40_000) p.push('text over 40,000');
  const blocks = (b.blocks ?? []) as Dict[];
  if (blocks.length > 50) p.push(`${blocks.length} blocks (max 50)`);
  for (const [i, bl] of blocks.entries()) {
    if (!['header', 'section', 'actions', 'context', 'divider'].includes(bl.type)) p.push(`block ${i}: unknown type ${bl.type}`);
    if (bl.type === 'header' && (bl.text?.type !== 'plain_text' || !str(bl.text.text) || len(bl.text.text) > 150)) p.push(`block ${i}: header text must be plain_text of 1-150`);
    if (bl.type === 'section') {
      if (!bl.text && !bl.fields) p.push(`block ${i}: section needs text or fields`);
      if (bl.text && (!str(bl.text.text) || len(bl.text.text) > 3000)) p.push(`block ${i}: section text of ${len(bl.text.text)} (1-3,000)`);
      if (bl.fields && (bl.fields.length > 10 || bl.fields.some((f: Dict) => !str(f.text) || len(f.text) > 2000))) p.push(`block ${i}: fields (max 10 of 2,000)`);
    }
    if (bl.type === 'actions') {
      if (!Array.isArray(bl.elements) || bl.elements.length > 25) p.push(`block ${i}: actions elements`);
      for (const el of bl.elements ?? []) {
        if (el.type === 'button' && (!str(el.text?.text) || len(el.text.text) > 75 || len(el.url) > 3000 || !/^https?:\/\//.test(el.url ?? ''))) p.push(`block ${i}: button`);
      }
    }
  }
  return p;
}

export function teamsProblems(b: Dict): string[] {
  const p: string[] = [];
  if (b.type !== 'message') p.push("type must be 'message'");
  if (!Array.isArray(b.attachments) || b.attachments.length === 0) return [...p, 'attachments required'];
  if (JSON.stringify(b).length > 28_000) p.push('message over 28 KB');
  for (const a of b.attachments as Dict[]) {
    if (a.contentType !== 'application/vnd.microsoft.card.adaptive') p.push(`contentType ${a.contentType}`);
    const c = a.content ?? {};
    if (c.type !== 'AdaptiveCard' || !/^1\.[0-6]$/.test(c.version ?? '')) p.push('content must be an AdaptiveCard with a version 1.0-1.6');
    if (!Array.isArray(c.body)) p.push('card body required');
    for (const el of c.body ?? []) {
      if (el.type === 'TextBlock' && !str(el.text)) p.push('TextBlock without text');
      else if (el.type === 'FactSet' && !(el.facts ?? []).every((f: Dict) => typeof f.title === 'string' && typeof f.value === 'string')) p.push('FactSet facts need title and value');
      else if (!['TextBlock', 'FactSet'].includes(el.type)) p.push(`unknown element ${el.type}`);
    }
    for (const act of c.actions ?? []) if (act.type !== 'Action.OpenUrl' || !/^https?:\/\//.test(act.url ?? '')) p.push('actions must be Action.OpenUrl with a url');
  }
  return p;
}

export function discordProblems(b: Dict): string[] {
  const p: string[] = [];
  const embeds = (b.embeds ?? []) as Dict[];
  if (!str(b.content) && embeds.length === 0) p.push('content or embeds required');
  if (len(b.content) > 2000) p.push(`content of ${len(b.content)} (max 2,000)`);
  if (embeds.length > 10) p.push(`${embeds.length} embeds (max 10)`);
  let total = 0;
  for (const [i, e] of embeds.entries()) {
    if (len(e.title) > 256) p.push(`embed ${i}: title over 256`);
    if (len(e.description) > 4096) p.push(`embed ${i}: description over 4,096`);
    const fields = (e.fields ?? []) as Dict[];
    if (fields.length > 25) p.push(`embed ${i}: ${fields.length} fields (max 25)`);
    for (const f of fields) if (!str(f.name) || !str(f.value) || len(f.name) > 256 || len(f.value) > 1024) p.push(`embed ${i}: field name 1-256, value 1-1,024`);
    if (len(e.footer?.text) > 2048) p.push(`embed ${i}: footer over 2,048`);
    if (e.color !== undefined && (!Number.isInteger(e.color) || e.color < 0 || e.color > 0xffffff)) p.push(`embed ${i}: color`);
    total += len(e.title) + len(e.description) + len(e.footer?.text) + len(e.author?.name) + fields.reduce((a, f) => a + len(f.name) + len(f.value), 0);
  }
  if (total > 6000) p.push(`embeds hold ${total} characters (max 6,000)`);
  return p;
}

export function pagerdutyProblems(b: Dict): string[] {
  const p: string[] = [];
  if (!str(b.routing_key) || len(b.routing_key) !== 32) p.push('routing_key must be a 32-character integration key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(b.event_action)) p.push(`event_action ${b.event_action}`);
  if (b.dedup_key !== undefined && (!str(b.dedup_key) || len(b.dedup_key) > 255)) p.push('dedup_key of 1-255');
  if (b.event_action !== 'trigger' && !str(b.dedup_key)) p.push(`${b.event_action} needs dedup_key`);
  if (b.event_action === 'trigger') {
    const pl = b.payload ?? {};
    if (!str(pl.summary) || len(pl.summary) > 1024) p.push(`payload.summary of ${len(pl.summary)} (1-1,024)`);
    if (!str(pl.source)) p.push('payload.source required');
    if (!['critical', 'error', 'warning', 'info'].includes(pl.severity)) p.push(`payload.severity ${pl.severity}`);
  }
  return p;
}

export const PROBLEMS = { slack: slackProblems, teams: teamsProblems, discord: discordProblems, pagerduty: pagerdutyProblems } as const;
export type ChatFormat = keyof typeof PROBLEMS;

export type FormatReceiver = { url: string; got: Array<{ headers: IncomingMessage['headers']; body: Dict; problems: string[] }>; close(): Promise<void> };

// A loopback receiver for one format: 400 with the problems, else the service's success status.
export async function formatReceiver(format: ChatFormat): Promise<FormatReceiver> {
  const got: FormatReceiver['got'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      let body: Dict = {};
      let problems: string[];
      try {
        body = JSON.parse(raw);
        problems = PROBLEMS[format](body);
      } catch {
        problems = ['not JSON'];
      }
      if (req.headers['content-type'] !== 'application/json') problems.push(`content-type ${req.headers['content-type']}`);
      got.push({ headers: req.headers, body, problems });
      if (problems.length) return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ problems }));
      if (format === 'pagerduty') return void res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success","message":"Event processed"}');
      res.writeHead(format === 'discord' ? 204 : 200).end(format === 'slack' ? 'ok' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${format}`,
    got,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
