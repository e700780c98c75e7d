import { z } from 'zod';
import { id, isoDate } from './common.ts';
import { Pagination } from './api.ts';
import cron from 'node-cron';

// Webhooks (issue 6, docs/webhooks.md).
export const WEBHOOK_EVENTS = [
  'run.completed', 'run.failed', 'test.quarantined', 'test.unquarantined', 'test.flaky_detected', 'run.regression_detected',
  'digest.ready', 'threshold.breached',
] as const;
export const WebhookEvent = z.enum(WEBHOOK_EVENTS);
// The body a hook receives (docs/webhooks.md, Delivery formats): `json` is
// Runledger's envelope; the others are Slack Block Kit, a Microsoft Teams
// workflow (Adaptive Card), Discord (content + embeds), PagerDuty Events API v2.
export const WEBHOOK_FORMATS = ['json', 'slack', 'teams', 'discord', 'pagerduty'] as const;
export const WebhookFormat = z.enum(WEBHOOK_FORMATS);
export type WebhookFormat = z.infer<typeof WebhookFormat>;
// PagerDuty's integration key (32 characters), sent in every body of a pagerduty hook.
const RoutingKey = z.string().regex(/^[A-Za-z0-9]{32}$/, 'must be a PagerDuty integration key (32 letters and digits)');
export type WebhookEvent = z.infer<typeof WebhookEvent>;

// Headers we set ourselves, or that would break the request, cannot be configured.
const RESERVED = /^(host|content-length|content-type|transfer-encoding|connection|x-runledger-.*)$/i;
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name')
  .refine((h) => !RESERVED.test(h), 'is set by Runledger and cannot be configured');
// RFC 9110 field values as Node sends them: visible ASCII and spaces, no
// control characters (anything else would fail the delivery, not the request).
const HeaderValue = z.string().max(2000).regex(/^[\x20-\x7e]*$/, 'must be visible ASCII without control characters');
const Headers = z.record(HeaderName, HeaderValue)
  .refine((h) => Object.keys(h).length <= 20, 'at most 20 headers');
const Secret = z.string().min(16).max(200).regex(/^[\x21-\x7e]+$/, 'must be visible ASCII');
const Url = z.string().min(1).max(2000);
// threshold.breached: the project's pass rate falling below `passRate`, or its
// flaky rate rising above `flakyRate`, over the last `windowDays` days.
const rate = z.number().min(0).max(1);
export const Thresholds = z.object({ passRate: rate.optional(), flakyRate: rate.optional(), windowDays: z.number().int().min(1).max(90).default(7) })
  .strict().refine((t) => t.passRate !== undefined || t.flakyRate !== undefined, 'set passRate, flakyRate or both');
export type Thresholds = z.infer<typeof Thresholds>;

export const WebhookCreateBody = z.object({
  projectId: id('project'),
  url: Url,
  events: z.array(WebhookEvent).min(1).max(WEBHOOK_EVENTS.length).default([...WEBHOOK_EVENTS]),
  headers: Headers.default({}),
  secret: Secret.optional(),
  isActive: z.boolean().default(true),
  thresholds: Thresholds.nullable().default(null),
  format: WebhookFormat.default('json'),
  // required with format pagerduty
  routingKey: RoutingKey.optional(),
}).strict().refine((b) => b.format !== 'pagerduty' || b.routingKey !== undefined, { message: "format 'pagerduty' needs 'routingKey'", path: ['routingKey'] });

export const WebhookPatchBody = z.object({
  url: Url.optional(),
  events: z.array(WebhookEvent).min(1).max(WEBHOOK_EVENTS.length).optional(),
  headers: Headers.optional(),
  secret: Secret.optional(),
  isActive: z.boolean().optional(),
  thresholds: Thresholds.nullable().optional(),
  format: WebhookFormat.optional(),
  routingKey: RoutingKey.nullable().optional(),
}).strict().refine((b) => Object.keys(b).length > 0, 'at least one field is required');

export const WebhooksQuery = Pagination.extend({ projectId: id('project').optional() });
// pending → delivered | failed (attempts exhausted) | disabled (410 or hook deactivated)
export const DeliveryStatus = z.enum(['pending', 'delivered', 'failed', 'disabled']);
export const DeliveriesQuery = Pagination.extend({ status: DeliveryStatus.optional() });

// ---- webhook responses (domain/pg/webhooks.ts: webhookView, deliveryView)
// Header values are masked (`****`) except in the creation response; the
// secret is in the creation response only.
export const Webhook = z.object({
  id: z.string(), projectId: z.string(), url: z.string(), events: z.array(WebhookEvent), headers: z.record(z.string(), z.string()),
  isActive: z.boolean(), thresholds: Thresholds.nullable(),
  format: WebhookFormat,
  // masked (`****`) except in the creation response; null when not set
  routingKey: z.string().nullable(),
  // why the dispatcher turned the hook off (a 410 from the receiver); cleared when it is turned back on
  disabledReason: z.string().nullable(),
  createdAt: isoDate, updatedAt: isoDate,
});
export const WebhookCreated = Webhook.extend({ secret: z.string() });
export const WebhookDelivery = z.object({
  id: z.string(), webhookId: z.string(), eventId: z.string(),
  // the subscribed events, plus `webhook.test` (POST /api/webhooks/:id/test) and
  // `threshold.recovered` (sent to the hooks of threshold.breached when the project is back within the bound)
  event: z.enum([...WEBHOOK_EVENTS, 'webhook.test', 'threshold.recovered']),
  status: DeliveryStatus, attempts: z.number().int(),
  // of the last attempt
  statusCode: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number().int().nullable(),
  // set while pending
  nextAttemptAt: isoDate.nullable(),
  responseExcerpt: z.string().nullable(), createdAt: isoDate, deliveredAt: isoDate.nullable(),
});

// ---- live runs (GET /api/runs/:id?wait=true, GET /api/runs/:id/stream)
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
export const RunWaitQuery = z.object({
  wait: flag.default(false),
  waitFor: z.enum(['completed']).default('completed'),
  // seconds
  timeout: z.coerce.number().int().min(1).max(300).default(30),
  ignoreQuarantined: flag.default(false),
  position: z.string().optional(),
});
export const RunStreamQuery = z.object({
  token: z.string().max(4000).optional(),
  // seconds between heartbeats (a comment line) when nothing else is sent
  heartbeat: z.coerce.number().int().min(1).max(60).default(15),
  // resume after this test sequence (the Last-Event-ID header wins)
  after: z.coerce.number().int().min(0).optional(),
  position: z.string().optional(),
});

// ---- scheduled digests (/api/schedules)
export const CronExpression = z.string().trim().min(9).max(200).refine((c) => cron.validate(c), 'must be a cron expression (5 fields, or 6 with seconds)');
export const TimeZone = z.string().min(1).max(100).refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone (e.g. Europe/Paris)');
export const ScheduleCreateBody = z.object({
  projectId: id('project'),
  name: z.string().trim().min(1).max(200).default('digest'),
  cron: CronExpression,
  timezone: TimeZone.default('UTC'),
  isActive: z.boolean().default(true),
}).strict();
export const SchedulePatchBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  cron: CronExpression.optional(),
  timezone: TimeZone.optional(),
}).strict().refine((b) => Object.keys(b).length > 0, 'at least one field is required');
export const SchedulesQuery = Pagination.extend({ projectId: id('project').optional() });

// ---- schedule responses (domain/pg/schedules.ts: scheduleView)
export const Schedule = z.object({
  id: z.string(), projectId: z.string(), name: z.string(), cron: z.string(), timezone: z.string(), isActive: z.boolean(),
  // null while paused
  nextRunAt: isoDate.nullable(), lastRunAt: isoDate.nullable(), createdAt: isoDate, updatedAt: isoDate,
});
// POST /api/schedules/:id/trigger: the digest's event id, how many deliveries
// were queued (one per active hook that wants digest.ready), and its period.
export const ScheduleTriggered = z.object({
  eventId: z.string(), deliveries: z.number().int(), period: z.object({ from: isoDate, to: isoDate }),
});
