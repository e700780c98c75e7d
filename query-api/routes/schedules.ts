import Router from '@koa/router';
import { linkBaseOf } from '../../lib/config.ts';
import type { Context } from 'koa';
import { notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction, type Queryable } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, type Permission, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { ScheduleCreateBody, SchedulePatchBody, SchedulesQuery } from '../../schemas/webhooks.ts';
import { id } from '../../schemas/common.ts';
import { scheduleView, schedules, type ScheduleRow } from '../../domain/pg/schedules.ts';
import { webhooks } from '../../domain/pg/webhooks.ts';
import { projects } from '../../domain/pg/projects.ts';
import { audit } from '../../domain/pg/audit.ts';
import { listBody, requestIdOf } from './support.ts';
import { buildDigest } from '../../domain/analytics/digest.ts';
import { enqueue } from '../../domain/webhooks/deliveries.ts';

// Scheduled digests (docs/webhooks.md#scheduled-digests): a cron expression in
// a time zone; each run sends `digest.ready` to the project's hooks that want
// it. Managing them needs `manage`; reading them `read`. The webhooks
// dispatcher process fires them (projections/webhooks/scheduler.ts).
export function schedulesRouter({ pool, ch, config }: AppDeps): Router {
  const router = new Router();
  const teamOf = async (db: Queryable, projectId: string) => {
    const project = await projects.byId(db, projectId);
    if (!project) throw notFound('project', projectId);
    return project.team_id;
  };
  async function scheduleFor(ctx: Context, permission: Permission): Promise<ScheduleRow> {
    const scheduleId = parse(id('schedule'), ctx.params.id);
    const s = await schedules.byId(pool, scheduleId);
    if (!s) throw notFound('schedule', scheduleId);
    await authorize(pool, principalOf(ctx), s.project_id, permission, { kind: 'schedule', id: scheduleId });
    return s;
  }
  async function change(ctx: Context, action: string, patch: { name?: string; cron?: string; timezone?: string; isActive?: boolean }) {
    const before = await scheduleFor(ctx, 'manage');
    const after = await withTransaction(pool, async (tx) => {
      const s = await schedules.update(tx, before, patch);
      if (!s) throw notFound('schedule', before.id);
      await audit.record(tx, { teamId: await teamOf(tx, s.project_id), projectId: s.project_id, actor: actorOf(principalOf(ctx)), action, target: { type: 'schedule', id: s.id }, before: scheduleView(before), after: scheduleView(s), requestId: requestIdOf(ctx) });
      return s;
    });
    ctx.body = scheduleView(after);
  }

  router.get('/api/schedules', async (ctx) => {
    const q = parse(SchedulesQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    ctx.body = listBody(await schedules.list(pool, { ...q, projectId }), scheduleView, q);
  });

  router.post('/api/schedules', async (ctx) => {
    const body = parse(ScheduleCreateBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, body.projectId, 'manage');
    const row = await withTransaction(pool, async (tx) => {
      const teamId = await teamOf(tx, body.projectId);
      const s = await schedules.insert(tx, { id: newId('schedule'), projectId: body.projectId, name: body.name, cron: body.cron, timezone: body.timezone, isActive: body.isActive, createdBy: principal.kind === 'user' ? principal.userId : null });
      await audit.record(tx, { teamId, projectId: s.project_id, actor: actorOf(principal), action: 'schedule.created', target: { type: 'schedule', id: s.id }, after: scheduleView(s), requestId: requestIdOf(ctx) });
      return s;
    });
    ctx.status = 201;
    ctx.body = scheduleView(row);
  });

  router.get('/api/schedules/:id', async (ctx) => {
    ctx.body = scheduleView(await scheduleFor(ctx, 'read'));
  });

  router.patch('/api/schedules/:id', async (ctx) => {
    const body = parse(SchedulePatchBody, ctx.request.body);
    await change(ctx, 'schedule.updated', body);
  });

  router.post('/api/schedules/:id/pause', (ctx) => change(ctx, 'schedule.paused', { isActive: false }));
  router.post('/api/schedules/:id/resume', (ctx) => change(ctx, 'schedule.resumed', { isActive: true }));

  router.delete('/api/schedules/:id', async (ctx) => {
    const s = await scheduleFor(ctx, 'manage');
    await withTransaction(pool, async (tx) => {
      await schedules.delete(tx, s.id);
      await audit.record(tx, { teamId: await teamOf(tx, s.project_id), projectId: s.project_id, actor: actorOf(principalOf(ctx)), action: 'schedule.deleted', target: { type: 'schedule', id: s.id }, before: scheduleView(s), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'schedule deleted' };
  });

  // A digest now, for the period since the last run; it does not move the
  // schedule. 202: its deliveries are sent by the dispatcher process.
  router.post('/api/schedules/:id/trigger', async (ctx) => {
    const s = await scheduleFor(ctx, 'manage');
    const now = new Date();
    const hooks = (await webhooks.subscribers(pool, [s.project_id])).filter((h) => h.events.includes('digest.ready'));
    const eventId = newId('event');
    const data = await buildDigest(pool, ch, { projectId: s.project_id, scheduleId: s.id, from: s.last_run_at ?? s.created_at, to: now });
    const deliveries = await enqueue(pool, [{ id: eventId, event: 'digest.ready', projectId: s.project_id, timestamp: now.toISOString(), data }], hooks, linkBaseOf(config));
    ctx.status = 202;
    ctx.body = { eventId, deliveries, period: data.period };
  });

  return router;
}
