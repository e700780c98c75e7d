import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction, type Queryable } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, type Permission, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { DeliveriesQuery, WebhookCreateBody, WebhookPatchBody, WebhooksQuery } from '../../schemas/webhooks.ts';
import { id } from '../../schemas/common.ts';
import { deliveryView, webhooks, webhookView, type WebhookRow } from '../../domain/pg/webhooks.ts';
import { projects } from '../../domain/pg/projects.ts';
import { audit } from '../../domain/pg/audit.ts';
import { listBody, requestIdOf } from './support.ts';
import { generateSecret } from '../../domain/webhooks/signature.ts';
import { parseTarget, resolveTarget, TargetRefused } from '../../domain/webhooks/targets.ts';
import { sendOnce } from '../../domain/webhooks/sender.ts';
import { deliveryIdOf } from '../../domain/webhooks/deliveries.ts';
import { formatBody } from '../../domain/webhooks/formats/index.ts';
import { sampleEvent } from '../../domain/webhooks/formats/sample.ts';
import { linkBaseOf } from '../../lib/config.ts';

// Webhooks (docs/webhooks.md): a project's admins (and full keys) manage them;
// readers list them, without secrets (header values masked too). The secret is
// shown once, at creation (generated when not given). Deliveries are made by
// the webhooks dispatcher process, from Postgres.
export function webhooksRouter({ pool, config }: AppDeps): Router {
  const router = new Router();
  const s = config.webhooks;

  // The URL must be allowed now (scheme, and every address it resolves to).
  const checkUrl = async (raw: string) => {
    try {
      const t = parseTarget(raw, s.allowPrivate);
      await resolveTarget(t.url, s.allowPrivate);
      return t;
    } catch (err) {
      if (err instanceof TargetRefused) throw new AppError('validation_error', `'url' ${err.message}`, { field: 'url', reason: err.reason });
      throw err;
    }
  };
  const teamOf = async (db: Queryable, projectId: string) => {
    const project = await projects.byId(db, projectId);
    if (!project) throw notFound('project', projectId);
    return project.team_id;
  };
  async function hookFor(ctx: Context, permission: Permission): Promise<WebhookRow> {
    const hookId = parse(id('webhook'), ctx.params.id);
    const hook = await webhooks.byId(pool, hookId);
    if (!hook) throw notFound('webhook', hookId);
    await authorize(pool, principalOf(ctx), hook.project_id, permission, { kind: 'webhook', id: hookId });
    return hook;
  }

  router.get('/api/webhooks', async (ctx) => {
    const q = parse(WebhooksQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    ctx.body = listBody(await webhooks.list(pool, { ...q, projectId }), webhookView, q);
  });

  router.post('/api/webhooks', async (ctx) => {
    const body = parse(WebhookCreateBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, body.projectId, 'manage');
    const { target } = await checkUrl(body.url);
    const secret = body.secret ?? generateSecret();
    const row = await withTransaction(pool, async (tx) => {
      const teamId = await teamOf(tx, body.projectId);
      const w = await webhooks.insert(tx, {
        id: newId('webhook'), projectId: body.projectId, url: body.url, target, events: body.events, headers: body.headers, secret,
        isActive: body.isActive, thresholds: body.thresholds, createdBy: principal.kind === 'user' ? principal.userId : null,
        format: body.format, routingKey: body.routingKey ?? null,
      });
      await audit.record(tx, { teamId, projectId: w.project_id, actor: actorOf(principal), action: 'webhook.created', target: { type: 'webhook', id: w.id }, after: webhookView(w), requestId: requestIdOf(ctx) });
      return w;
    });
    ctx.status = 201;
    // The only time the secret (and the header values) are shown.
    ctx.body = { ...webhookView(row), headers: row.headers, routingKey: row.routing_key, secret };
  });

  router.get('/api/webhooks/:id', async (ctx) => {
    ctx.body = webhookView(await hookFor(ctx, 'read'));
  });

  router.patch('/api/webhooks/:id', async (ctx) => {
    const body = parse(WebhookPatchBody, ctx.request.body);
    const before = await hookFor(ctx, 'manage');
    if ((body.format ?? before.format) === 'pagerduty' && (body.routingKey === undefined ? before.routing_key : body.routingKey) === null) {
      throw new AppError('validation_error', "format 'pagerduty' needs 'routingKey'", { field: 'routingKey' });
    }
    const target = body.url !== undefined ? (await checkUrl(body.url)).target : undefined;
    const after = await withTransaction(pool, async (tx) => {
      const w = await webhooks.update(tx, before.id, { ...body, target });
      if (!w) throw notFound('webhook', before.id);
      await audit.record(tx, { teamId: await teamOf(tx, w.project_id), projectId: w.project_id, actor: actorOf(principalOf(ctx)), action: 'webhook.updated', target: { type: 'webhook', id: w.id }, before: webhookView(before), after: webhookView(w), requestId: requestIdOf(ctx) });
      return w;
    });
    ctx.body = webhookView(after);
  });

  router.delete('/api/webhooks/:id', async (ctx) => {
    const hook = await hookFor(ctx, 'manage');
    await withTransaction(pool, async (tx) => {
      await webhooks.delete(tx, hook.id);
      await audit.record(tx, { teamId: await teamOf(tx, hook.project_id), projectId: hook.project_id, actor: actorOf(principalOf(ctx)), action: 'webhook.deleted', target: { type: 'webhook', id: hook.id }, before: webhookView(hook), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'webhook deleted' };
  });

  router.get('/api/webhooks/:id/deliveries', async (ctx) => {
    const q = parse(DeliveriesQuery, ctx.query);
    const hook = await hookFor(ctx, 'read');
    ctx.body = listBody(await webhooks.deliveries(pool, { ...q, webhookId: hook.id }), deliveryView, q);
  });

  // Sends a `webhook.test` event now, from the API process, once (no retries),
  // and answers with the delivery as recorded: 200 whatever the receiver said.
  router.post('/api/webhooks/:id/test', async (ctx) => {
    const hook = await hookFor(ctx, 'manage');
    const eventId = newId('event');
    // In the hook's format: a json hook gets a `webhook.test` envelope; the
    // others a sample of what they will receive (a failed run).
    const sample = hook.format === 'json'
      ? { id: eventId, event: 'webhook.test', projectId: hook.project_id, timestamp: new Date().toISOString(), data: { webhookId: hook.id, projectId: hook.project_id, message: 'a test delivery from Runledger' } }
      : sampleEvent(eventId, hook.project_id);
    const body = formatBody(sample, hook, linkBaseOf(config));
    const delivery = { id: deliveryIdOf(eventId, hook.id), event: 'webhook.test', body: body ?? formatBody({ ...sample, event: 'webhook.test' }, hook, linkBaseOf(config))! };
    const r = await sendOnce(hook, delivery, s);
    const delivered = r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;
    const row = (await pool.query(
      `INSERT INTO webhook_deliveries (id, webhook_id, project_id, event_id, event, body, status, attempts, last_status_code, last_error,
         last_duration_ms, response_excerpt, delivered_at)
       VALUES ($1, $2, $3, $4, 'webhook.test', $5, $6, 1, $7, $8, $9, $10, CASE WHEN $6 = 'delivered' THEN now() END) RETURNING *`,
      [delivery.id, hook.id, hook.project_id, eventId, delivery.body, delivered ? 'delivered' : 'failed', r.statusCode, r.error, r.durationMs, r.excerpt],
    )).rows[0];
    ctx.body = deliveryView(row);
  });

  return router;
}
